"""One signed POST to an endpoint, safe to point at the internet.

Before connecting, the host is resolved and every address it resolves to is checked: loopback, private,
link-local (the cloud metadata service at 169.254.169.254), multicast, reserved, unspecified, shared
(CGNAT, 100.64.0.0/10) and other non-global addresses, also when wrapped in IPv6 (IPv4-mapped, 6to4,
NAT64), are refused unless an operator allows their network (WEBHOOKS_OUT_ALLOWED_NETWORKS). The request
then goes to the address that was checked (TLS still verifies the host's name and sends it as SNI), so a
second DNS answer (DNS rebinding) cannot swap in another one. Redirects are not followed (a 3xx is a
failure), the response is read up to a small limit, and nothing here raises: every outcome is a PostResult.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import ipaddress
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import urllib3
from django.conf import settings
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

EXCERPT_CHARS = 1000
ERROR_CHARS = 200
# Retry-After is honoured up to a day: an endpoint cannot park its deliveries beyond the schedule's end.
RETRY_AFTER_MAX_SECONDS = 24 * 3600
USER_AGENT = "Verity-Webhooks/1"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True, slots=True)
class PostResult:
    """What one POST came to: an HTTP status, or an error without one."""

    status_code: int | None
    error: str
    latency_ms: int
    excerpt: str = ""
    # Seconds the endpoint asked us to wait (Retry-After on a 429 or 503), else None.
    retry_after: float | None = None
    # The response's headers, names in lower case (a verifier's answer carries its signature in them).
    headers: dict[str, str] = field(default_factory=dict)
    # The response's body as read (up to WEBHOOKS_OUT_RESPONSE_READ_BYTES; `truncated` if there was more).
    body: bytes = b""
    truncated: bool = False

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class AddressRefused(Exception):
    """The endpoint's host resolves to an address it may not be sent to."""


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_refusal(address: IPAddress) -> str | None:
    """Why `address` may not be sent to (a short word), or None when it is a public address."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        reason = address_refusal(embedded)
        return f"{reason}, in IPv6" if reason else None
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local or metadata", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("shared (CGNAT)", address in SHARED_ADDRESS_SPACE),
        ("reserved", address.is_reserved),
        ("not global", not address.is_global),
    )
    return next((reason for reason, refused in checks if refused), None)


@functools.cache
def _networks(allowed: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(network, strict=False) for network in allowed)


def address_allowed_by_operator(address: IPAddress) -> bool:
    networks = _networks(tuple(settings.WEBHOOKS_OUT_ALLOWED_NETWORKS))
    candidates = [address, *filter(None, [_embedded_ipv4(address)])]
    return any(
        candidate in network
        for candidate in candidates
        for network in networks
        if candidate.version == network.version
    )


def host_resolve(host: str, port: int) -> str:
    """The address to connect to for `host`: the first it resolves to, once every one is checked.

    Raises AddressRefused if any address is refused (a name with one public and one private address is
    refused: which one a later lookup would use is not ours to choose), or if the name does not resolve.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise AddressRefused(f"could not resolve {host}: {error}") from error
    addresses: list[IPAddress] = []
    for info in infos:
        # Strip an IPv6 scope ("fe80::1%eth0") before parsing.
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise AddressRefused(f"could not resolve {host}")
    for address in addresses:
        reason = address_refusal(address)
        if reason and not address_allowed_by_operator(address):
            named = host if _is_literal(host, address) else f"{host} resolves to {address}"
            raise AddressRefused(f"address not allowed: {named} ({reason})")
    return str(addresses[0])


def _is_literal(host: str, address: IPAddress) -> bool:
    try:
        return ipaddress.ip_address(host) == address
    except ValueError:
        return False


# Connection pools by (scheme, address, port, host name): kept so successive deliveries to one endpoint
# reuse a connection. Bounded: the least recently used is closed beyond POOLS_KEPT.
POOLS_KEPT = 64
# Connections kept per address: as many as the dispatcher's POSTs at once (notifications.dispatch.POST_THREADS).
POOL_CONNECTIONS = 8
_pools: OrderedDict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = OrderedDict()
_pools_lock = threading.Lock()


def _pool(scheme: str, address: str, port: int, host: str) -> urllib3.HTTPConnectionPool:
    key = (scheme, address, port, host)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is not None:
            _pools.move_to_end(key)
            return pool
        timeout = urllib3.Timeout(
            connect=settings.WEBHOOKS_OUT_CONNECT_TIMEOUT,
            read=settings.WEBHOOKS_OUT_READ_TIMEOUT,
            total=settings.WEBHOOKS_OUT_CONNECT_TIMEOUT + settings.WEBHOOKS_OUT_READ_TIMEOUT,
        )
        if scheme == "https":
            # Connected to the checked address; the certificate is still verified for the host's name.
            pool = urllib3.HTTPSConnectionPool(
                address,
                port,
                timeout=timeout,
                retries=False,
                maxsize=POOL_CONNECTIONS,
                cert_reqs="CERT_REQUIRED",
                assert_hostname=host,
                server_hostname=host,
            )
        else:
            pool = urllib3.HTTPConnectionPool(
                address, port, timeout=timeout, retries=False, maxsize=POOL_CONNECTIONS
            )
        _pools[key] = pool
        while len(_pools) > POOLS_KEPT:
            _pools.popitem(last=False)[1].close()
        return pool


def pools_clear() -> None:
    """Close every kept connection (tests that change timeouts; a settings reload)."""
    with _pools_lock:
        while _pools:
            _pools.popitem()[1].close()


def retry_after_seconds(value: str | None, *, now: dt.datetime) -> float | None:
    """Retry-After as seconds from `now`: delta-seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), float(RETRY_AFTER_MAX_SECONDS))


def _failure(error: str, started: float) -> PostResult:
    return PostResult(status_code=None, error=error[:ERROR_CHARS], latency_ms=_elapsed_ms(started))


def _elapsed_ms(started: float) -> int:
    return max(0, round((time.perf_counter() - started) * 1000))


def webhook_post(
    *, url: str, body: bytes, headers: dict[str, str], now: dt.datetime, timeout: float | None = None
) -> PostResult:
    """POST `body` to `url` with `headers`; never raises, never follows a redirect. `timeout`: seconds for
    the whole request, instead of the outbound webhooks' own connect and read timeouts."""
    started = time.perf_counter()
    try:
        parsed = parse_url(url)
    except LocationParseError:
        return _failure("invalid URL", started)
    scheme = (parsed.scheme or "").lower()
    if scheme not in ("http", "https") or not parsed.host:
        return _failure("invalid URL: http or https with a host is required", started)
    if scheme == "http" and settings.WEBHOOKS_OUT_REQUIRE_HTTPS:
        return _failure("HTTPS required: the endpoint's URL is plain http", started)
    host = parsed.host.strip("[]")
    port = parsed.port or (443 if scheme == "https" else 80)
    try:
        address = host_resolve(host, port)
    except AddressRefused as refused:
        return _failure(str(refused), started)
    host_header = (parsed.netloc or host).rpartition("@")[2]
    request_headers = {
        **headers,
        "Host": host_header,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    pool = _pool(scheme, address, port, host)
    try:
        response = pool.urlopen(
            "POST",
            parsed.request_uri,
            body=body,
            headers=request_headers,
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
            # The pool's own timeouts unless the caller sets one for the whole request.
            timeout=pool.timeout if timeout is None else urllib3.Timeout(total=timeout),
        )
    except Urllib3Error as error:
        return _failure(_describe(error), started)
    try:
        limit = settings.WEBHOOKS_OUT_RESPONSE_READ_BYTES
        content = response.read(limit + 1, decode_content=False)
    except Urllib3Error as read_error:
        response.close()
        response.release_conn()
        return _failure(f"reading the response: {_describe(read_error)}", started)
    if len(content) > limit:
        # The rest is not read: drop the connection rather than return it to the pool half read.
        response.close()
    response.release_conn()
    status = response.status
    retry_after = (
        retry_after_seconds(response.headers.get("Retry-After"), now=now) if status in (429, 503) else None
    )
    redirect = (
        f"redirect not followed (to {response.headers.get('Location', '?')})" if 300 <= status < 400 else ""
    )
    return PostResult(
        status_code=status,
        error=redirect[:ERROR_CHARS],
        latency_ms=_elapsed_ms(started),
        excerpt=content[:limit].decode("utf-8", "replace")[:EXCERPT_CHARS],
        retry_after=retry_after,
        headers={name.lower(): value for name, value in response.headers.items()},
        body=content[:limit],
        truncated=len(content) > limit,
    )


def _describe(error: Exception) -> str:
    """A short, secret-free account of a transport error for the delivery log."""
    reason = getattr(error, "reason", None) or error
    name = type(reason).__name__
    if "Timeout" in name or isinstance(reason, TimeoutError | socket.timeout):
        return f"timed out ({name})"
    if "ProtocolError" in type(error).__name__ or "RemoteDisconnected" in str(error):
        return "connection closed without an answer"
    if isinstance(reason, ConnectionRefusedError) or "Connection refused" in str(reason):
        return "connection refused"
    if "SSL" in name or "SSL" in str(reason):
        return f"TLS error: {reason}"
    return f"{name}: {reason}"

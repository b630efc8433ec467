"""Who sent a request, by network address: the sender behind our trusted proxies, and sets of networks
(CIDRs) an address is looked up in, such as an operator's list of anonymising networks.

The sender is REMOTE_ADDR unless the operator says how many proxies of its own stand in front of the
application (`hops`): each appends the address it received from to X-Forwarded-For, so the sender is the
`hops`-th entry from the right. Entries further left were written by the client and prove nothing; with
no trusted proxy the header is ignored entirely (anyone can send one).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping
from functools import lru_cache

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(text: str) -> str | None:
    """The address written canonically (an IPv4 address mapped into IPv6 by a dual-stack socket as
    itself), or None when `text` is not an address."""
    try:
        ip = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return str(mapped or ip)


def sender_address(meta: Mapping[str, str], *, hops: int) -> str | None:
    """The address the request came from, trusting `hops` proxies of ours (0: REMOTE_ADDR, the peer).

    With fewer X-Forwarded-For entries than trusted hops, the request did not pass through every proxy:
    the peer's own address is the sender. None when the address is not one (it is then not recorded).
    """
    if hops > 0:
        forwarded = [entry for entry in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if entry.strip()]
        if len(forwarded) >= hops:
            return _address(forwarded[-hops])
    return _address(meta.get("REMOTE_ADDR", ""))


class NetworkSet:
    """Networks an address is looked up in: one set of network numbers per prefix length, so a lookup
    costs one mask per distinct prefix length, whatever the number of networks (a Tor exit list holds
    thousands of /32s)."""

    def __init__(self, cidrs: Iterable[str]) -> None:
        self._by_prefix: dict[tuple[int, int], set[int]] = {}
        for cidr in cidrs:
            network = ipaddress.ip_network(cidr.strip(), strict=False)
            key = (network.version, network.prefixlen)
            self._by_prefix.setdefault(key, set()).add(int(network.network_address))

    def __bool__(self) -> bool:
        return bool(self._by_prefix)

    def __contains__(self, address: str | IPAddress) -> bool:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        number, width = int(ip), ip.max_prefixlen
        for (version, prefixlen), networks in self._by_prefix.items():
            if version == ip.version and number >> (width - prefixlen) << (width - prefixlen) in networks:
                return True
        return False


def read_cidrs(text: str) -> list[str]:
    """CIDRs (or bare addresses), one a line; `#` starts a comment, blank lines are skipped."""
    return [line for raw in text.splitlines() if (line := raw.split("#", 1)[0].strip())]


@lru_cache(maxsize=4)
def _networks_file(path: str, mtime_ns: int) -> NetworkSet:
    with open(path, encoding="utf-8") as listing:
        return NetworkSet(read_cidrs(listing.read()))


def networks_file(path: str) -> NetworkSet:
    """The networks listed in the file at `path` (empty for no path), read again whenever it changes, so an
    operator's cron job replacing the file takes effect without a restart."""
    if not path:
        return NetworkSet(())
    return _networks_file(path, os.stat(path).st_mtime_ns)

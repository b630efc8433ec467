"""Signed webhook delivery (Stripe-Signature: t=..,v1=HMAC-SHA256("{t}.{payload}")) with hold, replay and reorder.

Hand-written because the point is to control delivery (pause, duplicate, reverse) for tests; the signature
itself is the stdlib's hmac, computed independently of the stripe SDK that verifies it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from .objects import new_id

JSON = dict[str, Any]


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The Stripe-Signature header value for `payload`."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class Endpoint:
    """One webhook endpoint of an account: its url, whsec_ secret and subscriptions. `connect=True` is a platform's
    Connect endpoint, which receives the events of the accounts connected to it
    (https://docs.stripe.com/connect/webhooks)."""

    def __init__(self, owner: Any, connect: bool) -> None:
        self.id = new_id("we_")
        self.owner = owner  # the Account (accounts.py)
        self.connect = connect
        self.url: str | None = None
        self.secret: str | None = None
        self.enabled_events: list[str] = ["*"]
        self.paused = False
        self.timeout = 5.0
        self.held: list[str] = []

    def wants(self, event_type: str) -> bool:
        return self.url is not None and ("*" in self.enabled_events or event_type in self.enabled_events)

    def describe(self) -> JSON:
        return {
            "id": self.id,
            "account": self.owner.id,
            "connect": self.connect,
            "url": self.url,
            "secret": self.secret,
            "enabled_events": list(self.enabled_events),
            "paused": self.paused,
            "timeout": self.timeout,
            "held": list(self.held),
        }


class WebhookDispatcher:
    """Every account's endpoints (one account endpoint and one Connect endpoint each); events go out on a background
    thread in emission order, each endpoint signing with its own secret.

    While an endpoint is `paused`, its events are held; `release()` sends them in the order asked for. `deliver()`
    (re)sends any stored event synchronously, which is how tests produce duplicates and out-of-order delivery.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._queue: queue.Queue[tuple[Endpoint, str] | None] = queue.Queue()
        self._inflight = 0
        self._thread: threading.Thread | None = None
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.endpoints: dict[tuple[int, bool], Endpoint] = {}  # (id(owner), connect) -> endpoint
            self.payloads: dict[str, bytes] = {}  # event id -> the JSON sent, frozen at emission
            self.types: dict[str, str] = {}
            self.routes: dict[str, tuple[Any, Any]] = {}  # event id -> (its account, that account's platform)
            self.deliveries: list[JSON] = []

    def endpoint(self, owner: Any, connect: bool, *, create: bool = False) -> Endpoint | None:
        key = (id(owner), connect)
        if key not in self.endpoints and create:
            self.endpoints[key] = Endpoint(owner, connect)
        return self.endpoints.get(key)

    def configure(
        self,
        owner: Any,
        *,
        connect: bool = False,
        url: str | None,
        secret: str | None,
        enabled_events: list[str] | None = None,
        paused: bool | None = None,
        timeout: float | None = None,
    ) -> JSON:
        """Set (or with `url=None` remove) the account's endpoint, or its Connect endpoint."""
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("url must be an http(s) URL")
        if url is not None and not (secret or "").startswith("whsec_"):
            raise ValueError("secret must be a whsec_... signing secret")
        with self._lock:
            if url is None:
                self.endpoints.pop((id(owner), connect), None)
                return self._describe(owner, connect)
            endpoint = self.endpoint(owner, connect, create=True)
            assert endpoint is not None
            endpoint.url, endpoint.secret = url, secret
            if enabled_events is not None:
                endpoint.enabled_events = list(enabled_events)
            if paused is not None:
                endpoint.paused = paused
            if timeout is not None:
                endpoint.timeout = float(timeout)
            return endpoint.describe()

    def describe(self, owner: Any, connect: bool = False) -> JSON:
        with self._lock:
            return self._describe(owner, connect)

    def _describe(self, owner: Any, connect: bool) -> JSON:
        endpoint = self.endpoint(owner, connect)
        return (endpoint or Endpoint(owner, connect)).describe() | ({} if endpoint else {"id": None})

    def describe_all(self) -> list[JSON]:
        with self._lock:
            return [endpoint.describe() for endpoint in self.endpoints.values()]

    def submit(self, event: JSON, owner: Any, platform: Any) -> int:
        """Store the event's payload; queue (or hold) it for each subscribed endpoint: its account's, and its
        platform's Connect endpoint. Returns how many endpoints will receive it (`pending_webhooks`)."""
        with self._lock:
            targets = [
                self.endpoint(owner, False),
                self.endpoint(platform, True) if platform is not None else None,
            ]
            wanted = [
                endpoint for endpoint in targets if endpoint is not None and endpoint.wants(event["type"])
            ]
            event["pending_webhooks"] = len(wanted)
            self.payloads[event["id"]] = json.dumps(event, indent=2).encode()
            self.types[event["id"]] = event["type"]
            self.routes[event["id"]] = (owner, platform)
            for endpoint in wanted:
                if endpoint.paused:
                    endpoint.held.append(event["id"])
                else:
                    self._inflight += 1
                    self._queue.put((endpoint, event["id"]))
        return len(wanted)

    def deliver(
        self,
        event_id: str,
        *,
        times: int = 1,
        secret: str | None = None,
        timestamp: int | None = None,
        connect: bool = False,
    ) -> list[JSON]:
        """Send a stored event now, `times` times, to its account's endpoint (`connect`: its platform's Connect
        endpoint), optionally signed with another secret or timestamp."""
        with self._lock:
            if event_id not in self.payloads:
                raise KeyError(event_id)
            owner, platform = self.routes[event_id]
            endpoint = self.endpoint(platform, True) if connect and platform is not None else None
            if not connect:
                endpoint = self.endpoint(owner, False)
        return [self._post(endpoint, event_id, secret=secret, timestamp=timestamp) for _ in range(times)]

    def release(self, owner: Any, connect: bool = False, order: str | list[str] = "fifo") -> list[JSON]:
        """Send an endpoint's held events synchronously: "fifo", "reverse", or an explicit list of held event ids."""
        with self._lock:
            endpoint = self.endpoint(owner, connect)
            if endpoint is None:
                return []
            held, endpoint.paused = list(endpoint.held), False
            if order == "fifo":
                chosen = held
            elif order == "reverse":
                chosen = held[::-1]
            elif isinstance(order, list):
                unknown = [event_id for event_id in order if event_id not in held]
                if unknown:
                    raise KeyError(", ".join(unknown))
                chosen = list(order) + [event_id for event_id in held if event_id not in order]
            else:
                raise ValueError('order must be "fifo", "reverse" or a list of held event ids')
            endpoint.held = []
        return [self._post(endpoint, event_id) for event_id in chosen]

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event has been attempted; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._inflight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="stripe-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                self._post(job[0], job[1])
            finally:
                with self._idle:
                    self._inflight -= 1
                    self._idle.notify_all()

    def _post(
        self,
        endpoint: Endpoint | None,
        event_id: str,
        *,
        secret: str | None = None,
        timestamp: int | None = None,
    ) -> JSON:
        with self._lock:
            url = endpoint.url if endpoint is not None else None
            signing_secret = secret or (endpoint.secret if endpoint is not None else None)
            timeout = endpoint.timeout if endpoint is not None else 5.0
            payload, event_type = self.payloads.get(event_id), self.types.get(event_id)
            attempt = 1 + sum(1 for delivery in self.deliveries if delivery["event_id"] == event_id)
        record: JSON = {
            "event_id": event_id,
            "type": event_type,
            "url": url,
            "endpoint": endpoint.id if endpoint is not None else None,
            "account": endpoint.owner.id if endpoint is not None else None,
            "connect": endpoint.connect if endpoint is not None else False,
            "attempt": attempt,
            "status": None,
            "error": None,
            "at": time.time(),
        }
        if payload is None:
            record["error"] = "event no longer stored (server reset)"
        elif url is None or signing_secret is None:
            record["error"] = "no webhook endpoint configured"
        else:
            stamp = int(time.time()) if timestamp is None else timestamp
            request = urllib.request.Request(  # noqa: S310 - url is validated as http(s) in configure()
                url,
                data=payload,
                method="POST",
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                    "Stripe-Signature": sign(payload, signing_secret, stamp),
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - see above
                    record["status"] = response.status
            except urllib.error.HTTPError as exc:
                record["status"] = exc.code
            except OSError as exc:  # refused, reset, timed out
                record["error"] = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self.deliveries.append(record)
        return record

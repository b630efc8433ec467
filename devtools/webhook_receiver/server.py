"""The receiver itself: a ThreadingHTTPServer whose handler verifies each POST with `standardwebhooks`
(any of the configured secrets), records it, and answers 200 with a short JSON body, or fails as told.

Failures on demand, for the next N requests: a 500; a timeout (sleeps past the sender's read timeout,
then answers 200 to a sender that has gone); the connection closed without an answer; a 429 with
Retry-After; a 307 redirect. GET /log answers what was received (newest last) as JSON.
"""

from __future__ import annotations

import enum
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

logger = logging.getLogger("devtools.webhook_receiver")

LOG_KEPT = 1000


class Failure(enum.Enum):
    ERROR = "500"
    TIMEOUT = "timeout"
    CLOSE = "close"
    TOO_MANY = "429"
    REDIRECT = "redirect"


@dataclass(frozen=True, slots=True)
class Received:
    """One POST as the receiver saw it."""

    webhook_id: str
    type: str
    verified: bool
    answered: str  # "200", "400" (bad signature), or the failure it was told to make
    body: bytes
    headers: dict[str, str]
    path: str
    at: float

    @property
    def payload(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class _Plan:
    failure: Failure
    count: int
    retry_after: str = "1"
    sleep: float = 2.0


@dataclass
class Receiver:
    """The receiver's state, shared by its handler threads (every access under `lock`)."""

    secrets: list[str]
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    plans: list[_Plan] = field(default_factory=list)
    url: str = ""
    server: ThreadingHTTPServer | None = None
    # The body of a 200 (tests of how much of an answer the sender keeps set a long one).
    ok_body: dict[str, Any] = field(default_factory=lambda: {"ok": True})

    # --- what tests tell it ---------------------------------------------------------------------------
    def fail_next(self, count: int, failure: Failure, *, retry_after: str = "1", sleep: float = 2.0) -> None:
        """Make the next `count` POSTs fail this way (after any failures already planned)."""
        with self.lock:
            self.plans.append(_Plan(failure, count, retry_after, sleep))

    def reset(self, *, secrets: list[str] | None = None) -> None:
        with self.lock:
            self.received.clear()
            self.plans.clear()
            self.ok_body = {"ok": True}
            if secrets is not None:
                self.secrets = list(secrets)

    # --- what tests read -------------------------------------------------------------------------------
    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def delivered(self) -> list[Received]:
        """The POSTs that were verified and answered 200."""
        return [item for item in self.snapshot() if item.verified and item.answered == "200"]

    def counts_by_webhook_id(self) -> Counter[str]:
        return Counter(item.webhook_id for item in self.delivered())

    def counts_by_type(self) -> Counter[str]:
        return Counter(item.type for item in self.delivered())

    # --- the handler's side ----------------------------------------------------------------------------
    def _verify(self, body: bytes, headers: dict[str, str]) -> bool:
        with self.lock:
            secrets = list(self.secrets)
        for secret in secrets:
            try:
                Webhook(secret).verify(body, headers, json_parse=False)
            except WebhookVerificationError:
                continue
            return True
        return False

    def _next_failure(self) -> _Plan | None:
        with self.lock:
            while self.plans and self.plans[0].count <= 0:
                self.plans.pop(0)
            if not self.plans:
                return None
            self.plans[0].count -= 1
            return self.plans[0]

    def _record(self, item: Received) -> None:
        with self.lock:
            self.received.append(item)
            del self.received[:-LOG_KEPT]
        logger.info(
            "%s %s %s verified=%s → %s", item.webhook_id, item.type, item.path, item.verified, item.answered
        )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm on, the second waits for the sender's
    # delayed ACK (~40 ms) on every kept-alive request.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug(format, *args)

    def _answer(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        content = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def do_GET(self) -> None:
        receiver = self.server.receiver
        items = [
            {
                "webhook_id": item.webhook_id,
                "type": item.type,
                "verified": item.verified,
                "answered": item.answered,
            }
            for item in receiver.snapshot()
        ]
        self._answer(200, {"received": items, "by_type": dict(receiver.counts_by_type())})

    def do_POST(self) -> None:
        receiver = self.server.receiver
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        verified = receiver._verify(body, headers)
        try:
            event_type = str(json.loads(body).get("type", "")) if body else ""
        except (ValueError, AttributeError):
            event_type = ""
        plan = receiver._next_failure() if verified else None
        answered = "200" if verified else "400"
        if plan is not None:
            answered = plan.failure.value
        receiver._record(
            Received(
                webhook_id=headers.get("webhook-id", ""),
                type=event_type,
                verified=verified,
                answered=answered,
                body=body,
                headers=headers,
                path=self.path,
                at=time.time(),
            )
        )
        if not verified:
            self._answer(400, {"error": "signature not verified"})
        elif plan is None:
            self._answer(200, receiver.ok_body)
        elif plan.failure is Failure.ERROR:
            self._answer(500, {"error": "failing on demand"})
        elif plan.failure is Failure.TOO_MANY:
            self._answer(429, {"error": "slow down"}, {"Retry-After": plan.retry_after})
        elif plan.failure is Failure.REDIRECT:
            self._answer(307, {"moved": True}, {"Location": "/moved"})
        elif plan.failure is Failure.CLOSE:
            self.close_connection = True  # no answer at all: the socket is closed as the handler returns
        else:  # TIMEOUT: answer only after the sender has given up
            time.sleep(plan.sleep)
            self.close_connection = True
            with suppress(OSError):
                self._answer(200, {"ok": "too late"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], receiver: Receiver) -> None:
        super().__init__(address, _Handler)
        self.receiver = receiver


def receiver_start(*, secrets: list[str], host: str = "127.0.0.1", port: int = 0) -> Receiver:
    """Start a receiver in a background thread (port 0: any free port); `receiver_stop` ends it."""
    receiver = Receiver(secrets=list(secrets))
    server = _Server((host, port), receiver)
    receiver.server = server
    receiver.url = f"http://{host}:{server.server_address[1]}/webhooks"
    threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True).start()
    return receiver


def receiver_stop(receiver: Receiver) -> None:
    if receiver.server is not None:
        receiver.server.shutdown()
        receiver.server.server_close()


@contextmanager
def running_receiver(*, secrets: list[str], host: str = "127.0.0.1", port: int = 0) -> Iterator[Receiver]:
    receiver = receiver_start(secrets=secrets, host=host, port=port)
    try:
        yield receiver
    finally:
        receiver_stop(receiver)

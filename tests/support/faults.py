"""Fault injection for the reliability tests: an HTTP fault proxy, a production-like web process, a
private Redis server we can stop, and a Postgres connection that holds locks so a worker stops mid-task.

Hand-written: toxiproxy is a separate binary that sees byte streams, while these faults are per HTTP
request (answer 500/429, hang, drop before or after the upstream did the work), and the rest is
process plumbing over the standard library.
"""

from __future__ import annotations

import collections
import contextlib
import http.client
import http.server
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import redis
import stripe
from django.conf import settings
from django.db import connection

from devtools.stripe_server import RunningServer, running_server
from tests.support.ingest import sign
from tests.support.polling import wait_until
from tests.support.stripe import STRIPE_WEBHOOK_SECRET

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "proxy-connection"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- an HTTP proxy that injects faults --------------------------------------------------------


class FaultProxy:
    """Forwards HTTP requests to `upstream`; a `share` of them get a fault instead (seeded choice).

    Faults: `500` and `429` (answered by the proxy, the upstream never sees the call; a 429 asks the
    client to retry only half the time), `timeout` (hang past the client's timeout, no answer), `drop`
    (close without an answer), and the worst two, after the upstream did the work: `drop_after` and
    `timeout_after` (the call committed, the client cannot know).
    """

    ACTIONS = ("500", "429", "timeout", "drop", "drop_after", "timeout_after")

    def __init__(self, upstream: str, *, share: float, hang_seconds: float, seed: int = 7) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.share = share
        self.hang_seconds = hang_seconds
        self.fired: collections.Counter[str] = collections.Counter()
        self.forwarded = 0
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _choose(self) -> str:
        with self._lock:
            if self._random.random() >= self.share:
                self.forwarded += 1
                return "pass"
            action = self._random.choice(self.ACTIONS)
            self.fired[action] += 1
            return action

    def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[Any], bytes]:
        upstream = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            upstream.request(method, path, body=body or None, headers=headers)
            response = upstream.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            upstream.close()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, status: int, headers: list[tuple[str, str]], content: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                action = proxy._choose()
                self.close_connection = True
                if action == "500":
                    error = {"type": "api_error", "message": "Injected fault."}
                    self._answer(
                        500, [("Content-Type", "application/json")], json.dumps({"error": error}).encode()
                    )
                elif action == "429":
                    error = {"type": "invalid_request_error", "code": "rate_limit", "message": "Too many."}
                    # Stripe asks the SDK to retry some; the others surface as RateLimitError.
                    retry = [("Stripe-Should-Retry", "true")] if proxy.fired["429"] % 2 else []
                    headers_out = [("Content-Type", "application/json"), *retry]
                    self._answer(429, headers_out, json.dumps({"error": error}).encode())
                elif action == "timeout":
                    time.sleep(proxy.hang_seconds)  # then close: no answer
                elif action == "drop":
                    pass  # close: no answer
                else:
                    status, upstream_headers, content = proxy._forward(self.command, self.path, headers, body)
                    if action == "timeout_after":
                        time.sleep(proxy.hang_seconds)
                    if action == "pass":
                        self._answer(status, upstream_headers, content)

            do_GET = do_POST = do_DELETE = _relay  # noqa: N815 - the stdlib's dispatch names

        return Handler


# --- a worker stopped in the middle of a task ------------------------------------------------


def database_dsn() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


class LockHolder:
    """A connection of its own that takes locks in a transaction and keeps them until release(): a task
    that needs them waits there, in the middle of its work, until the test has killed its worker."""

    def __init__(self, sql: str, params: list[Any] | None = None) -> None:
        self._connection = psycopg.connect(database_dsn())
        self._connection.execute(sql, params)

    def release(self) -> None:
        if not self._connection.closed:
            self._connection.rollback()
            self._connection.close()

    def __enter__(self) -> LockHolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def waiting_for_a_lock() -> bool:
    """Whether some session of the test database (a worker's) waits for a lock: its task is mid-way. Fresh
    each call, even inside a transaction (which otherwise keeps its first snapshot of pg_stat_activity)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return bool(cursor.fetchone()[0])


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


def pool_processes(worker: subprocess.Popen[bytes]) -> list[int]:
    """The pids of a prefork worker's pool processes (Linux)."""
    children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
    return [int(pid) for pid in children]


def forget_unacknowledged_messages() -> None:
    """A killed worker's message stays 'unacked' in Redis until the visibility timeout (an hour); drop it so
    no later run of this Redis database gets a task of a test database that no longer exists."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        client.delete("unacked", "unacked_index", "unacked_mutex")
    finally:
        client.close()


# --- the product served as in production, and what it depends on going away ---------------------


@contextmanager
def web_process(log: Path, **env: str) -> Iterator[str]:
    """The product on a free loopback port (Django's threaded server, DEBUG off as in production), on
    the test database; yields its base URL. Its output goes to `log`."""
    port = free_port()
    environment = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "DATABASE_URL": database_dsn(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback
        "LOG_LEVEL": "WARNING",
        **env,
    }
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{port}"],
            env=environment,
            cwd=settings.BASE_DIR,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:

            def answering() -> bool:
                assert process.poll() is None, log.read_text()
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        return True
                except OSError:
                    return False

            wait_until(answering, message="the web process to listen")
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=20)


def post(base_url: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST over a fresh connection; the status and body (a dropped connection is status 0)."""
    parts = urlsplit(base_url)
    client = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        client.request("POST", path, body=body, headers={"Content-Type": "application/json", **headers})
        response = client.getresponse()
        return response.status, response.read()
    except (ConnectionError, http.client.HTTPException):
        return 0, b""
    finally:
        client.close()


def signed_headers(secret: str, body: bytes) -> dict[str, str]:
    """Standard Webhooks headers as a sender sets them (the test client's helper uses WSGI names)."""
    return {
        name.removeprefix("HTTP_").replace("_", "-").lower(): value
        for name, value in sign(secret, body).items()
    }


class TcpProxy:
    """A loopback TCP forwarder that can go down (its port refuses, its connections are cut) and come
    back on the same port: a broker or database that becomes unreachable, from the client's side."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        """Refuse new connections and cut the open ones."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by down()
            try:
                upstream = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets |= {client, upstream}
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)


STRIPE_CLIENT_TIMEOUT = 0.5


@contextmanager
def stripe_behind_a_fault_proxy(
    settings: Any, monkeypatch: pytest.MonkeyPatch, *, share: float, seed: int
) -> Iterator[tuple[FaultProxy, RunningServer]]:
    """The local Stripe server behind a FaultProxy faulting `share` of the calls, Verity's settings pointing
    at the proxy: a short client timeout and one SDK retry, so some faults outlast the SDK (and settlement
    must resume)."""
    with (
        running_server(seed=seed) as server,
        FaultProxy(
            server.base_url, share=share, hang_seconds=STRIPE_CLIENT_TIMEOUT + 0.3, seed=seed
        ) as proxy,
    ):
        settings.STRIPE_API_KEY = "sk_test_verity"
        settings.STRIPE_API_BASE = proxy.url
        settings.STRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET
        settings.STRIPE_MAX_NETWORK_RETRIES = 1
        settings.STRIPE_TIMEOUT_SECONDS = STRIPE_CLIENT_TIMEOUT
        # The SDK's backoff between its retries (0.5 s and up) only slows the test down.
        monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0.01)
        monkeypatch.setattr(stripe.HTTPClient, "MAX_DELAY", 0.02)
        yield proxy, server

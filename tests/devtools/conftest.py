"""Shared by the local Stripe server's tests: one server per module, reset before each test, and the real SDK's
client pointed at it (no database needed)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe

from devtools.stripe_server import AdminClient, RunningServer, running_server
from tests.support.stripe_server import API_KEY, MakeClient, Receiver


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with running_server(seed=7) as running:
        yield running


@pytest.fixture
def admin(server: RunningServer) -> AdminClient:
    server.admin.reset()
    return server.admin


@pytest.fixture
def make_client(server: RunningServer, admin: AdminClient) -> MakeClient:
    def make(*, retries: int = 0, timeout: float = 5.0, api_key: str = API_KEY) -> stripe.StripeClient:
        return stripe.StripeClient(
            api_key,
            base_addresses={"api": server.base_url},
            max_network_retries=retries,
            http_client=stripe.RequestsClient(timeout=timeout),
        )

    return make


@pytest.fixture
def client(make_client: MakeClient) -> stripe.StripeClient:
    return make_client()


@pytest.fixture
def make_receiver() -> Iterator[Callable[[], Receiver]]:
    servers: list[ThreadingHTTPServer] = []

    def make() -> Receiver:
        sink = Receiver(url="")

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with sink.condition:
                    sink.received.append((body, self.headers["Stripe-Signature"]))
                    sink.condition.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(httpd)
        sink.url = f"http://127.0.0.1:{httpd.server_address[1]}/stripe/webhooks"
        return sink

    yield make
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def receiver(make_receiver: Callable[[], Receiver]) -> Receiver:
    return make_receiver()

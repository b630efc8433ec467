"""Shared by the local Stripe server's tests: one server per module, reset before each test, and the real SDK's
client pointed at it (no database needed)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import stripe

from devtools.stripe_server import AdminClient, RunningServer, running_server

API_KEY = "sk_test_verity_devtools"

MakeClient = Callable[..., stripe.StripeClient]


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

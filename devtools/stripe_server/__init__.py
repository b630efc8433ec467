"""A local, stateful Stripe-compatible server for tests (hand-written: no existing fake has Stripe's idempotency
semantics plus fault injection; see README.md). Dev tooling only: product code never imports it.

    with running_server() as (base_url, admin):
        client = stripe.StripeClient("sk_test_x", base_addresses={"api": base_url})
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

from .admin import AdminClient, AdminError
from .server import StripeServer
from .webhooks import sign

__all__ = ["AdminClient", "AdminError", "RunningServer", "StripeServer", "running_server", "sign"]


class RunningServer(NamedTuple):
    base_url: str
    admin: AdminClient


@contextmanager
def running_server(
    *, host: str = "127.0.0.1", port: int = 0, api_keys: list[str] | None = None, seed: int | None = None
) -> Iterator[RunningServer]:
    """Serve on a background thread (a free port by default) for the duration of the block."""
    server = StripeServer(host, port, api_keys=api_keys, seed=seed).start()
    try:
        yield RunningServer(server.base_url, AdminClient(server.base_url))
    finally:
        server.stop()

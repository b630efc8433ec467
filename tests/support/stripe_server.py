"""For the local Stripe server's own tests: their API key, a factory of SDK clients on the server, and a
webhook endpoint on loopback that records what the server delivers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import stripe

API_KEY = "sk_test_verity_devtools"

MakeClient = Callable[..., stripe.StripeClient]


@dataclass
class Receiver:
    """A webhook endpoint on loopback recording each (body, Stripe-Signature) it receives."""

    url: str
    received: list[tuple[bytes, str]] = field(default_factory=list)
    condition: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[bytes, str]]:
        with self.condition:
            self.condition.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

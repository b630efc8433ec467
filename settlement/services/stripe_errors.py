"""How a vendor-facing Stripe action answers when Stripe cannot be reached: one 503 for all of them."""

from __future__ import annotations

from core.errors import Unavailable


def stripe_unavailable() -> Unavailable:
    return Unavailable(
        "Stripe cannot be reached right now; nothing was changed. Try again in a moment.",
        code="stripe_unavailable",
    )

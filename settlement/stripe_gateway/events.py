"""Stripe's signed webhooks: whether the Stripe-Signature header holds a signature of the body by a secret."""

from __future__ import annotations

import stripe


def event_signed_by(*, payload: bytes, signature_header: str, secret: str) -> bool:
    """Whether the Stripe-Signature header holds a recent signature of the payload by `secret` (during a
    secret's roll Stripe signs with both, so either one verifies)."""
    if not secret:
        return False
    try:
        # Only the signature: the SDK's construct_event also builds an object, and fails (500) on
        # a signed body that is JSON but not an object; the endpoint checks the event's shape itself.
        stripe.WebhookSignature.verify_header(
            payload, signature_header, secret, stripe.Webhook.DEFAULT_TOLERANCE
        )
    except stripe.SignatureVerificationError:
        return False
    return True

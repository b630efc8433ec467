"""Stripe's signed webhooks: verify the Stripe-Signature header and return the event as sent."""

from __future__ import annotations

import json
from typing import Any

import stripe
from django.conf import settings


def event_verify(*, payload: bytes, signature_header: str) -> dict[str, Any]:
    """The event as Stripe sent it (parsed JSON), if its Stripe-Signature verifies; else ValueError."""
    try:
        # Only the signature: the SDK's construct_event also builds an object, and fails (500) on
        # a signed body that is JSON but not an object; the endpoint checks the event's shape itself.
        stripe.WebhookSignature.verify_header(
            payload, signature_header, settings.STRIPE_WEBHOOK_SECRET, stripe.Webhook.DEFAULT_TOLERANCE
        )
    except stripe.SignatureVerificationError as exc:
        raise ValueError(str(exc)) from exc
    # Keep the raw JSON, not the SDK's object: that one holds Decimals and is not what Stripe sent.
    event: dict[str, Any] = json.loads(payload)
    return event

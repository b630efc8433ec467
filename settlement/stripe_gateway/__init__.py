"""The one package that talks to Stripe, through the official SDK's StripeClient: nothing else in
Verity imports `stripe`. `client` holds the SDK client, keys and the settlement step; `invoices`
settles an invoice; `events` verifies Stripe's webhooks; `accounts` checks the account behind a key."""

from settlement.stripe_gateway.client import (
    API_VERSION,
    SettlementBlocked,
    StripeUnavailable,
    client,
    idempotency_key,
)
from settlement.stripe_gateway.events import event_signed_by
from settlement.stripe_gateway.invoices import (
    MAX_STRIPE_LINES,
    StripeLine,
    invoice_push,
    invoice_retrieve,
    stripe_lines,
)

__all__ = [
    "API_VERSION",
    "MAX_STRIPE_LINES",
    "SettlementBlocked",
    "StripeLine",
    "StripeUnavailable",
    "client",
    "event_signed_by",
    "idempotency_key",
    "invoice_push",
    "invoice_retrieve",
    "stripe_lines",
]

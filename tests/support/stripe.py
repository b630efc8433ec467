"""The local Stripe server as seen from outside Verity (Stripe's dashboard, Stripe's webhook delivery, another
app on the account): its SDK client, customers made there, its events delivered to Verity, and totals to
compare with Verity's books."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from typing import Any

import stripe
from django.test import Client

from contracts.models import Customer
from devtools.stripe_server import RunningServer, sign
from settlement.models import CreditNoteStatus, Invoice

STRIPE_WEBHOOK_SECRET = "whsec_verity_tests_0123456789abcdef"
WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET  # what `stripe_api` (tests/conftest.py) configures


def stripe_sdk(server: RunningServer) -> stripe.StripeClient:
    """The SDK on the local Stripe server, as a test acting outside Verity (Stripe's dashboard, another app)."""
    return stripe.StripeClient("sk_test_verity", base_addresses={"api": server.base_url})


def stripe_customer_made_outside(
    server: RunningServer, *, card: str | None = None, metadata: dict[str, str] | None = None
) -> str:
    """A Stripe customer Verity did not make, with `card` (a test token) as its default for invoices if given."""
    if card is None:
        created = stripe_sdk(server).v1.customers.create(
            params={"email": "ap@acme.test", "metadata": metadata or {}}
        )
    else:
        created = stripe_sdk(server).v1.customers.create(
            params={
                "email": "ap@acme.test",
                "metadata": metadata or {},
                "payment_method": card,
                "invoice_settings": {"default_payment_method": card},
            }
        )
    return str(created.id)


def stripe_default_payment_method(server: RunningServer, stripe_customer_id: str) -> str | None:
    """The customer's default payment method for invoices, as the server holds it."""
    default: str | None = server.admin.state()["customers"][stripe_customer_id]["invoice_settings"][
        "default_payment_method"
    ]
    return default


def card_on_file(
    customer: Customer,
    base_url: str,
    payment_method: str = "pm_card_visa",
    *,
    api_key: str = "sk_test_verity",
    stripe_account: str | None = None,
) -> str:
    """Give the customer a Stripe customer with a test card as its default, the way Stripe's test mode
    does it (`payment_method` attached at creation, then made the invoices' default), and link it. In the
    account of `api_key` (the deployment's by default), or the connected `stripe_account` under it."""
    api = stripe.StripeClient(api_key, stripe_account=stripe_account, base_addresses={"api": base_url})
    created = api.v1.customers.create(
        params={
            "email": customer.billing_email,
            "name": customer.name,
            "payment_method": payment_method,
            "invoice_settings": {"default_payment_method": payment_method},
        }
    )
    Customer.objects.filter(pk=customer.pk).update(stripe_customer_id=created.id)
    customer.refresh_from_db()
    return str(created.id)


def stripe_invoices(server: RunningServer) -> list[dict[str, Any]]:
    return list(server.admin.state()["invoices"].values())


def deliver_stripe_events(
    server: RunningServer,
    *,
    after: int = 0,
    account: str | None = None,
    path: str = "/webhooks/stripe",
    secret: str = WEBHOOK_SECRET,
) -> int:
    """Deliver the server's events (of one account, or all) from the `after`-th on to a Verity webhook
    endpoint, signed as Stripe signs them, in the order they happened (what Stripe's webhook delivery
    does); returns how many events there are so far, for the next call's `after`."""
    events = server.admin.events(account=account)
    for emitted in events[after:]:
        post_signed_event(emitted, path=path, secret=secret)
    return len(events)


def post_signed_event(
    event: dict[str, Any], *, path: str = "/webhooks/stripe", secret: str = WEBHOOK_SECRET
) -> None:
    body = json.dumps(event).encode()
    response = Client().post(
        path,
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body, secret, int(time.time())),
    )
    assert response.status_code == 200, response.content


def stripe_totals_by_customer(server: RunningServer) -> dict[str, int]:
    """Per Stripe customer: its invoices' totals less its credit notes, as Stripe has them."""
    state = server.admin.state()
    totals: dict[str, int] = defaultdict(int)
    for remote in state["invoices"].values():
        if remote["status"] != "draft":
            totals[remote["customer"]] += remote["total"]
    for note in state["credit_notes"].values():
        if note["status"] != "void":
            totals[note["customer"]] -= note["total"]
    return dict(totals)


def verity_totals_by_customer() -> dict[str, int]:
    """The same figures from Verity's invoices sent to Stripe and their credit notes."""
    totals: dict[str, int] = defaultdict(int)
    for invoice in Invoice.objects.exclude(stripe_invoice_id="").select_related("contract__customer"):
        customer = invoice.contract.customer.stripe_customer_id
        totals[customer] += invoice.total_minor
        for note in invoice.credit_notes.exclude(status=CreditNoteStatus.VOID):
            totals[customer] -= note.amount_minor
    return dict(totals)

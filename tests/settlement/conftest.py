"""Shared by the settlement tests: a contract whose outcomes become billable at once, and helpers."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from collections import defaultdict
from typing import Any

import pytest
import stripe
import time_machine
from django.conf import settings as django_settings
from django.test import Client

from contracts.models import Customer
from devtools.stripe_server import RunningServer, sign
from outcomes.services.building import outcomes_build_sweep
from outcomes.services.verification import outcomes_evaluate_due
from settlement.models import CreditNoteStatus, Invoice
from settlement.selectors import credit_notes_to_push, invoices_to_push
from settlement.services.credit_notes import credit_note_create, invoices_to_credit
from settlement.services.invoicing import invoice_finalize, period_close
from settlement.stripe_gateway import SettlementBlocked, StripeUnavailable, invoice_push
from settlement.stripe_gateway.credit_notes import credit_note_push
from tests.conftest import STRIPE_WEBHOOK_SECRET
from tests.factories import outcome_type_terms, version_terms
from tests.outcomes.conftest import Ingest, event, make_ingest

WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET  # what `stripe_api` (tests/conftest.py) configures
MARCH = dt.datetime(2026, 3, 1, 5, 0, tzinfo=dt.UTC)  # local midnight in New York (EST)
APRIL = dt.datetime(2026, 4, 1, 4, 0, tzinfo=dt.UTC)  # local midnight in New York (EDT)

GRADUATED = {
    "model": "graduated",
    "tiers": [{"up_to": 2, "unit_price": "1.00"}, {"up_to": None, "unit_price": "0.505"}],
}
FAST = {
    "confirmation": {"required": False},
    "maturation": {"hold_hours": 0},
    "suppression": {"enabled": False},
}


def billable(
    ingest: Ingest, count: int, at: dt.datetime, prefix: str = "T", outcome_type: str = "ticket.resolved"
) -> None:
    with time_machine.travel(at, tick=False):
        response = ingest.post(
            {
                "events": [
                    event(
                        contract=ingest.contract.reference,
                        outcome_type=outcome_type,
                        natural_key=f"{prefix}-{i}",
                        occurred_at=at.isoformat(),
                    )
                    for i in range(count)
                ]
            }
        )
        assert response.status_code == 200
    with time_machine.travel(at + dt.timedelta(minutes=2), tick=False):
        outcomes_build_sweep()
        outcomes_evaluate_due()


def reverse_all(ingest: Ingest, count: int, at: dt.datetime) -> None:
    with time_machine.travel(at, tick=False):
        ingest.post({"events": [event(natural_key=f"T-{i}", kind="outcome.reversed") for i in range(count)]})
    with time_machine.travel(at + dt.timedelta(minutes=2), tick=False):
        outcomes_build_sweep()


def close_and_finalize(ingest: Ingest, start: dt.datetime, end: dt.datetime) -> Invoice:
    return invoice_finalize(
        invoice_id=period_close(contract_id=ingest.contract.pk, period_start=start, now=end).pk, now=end
    )


MAY = dt.datetime(2026, 5, 1, 4, 0, tzinfo=dt.UTC)
JUNE = dt.datetime(2026, 6, 1, 4, 0, tzinfo=dt.UTC)


def graduated_terms(**overrides: object) -> dict[str, object]:
    """The settlement tests' usual terms: a 100.00 platform fee, 1 free unit, then 1.00, 1.00, 0.505 each."""
    defaults: dict[str, object] = {
        "platform_fee_minor": 10_000,
        "minimum_commitment_minor": 0,
        "outcome_types": [outcome_type_terms(pricing=GRADUATED, free_units=1, verification_policy=FAST)],
    }
    return version_terms(**(defaults | overrides))


@pytest.fixture
def ingest() -> Ingest:
    return make_ingest(terms=graduated_terms())


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


def finalized_invoice(ingest: Ingest, outcomes: int = 3, card: str | None = "pm_card_visa") -> Invoice:
    """March's invoice, finalized; its customer has `card` on file in Stripe (None: no Stripe customer yet)."""
    if card is not None:
        card_on_file(ingest.contract.customer, django_settings.STRIPE_API_BASE, card)
    billable(ingest, outcomes, MARCH + dt.timedelta(days=2))
    invoice = period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL)
    return invoice_finalize(invoice_id=invoice.pk, now=APRIL)


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


def settlement_round() -> bool:
    """What the periodic job does, once, in-process: resume every settlement not complete on Stripe, credit
    reversals and issue credit notes (Stripe's outages and blocked steps are left for the next round).
    True once nothing is left to do."""
    for invoice_id in invoices_to_push():
        with contextlib.suppress(StripeUnavailable, SettlementBlocked):
            invoice_push(invoice_id=invoice_id)
    for invoice_id in invoices_to_credit():
        credit_note_create(invoice_id=invoice_id)
    for note_id in credit_notes_to_push():
        with contextlib.suppress(StripeUnavailable, SettlementBlocked):
            credit_note_push(credit_note_id=note_id)
    return not (invoices_to_push() or invoices_to_credit() or credit_notes_to_push())

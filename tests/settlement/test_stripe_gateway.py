"""Settling through Stripe: the real SDK over HTTP against the local Stripe-compatible server.

Exactly once under retries, faults and crashes between calls; 4xx recorded, never retried;
Stripe's webhooks stored first, deduplicated and ordered.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from devtools.stripe_server import RunningServer, running_server
from settlement.models import (
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    SettlementStatus,
    SettlementStep,
    StripeEvent,
)
from settlement.selectors import invoices_to_push
from settlement.services.invoicing import invoice_finalize, period_close
from settlement.stripe_gateway import (
    MAX_STRIPE_LINES,
    SettlementBlocked,
    StripeUnavailable,
    invoice_push,
    stripe_lines,
)
from tests.outcomes.conftest import Ingest
from tests.settlement.conftest import APRIL, MARCH, billable, card_on_file

pytestmark = pytest.mark.django_db

WEBHOOK_SECRET = "whsec_verity_tests_0123456789abcdef"


@pytest.fixture(scope="module")
def stripe_server() -> Iterator[RunningServer]:
    with running_server() as server:
        yield server


@pytest.fixture
def stripe_api(stripe_server: RunningServer, settings: SettingsWrapper) -> RunningServer:
    stripe_server.admin.reset()
    settings.STRIPE_API_KEY = "sk_test_verity"
    settings.STRIPE_API_BASE = stripe_server.base_url
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_MAX_NETWORK_RETRIES = 3
    return stripe_server


def finalized_invoice(ingest: Ingest, outcomes: int = 3, card: str | None = "pm_card_visa") -> Invoice:
    """March's invoice, finalized; its customer has `card` on file in Stripe (None: no Stripe customer yet)."""
    if card is not None:
        card_on_file(ingest.contract.customer, django_settings.STRIPE_API_BASE, card)
    billable(ingest, outcomes, MARCH + dt.timedelta(days=2))
    invoice = period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL)
    return invoice_finalize(invoice_id=invoice.pk, now=APRIL)


def stripe_invoices(server: RunningServer) -> list[dict[str, Any]]:
    return list(server.admin.state()["invoices"].values())


def test_a_finalized_invoice_is_settled_once_with_the_right_amount(
    ingest: Ingest, stripe_api: RunningServer
) -> None:
    invoice = finalized_invoice(ingest)

    settled = invoice_push(invoice_id=invoice.pk)
    again = invoice_push(invoice_id=invoice.pk)

    [remote] = stripe_invoices(stripe_api)
    assert (remote["status"], remote["total"], remote["currency"]) == ("paid", invoice.total_minor, "usd")
    assert remote["metadata"]["verity_invoice_id"] == str(invoice.pk)
    assert remote["auto_advance"] is False
    assert (settled.status, settled.stripe_invoice_id) == (InvoiceStatus.PAID, remote["id"])
    assert again.status == InvoiceStatus.PAID
    steps = dict(SettlementStep.objects.filter(invoice=invoice).values_list("step", "status"))
    assert set(steps.values()) == {"done"}
    assert set(steps) == {"invoice", "lines", "finalize", "pay"}
    ours = [r for r in stripe_api.admin.requests() if r["path"].startswith("/v1/invoices")]
    assert all(r["idempotency_key"].startswith("verity:v1:") for r in ours if r["method"] == "POST")


@pytest.mark.parametrize("action", ["500", "429"])
def test_transient_faults_are_retried_with_the_same_key_and_settle_once(
    ingest: Ingest,
    stripe_api: RunningServer,
    action: str,
) -> None:
    invoice = finalized_invoice(ingest)
    stripe_api.admin.add_faults(
        {"action": action, "method": "POST", "path": r"^/v1/invoices$", "count": 2},
        {"action": action, "method": "POST", "path": r"/add_lines$", "count": 1},
        {"action": action, "method": "POST", "path": r"/pay$", "count": 1},
    )

    settled = invoice_push(invoice_id=invoice.pk)

    assert settled.status == InvoiceStatus.PAID
    [remote] = stripe_invoices(stripe_api)
    assert remote["total"] == invoice.total_minor


@pytest.mark.parametrize("path", [r"^/v1/invoices$", r"/add_lines$", r"/finalize$", r"/pay$"])
def test_a_crash_between_calls_resumes_without_duplicating_anything(
    ingest: Ingest,
    stripe_api: RunningServer,
    settings: SettingsWrapper,
    path: str,
) -> None:
    """The worst case: Stripe did it, but the answer never came back, and we gave up (a crash)."""
    invoice = finalized_invoice(ingest)
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    stripe_api.admin.add_faults({"action": "drop_after_commit", "method": "POST", "path": path, "count": 1})

    with pytest.raises(StripeUnavailable):
        invoice_push(invoice_id=invoice.pk)
    assert SettlementStep.objects.filter(invoice=invoice, status="started").count() == 1

    settled = invoice_push(invoice_id=invoice.pk)  # the rerun (a retried task, or push_invoices)

    assert settled.status == InvoiceStatus.PAID
    [remote] = stripe_invoices(stripe_api)
    assert remote["total"] == invoice.total_minor
    assert remote["status"] == "paid"
    assert len(stripe_api.admin.state()["customers"]) == 1


def test_a_4xx_is_recorded_for_a_person_and_never_retried(ingest: Ingest, stripe_api: RunningServer) -> None:
    invoice = finalized_invoice(ingest, card=None)
    customer = ingest.contract.customer
    customer.stripe_customer_id = "cus_does_not_exist"
    customer.save()

    with pytest.raises(SettlementBlocked):
        invoice_push(invoice_id=invoice.pk)
    attempts = len(stripe_api.admin.requests())
    assert invoice_push(invoice_id=invoice.pk).settlement_status == SettlementStatus.BLOCKED

    assert len(stripe_api.admin.requests()) == attempts  # not called again
    invoice.refresh_from_db()
    assert (invoice.status, invoice.settlement_status) == (InvoiceStatus.FINALIZED, SettlementStatus.BLOCKED)
    assert invoice.pk not in invoices_to_push()
    assert "resource_missing" in invoice.stripe_error or "No such customer" in invoice.stripe_error
    assert SettlementStep.objects.get(invoice=invoice, step="invoice").status == "failed"


def test_a_declined_card_leaves_the_invoice_payment_failed_and_collected_by_stripe(
    ingest: Ingest, stripe_api: RunningServer
) -> None:
    invoice = finalized_invoice(ingest, card="pm_card_chargeCustomerFail")

    settled = invoice_push(invoice_id=invoice.pk)

    assert (settled.status, settled.settlement_status) == (
        InvoiceStatus.PAYMENT_FAILED,
        SettlementStatus.DONE,
    )
    assert "card_declined" in settled.payment_error
    [remote] = stripe_invoices(stripe_api)
    assert (remote["status"], remote["auto_advance"]) == ("open", True)  # Stripe's retries go on
    assert invoice_push(invoice_id=invoice.pk).status == InvoiceStatus.PAYMENT_FAILED  # nothing resent


def test_zero_and_credit_only_invoices_never_reach_stripe(ingest: Ingest, stripe_api: RunningServer) -> None:
    invoice = finalized_invoice(ingest, card=None)
    Invoice.objects.filter(pk=invoice.pk).update(total_minor=0)

    settled = invoice_push(invoice_id=invoice.pk)

    assert (settled.status, settled.stripe_status) == (InvoiceStatus.PAID, "not_required")
    assert stripe_api.admin.requests() == []


def test_more_than_250_lines_are_aggregated_for_stripe(ingest: Ingest) -> None:
    invoice = finalized_invoice(ingest, outcomes=1, card=None)
    InvoiceLine.objects.filter(invoice=invoice).delete()
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            position=i,
            kind=LineKind.USAGE,
            description=f"type {i % 3} tier {i}",
            outcome_type_key=f"type.{i % 3}",
            amount_minor=10,
        )
        for i in range(1, 301)
    )

    lines = stripe_lines(invoice)

    assert len(lines) <= MAX_STRIPE_LINES
    assert len(lines) == 3
    assert sum(line.amount_minor for line in lines) == 3000


# --- Stripe's webhooks -----------------------------------------------------------------------


def signed(payload: dict[str, Any], secret: str = WEBHOOK_SECRET) -> tuple[bytes, str]:
    body = json.dumps(payload).encode()
    timestamp = int(time.time())
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={timestamp},v1={signature}"


def stripe_event(event_id: str, type_: str, invoice_id: str, created: int) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "type": type_,
        "created": created,
        "data": {"object": {"id": invoice_id, "object": "invoice", "status": type_.split(".")[-1]}},
    }


def post_event(payload: dict[str, Any], secret: str = WEBHOOK_SECRET) -> Any:
    body, header = signed(payload, secret)
    return Client().post(
        "/webhooks/stripe", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )


@pytest.fixture
def sent_invoice(ingest: Ingest, stripe_api: RunningServer) -> Invoice:
    invoice = finalized_invoice(ingest)
    Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.OPEN, stripe_invoice_id="in_test_1")
    invoice.refresh_from_db()
    return invoice


def test_a_paid_event_marks_the_invoice_paid_once_even_if_delivered_twice(sent_invoice: Invoice) -> None:
    event = stripe_event("evt_1", "invoice.paid", "in_test_1", 1_800_000_000)

    assert post_event(event).status_code == 200
    assert post_event(event).status_code == 200

    sent_invoice.refresh_from_db()
    assert sent_invoice.status == InvoiceStatus.PAID
    assert StripeEvent.objects.count() == 1


def test_an_older_event_delivered_late_cannot_undo_a_payment(sent_invoice: Invoice) -> None:
    post_event(stripe_event("evt_paid", "invoice.paid", "in_test_1", 1_800_000_100))
    post_event(stripe_event("evt_failed", "invoice.payment_failed", "in_test_1", 1_800_000_000))

    sent_invoice.refresh_from_db()
    assert sent_invoice.status == InvoiceStatus.PAID
    assert StripeEvent.objects.count() == 2


def test_unknown_events_are_stored_and_ignored_and_bad_signatures_refused(sent_invoice: Invoice) -> None:
    assert post_event(stripe_event("evt_x", "customer.updated", "cus_1", 1_800_000_000)).status_code == 200
    refused = post_event(
        stripe_event("evt_y", "invoice.paid", "in_test_1", 1_800_000_000), secret="whsec_wrong"
    )

    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid_signature"
    sent_invoice.refresh_from_db()
    assert sent_invoice.status == InvoiceStatus.OPEN
    assert list(StripeEvent.objects.values_list("id", flat=True)) == ["evt_x"]

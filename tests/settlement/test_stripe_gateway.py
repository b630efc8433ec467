"""Settling through Stripe: the real SDK over HTTP against the local Stripe-compatible server.

Exactly once under retries, faults and crashes between calls; 4xx recorded, never retried;
Stripe's webhooks stored first, deduplicated and ordered.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import json
import logging
import time
from typing import Any

import pytest
import stripe
import time_machine
from django.core.management import call_command
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from contracts.models import AuditEntry, Customer
from devtools.stripe_server import RunningServer
from settlement.models import (
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    SettlementStatus,
    SettlementStep,
    StripeEvent,
)
from settlement.selectors.due import invoices_to_push
from settlement.stripe_gateway import (
    MAX_STRIPE_LINES,
    SettlementBlocked,
    StripeUnavailable,
    invoice_push,
    stripe_lines,
)
from tests.factories import outcome_type_terms, version_terms
from tests.support.ingest import Ingest, make_ingest
from tests.support.settlement import APRIL, FAST, MARCH, finalized_invoice
from tests.support.stripe import WEBHOOK_SECRET, card_on_file, deliver_stripe_events, stripe_invoices

pytestmark = pytest.mark.django_db


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


def blocked_invoice(ingest: Ingest) -> Invoice:
    """March's invoice, its settlement blocked: its customer is linked to a Stripe customer that does not exist."""
    invoice = finalized_invoice(ingest, card=None)
    Customer.objects.filter(pk=ingest.contract.customer_id).update(stripe_customer_id="cus_does_not_exist")
    with pytest.raises(SettlementBlocked):
        invoice_push(invoice_id=invoice.pk)
    return invoice


def test_a_4xx_is_recorded_for_a_person_and_never_retried(ingest: Ingest, stripe_api: RunningServer) -> None:
    invoice = blocked_invoice(ingest)
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


def test_an_event_whose_processing_fails_is_a_500_for_stripe_to_retry_logged_once(
    stripe_api: RunningServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def failing(*, event_id: str) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("settlement.webhooks.stripe_event_process", failing)

    with caplog.at_level(logging.INFO):
        response = post_event(stripe_event("evt_z", "customer.updated", "cus_1", 1_800_000_000))

    assert response.status_code == 500
    assert response.json()["code"] == "processing_failed"
    assert StripeEvent.objects.filter(pk="evt_z").exists()  # stored first: Stripe's retry processes it
    assert [
        (r.name, r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.WARNING
    ] == [("settlement.webhooks", "ERROR", "Stripe event evt_z failed; Stripe will retry")]


# --- resuming: progress is Verity's own steps, never a status ------------------------------------


def test_a_settlement_interrupted_after_finalize_is_resumed_whatever_the_webhooks_said(
    ingest: Ingest, stripe_api: RunningServer, settings: SettingsWrapper
) -> None:
    invoice = finalized_invoice(ingest)
    settings.STRIPE_MAX_NETWORK_RETRIES = 2
    stripe_api.admin.add_faults({"action": "500", "method": "POST", "path": r"/pay$", "count": 3})

    with pytest.raises(StripeUnavailable):
        invoice_push(invoice_id=invoice.pk)
    deliver_stripe_events(stripe_api)  # invoice.finalized: Verity's status becomes `open`
    invoice.refresh_from_db()
    assert (invoice.status, invoice.settlement_status) == (InvoiceStatus.OPEN, SettlementStatus.PENDING)
    assert invoices_to_push() == [invoice.pk]  # the periodic job finds it

    settled = invoice_push(invoice_id=invoice.pk)

    assert (settled.status, settled.settlement_status) == (InvoiceStatus.PAID, SettlementStatus.DONE)
    assert [remote["status"] for remote in stripe_invoices(stripe_api)] == ["paid"]
    assert invoices_to_push() == []


def test_a_customer_renamed_between_attempts_replays_the_frozen_call_without_an_idempotency_error(
    ingest: Ingest, stripe_api: RunningServer, settings: SettingsWrapper
) -> None:
    invoice = finalized_invoice(ingest, card=None)  # Verity creates the Stripe customer
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    stripe_api.admin.add_faults({"action": "drop_after_commit", "path": r"^/v1/customers$", "count": 1})
    with pytest.raises(StripeUnavailable):
        invoice_push(invoice_id=invoice.pk)
    customer = ingest.contract.customer
    first_name = customer.name
    customer.name = "Renamed Ltd"
    customer.save()

    settled = invoice_push(invoice_id=invoice.pk)

    [remote_customer] = stripe_api.admin.state()["customers"].values()
    assert remote_customer["name"] == first_name  # the replayed call, exactly as first sent
    assert settled.settlement_status == SettlementStatus.DONE
    # That customer has no card: a collection outcome for the vendor to act on, not a blocked step.
    assert settled.status == InvoiceStatus.PAYMENT_FAILED
    assert "no attached payment source" in settled.payment_error


@pytest.mark.parametrize("made", [True, False], ids=["made-then-lost", "never-made"])
def test_after_stripe_forgot_the_key_what_was_made_is_found_and_nothing_is_made_twice(
    ingest: Ingest, stripe_api: RunningServer, settings: SettingsWrapper, made: bool
) -> None:
    invoice = finalized_invoice(ingest)
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    action = "drop_after_commit" if made else "500"
    stripe_api.admin.add_faults({"action": action, "method": "POST", "path": r"^/v1/invoices$", "count": 1})
    with pytest.raises(StripeUnavailable):
        invoice_push(invoice_id=invoice.pk)

    # Two days later (Verity's clock and the Stripe server's alike): Stripe has pruned the key.
    with time_machine.travel(dt.datetime.now(tz=dt.UTC) + dt.timedelta(days=2), tick=True):
        settled = invoice_push(invoice_id=invoice.pk)

    assert settled.status == InvoiceStatus.PAID
    [remote] = stripe_invoices(stripe_api)  # one Stripe invoice either way
    assert remote["status"] == "paid"
    step = SettlementStep.objects.get(invoice=invoice, step="invoice")
    assert (step.stripe_id, step.key_version) == (remote["id"], 1 if made else 2)


@pytest.mark.parametrize("commit", [True, False], ids=["made-then-500", "500-before-anything"])
def test_a_stored_500_replayed_to_every_retry_is_resolved_by_looking(
    ingest: Ingest, stripe_api: RunningServer, commit: bool
) -> None:
    invoice = finalized_invoice(ingest)
    stripe_api.admin.add_faults(
        {"action": "500_stored", "commit": commit, "method": "POST", "path": r"^/v1/invoices$", "count": 1}
    )

    settled = invoice_push(invoice_id=invoice.pk)

    assert settled.status == InvoiceStatus.PAID
    [remote] = stripe_invoices(stripe_api)
    step = SettlementStep.objects.get(invoice=invoice, step="invoice")
    assert (step.stripe_id, step.key_version) == (remote["id"], 1 if commit else 2)
    assert step.idempotency_key.endswith(":create" if commit else ":create:r2")


def test_a_blocked_step_is_retried_by_an_operator_with_fresh_parameters_and_an_audit_entry(
    ingest: Ingest, stripe_api: RunningServer
) -> None:
    invoice = blocked_invoice(ingest)
    customer = ingest.contract.customer
    card_on_file(customer, stripe_api.base_url)  # the operator fixes the link

    out = io.StringIO()
    call_command("settlement_steps", "--invoice", str(invoice.pk), "--retry", "invoice", stdout=out)

    invoice.refresh_from_db()
    assert (invoice.status, invoice.settlement_status) == (InvoiceStatus.PAID, SettlementStatus.DONE)
    step = SettlementStep.objects.get(invoice=invoice, step="invoice")
    assert (step.status, step.key_version, step.params["customer"]) == (
        "done",
        2,
        customer.stripe_customer_id,
    )
    assert AuditEntry.objects.filter(
        action="invoice.settlement_step_retried", object_id=str(invoice.pk)
    ).exists()
    assert "settlement done" in out.getvalue()


def test_an_operator_abandons_a_blocked_settlement_and_the_job_leaves_it_alone(
    ingest: Ingest, stripe_api: RunningServer
) -> None:
    invoice = blocked_invoice(ingest)

    call_command(
        "settlement_steps",
        "--invoice",
        str(invoice.pk),
        "--abandon",
        "--reason",
        "paid by wire",
        stdout=io.StringIO(),
    )

    invoice.refresh_from_db()
    assert invoice.settlement_status == SettlementStatus.ABANDONED
    assert invoice.pk not in invoices_to_push()
    entry = AuditEntry.objects.get(action="invoice.settlement_abandoned", object_id=str(invoice.pk))
    assert entry.details["reason"] == "paid by wire"


# --- what the customer sees on Stripe ------------------------------------------------------------


def test_the_stripe_invoice_carries_our_number_local_period_ids_and_every_line(
    ingest: Ingest, stripe_api: RunningServer
) -> None:
    invoice = finalized_invoice(ingest)  # 1 free outcome (a zero line), 2 billed, the platform fee

    invoice_push(invoice_id=invoice.pk)

    [remote] = stripe_invoices(stripe_api)
    assert remote["number"] == f"{ingest.api.vendor.slug.upper()[:20]}-{invoice.number:06d}"
    assert {"name": "Verity invoice", "value": f"#{invoice.number}"} in remote["custom_fields"]
    assert {"name": "Service period", "value": "01 Mar 2026 to 31 Mar 2026"} in remote["custom_fields"]
    assert remote["metadata"]["verity_invoice_id"] == str(invoice.pk)
    assert (remote["footer"], remote["automatic_tax"]["enabled"]) == (
        "No tax is applied to this invoice.",
        False,
    )
    lines = stripe_api.admin.state()["invoiceitems"].values()
    ours = sorted(
        (line for line in lines if line["invoice"] == remote["id"]),
        key=lambda line: line["metadata"]["verity_line"],
    )
    assert [line["amount"] for line in ours] == [
        line.amount_minor for line in invoice.lines.order_by("position")
    ]
    assert 0 in [line["amount"] for line in ours]  # the free units stay visible
    assert all(
        (line["period"]["start"], line["period"]["end"])
        == (int(MARCH.timestamp()), int(APRIL.timestamp()) - 1)
        for line in ours
    )
    assert {line["metadata"]["verity_contract_id"] for line in ours} == {str(ingest.contract.pk)}


def test_an_invoice_takes_four_stripe_calls_whatever_its_line_count(
    ingest: Ingest, stripe_api: RunningServer
) -> None:
    invoice = finalized_invoice(ingest, outcomes=40)
    before = len(stripe_api.admin.requests())

    invoice_push(invoice_id=invoice.pk)

    calls = [(r["method"], r["path"]) for r in stripe_api.admin.requests()[before:]]
    assert [path.rsplit("/", 1)[-1] for _, path in calls] == ["invoices", "add_lines", "finalize", "pay"]


@pytest.mark.parametrize(
    ("currency", "unit_price", "verity_minor", "stripe_amount"),
    [
        ("USD", "1.25", 125, 125),
        ("JPY", "125", 125, 125),
        ("ISK", "125", 125, 12_500),  # two-decimal on Stripe, though zero-decimal in ISO
        ("KWD", "1.234", 1_230, 1_230),  # three-decimal: Stripe charges multiples of 10 fils
    ],
)
def test_each_currency_is_charged_in_stripes_own_units(
    stripe_api: RunningServer, currency: str, unit_price: str, verity_minor: int, stripe_amount: int
) -> None:
    terms = version_terms(
        platform_fee_minor=0,
        outcome_types=[
            outcome_type_terms(
                pricing={"model": "per_unit", "unit_price": unit_price}, verification_policy=FAST
            )
        ],
    )
    ingest = make_ingest(terms=terms, currency=currency)
    invoice = finalized_invoice(ingest, outcomes=1)
    assert invoice.total_minor == verity_minor

    settled = invoice_push(invoice_id=invoice.pk)

    [remote] = stripe_invoices(stripe_api)
    assert (remote["currency"], remote["total"], remote["amount_paid"]) == (
        currency.lower(),
        stripe_amount,
        stripe_amount,
    )
    assert settled.status == InvoiceStatus.PAID


def test_a_line_rounded_to_what_stripe_can_charge_says_so(stripe_api: RunningServer) -> None:
    terms = version_terms(
        platform_fee_minor=0,
        outcome_types=[
            outcome_type_terms(pricing={"model": "per_unit", "unit_price": "1.234"}, verification_policy=FAST)
        ],
    )
    ingest = make_ingest(terms=terms, currency="KWD")
    invoice = finalized_invoice(ingest, outcomes=1, card=None)

    [line] = invoice.lines.all()
    assert (line.amount_minor, line.details["exact_minor"], line.details["rounded_to_minor"]) == (
        1_230,
        "1234",
        "10",
    )


# --- collection: Stripe collects, Verity mirrors, never backwards -----------------------------------


def test_a_declined_payment_is_dunned_by_stripe_and_paid_once_the_customer_has_a_good_card(
    ingest: Ingest, stripe_api: RunningServer
) -> None:
    invoice = finalized_invoice(ingest, card="pm_card_chargeCustomerFail")
    settled = invoice_push(invoice_id=invoice.pk)
    seen = deliver_stripe_events(stripe_api)
    assert settled.status == InvoiceStatus.PAYMENT_FAILED
    invoice.refresh_from_db()
    assert invoice.next_payment_attempt_at is not None  # Stripe's retry schedule is on

    # The customer attaches a good card and makes it the default; Stripe's next retry charges it.
    api = stripe.StripeClient("sk_test_verity", base_addresses={"api": stripe_api.base_url})
    customer_id = ingest.contract.customer.stripe_customer_id
    card = api.v1.payment_methods.attach("pm_card_visa", params={"customer": customer_id})
    api.v1.customers.update(customer_id, params={"invoice_settings": {"default_payment_method": card.id}})
    stripe_api.admin.advance_clock(4 * 86_400)
    deliver_stripe_events(stripe_api, after=seen)

    invoice.refresh_from_db()
    assert (invoice.status, invoice.payment_error, invoice.next_payment_attempt_at) == (
        InvoiceStatus.PAID,
        "",
        None,
    )
    [remote] = stripe_invoices(stripe_api)
    assert (remote["status"], remote["amount_paid"]) == ("paid", invoice.total_minor)


def test_a_resync_never_moves_a_failed_payment_back_to_open(
    ingest: Ingest, stripe_api: RunningServer
) -> None:
    invoice = finalized_invoice(ingest, card="pm_card_chargeCustomerFail")
    invoice_push(invoice_id=invoice.pk)

    call_command("resync_payments", stdout=io.StringIO())
    deliver_stripe_events(stripe_api)  # replays invoice.finalized (open) after the failure too

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAYMENT_FAILED


def test_an_overdue_sent_invoice_is_shown_overdue(stripe_api: RunningServer) -> None:
    ingest = make_ingest(collection_method="send_invoice", days_until_due=7)
    invoice = finalized_invoice(ingest, card=None)
    settled = invoice_push(invoice_id=invoice.pk)
    assert (settled.status, settled.stripe_hosted_url != "") == (InvoiceStatus.OPEN, True)

    stripe_api.admin.advance_clock(8 * 86_400)
    deliver_stripe_events(stripe_api)

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    assert invoice.overdue_at is not None

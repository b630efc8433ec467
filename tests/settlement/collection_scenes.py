"""Invoices in collection, for the portal, API and admin tests: finalized and handed to Stripe, then
told about by Stripe's webhooks (through the real event services), blocked by a refused step, or
credited after outcomes they billed were reversed (through the real credit note service)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import time_machine

from outcomes.services.building import outcomes_build_sweep
from settlement.invoicing.close import period_close
from settlement.invoicing.finalize import invoice_finalize
from settlement.models import CreditNote, Invoice, InvoiceStatus, SettlementStatus, SettlementStep
from settlement.services.credit_notes import credit_note_create
from settlement.services.stripe_events import stripe_event_process, stripe_event_record
from tests.support.ingest import Ingest, event

_events = itertools.count(1)


def finalized(ingest: Ingest, start: dt.datetime, end: dt.datetime) -> Invoice:
    return invoice_finalize(
        invoice_id=period_close(contract_id=ingest.contract.pk, period_start=start, now=end).pk, now=end
    )


def on_stripe(invoice: Invoice) -> Invoice:
    """What the gateway leaves once Stripe took the invoice for collection (without a Stripe server)."""
    Invoice.objects.filter(pk=invoice.pk).update(
        stripe_invoice_id=f"in_test_{invoice.pk}",
        stripe_customer_id=f"cus_test_{invoice.pk}",
        stripe_status="open",
        status=InvoiceStatus.OPEN,
        settlement_status=SettlementStatus.DONE,
    )
    invoice.refresh_from_db()
    return invoice


def stripe_says(invoice: Invoice, event_type: str, at: dt.datetime, **stripe_invoice: Any) -> Invoice:
    """One of Stripe's invoice webhooks about `invoice`, stored and applied as the endpoint does."""
    stored, _ = stripe_event_record(
        event={
            "id": f"evt_test_{next(_events)}",
            "type": event_type,
            "created": int(at.timestamp()),
            "data": {"object": {"id": invoice.stripe_invoice_id, **stripe_invoice}},
        }
    )
    stripe_event_process(event_id=stored.pk)
    invoice.refresh_from_db()
    return invoice


def payment_failed(invoice: Invoice, at: dt.datetime, next_attempt: dt.datetime) -> Invoice:
    return stripe_says(
        invoice,
        "invoice.payment_failed",
        at,
        status="open",
        attempt_count=2,
        next_payment_attempt=int(next_attempt.timestamp()),
    )


def blocked(invoice: Invoice, at: dt.datetime, step: str = "invoice") -> SettlementStep:
    """What the gateway leaves when Stripe refuses a call with a 4xx: the step FAILED, the settlement
    BLOCKED (a credit note's step blocks only the credit note)."""
    error = "No such customer: 'cus_gone'"
    failed = SettlementStep.objects.create(
        invoice=invoice,
        step=step,
        status=SettlementStep.Status.FAILED,
        idempotency_key=f"verity:v1:{step}:{invoice.pk}:create",
        params={"customer": "cus_gone"},
        error=error,
        attempts=1,
        started_at=at,
    )
    if not step.startswith("credit_note:"):
        Invoice.objects.filter(pk=invoice.pk).update(
            settlement_status=SettlementStatus.BLOCKED, stripe_error=f"{step}: {error}"
        )
    invoice.refresh_from_db()
    return failed


def credited(ingest: Ingest, invoice: Invoice, natural_keys: list[str], at: dt.datetime) -> CreditNote:
    """The customer's system reverses these billed outcomes; the periodic job credits the invoice."""
    with time_machine.travel(at, tick=False):
        response = ingest.post(
            {
                "events": [
                    event(contract=ingest.contract.reference, natural_key=key, kind="outcome.reversed")
                    for key in natural_keys
                ]
            }
        )
        assert response.status_code == 200
    with time_machine.travel(at + dt.timedelta(minutes=2), tick=False):
        outcomes_build_sweep()
    note = credit_note_create(invoice_id=invoice.pk, now=at + dt.timedelta(minutes=5))
    assert note is not None
    return note

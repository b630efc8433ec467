"""Celery tasks of settlement: thin, idempotent, taking ids; the beat jobs find what is due."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from settlement.invoicing.close import period_close, periods_close, periods_in_batches
from settlement.invoicing.finalize import invoice_finalize, invoices_finalize, invoices_in_batches
from settlement.models import CreditNoteStatus
from settlement.selectors.due import (
    credit_notes_to_push,
    invoices_due_for_finalize,
    invoices_to_push,
    periods_due,
)
from settlement.services.announcements import deadlines_announce
from settlement.services.credit_notes import credit_note_create, invoices_to_credit
from settlement.services.credit_withholding import credit_notes_release
from settlement.services.customer_billing import customer_payment_method_refresh, customer_setup_complete
from settlement.stripe_gateway import StripeUnavailable, invoice_push
from settlement.stripe_gateway.credit_notes import credit_note_push

logger = logging.getLogger(__name__)

# A task that only writes to the database: retried on its transient errors, briefly.
DATABASE_TASK: dict[str, Any] = {
    "acks_late": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "max_retries": 10,
}
# A task that calls Stripe: retried through Stripe's outages too, with backoff up to an hour, for days.
STRIPE_TASK: dict[str, Any] = {
    "acks_late": True,
    "autoretry_for": (StripeUnavailable, OperationalError),
    "retry_backoff": 30,
    "retry_backoff_max": 3600,
    "max_retries": 50,
}


@shared_task(acks_late=True)
def close_due_periods() -> int:
    """Beat: enqueue the close of every contract's ended periods without an invoice (missed ones too),
    in batches of contracts (one transaction per batch)."""
    due = periods_due(now=timezone.now())
    for batch in periods_in_batches(due):
        close_periods.delay(
            [[str(contract_id), period_start.isoformat()] for contract_id, period_start in batch]
        )
    return len(due)


@shared_task(**DATABASE_TASK)
def close_periods(periods: list[list[str]]) -> int:
    """Close a batch of (contract id, period start) in one transaction. If the batch fails for a reason
    other than a transient database error, each period is retried as its own job, so one contract's
    problem does not hold back the others."""
    try:
        invoices = periods_close(
            periods=[(contract_id, dt.datetime.fromisoformat(start)) for contract_id, start in periods]
        )
    except OperationalError:
        raise
    except Exception:
        logger.exception("Closing a batch of %d periods failed; closing them one by one", len(periods))
        for contract_id, start in periods:
            close_period.delay(contract_id, start)
        return 0
    return len(invoices)


@shared_task(**DATABASE_TASK)
def close_period(contract_id: str, period_start: str) -> int:
    return period_close(contract_id=contract_id, period_start=dt.datetime.fromisoformat(period_start)).pk


@shared_task(acks_late=True)
def finalize_due_invoices() -> int:
    """Beat: finalize drafts whose grace period is over (in batches, one transaction per batch); resume
    every settlement not complete on Stripe; credit reversals of finalized invoices and issue pending
    credit notes; release the credit notes withheld while their customer had an overdue invoice."""
    due = invoices_due_for_finalize(now=timezone.now())
    for batch in invoices_in_batches(due):
        finalize_invoices.delay(batch)
    for invoice_id in invoices_to_push():
        push_invoice.delay(invoice_id)
    for invoice_id in invoices_to_credit():
        credit_invoice.delay(invoice_id)
    for credit_note_id in credit_notes_to_push():
        push_credit_note.delay(credit_note_id)
    release_credit_notes.delay()
    return len(due)


@shared_task(**DATABASE_TASK)
def finalize_invoices(invoice_ids: list[int]) -> int:
    """Finalize a batch of drafts in one transaction, then push each one finalized. If the batch fails
    for a reason other than a transient database error, each invoice is retried as its own job, so one
    invoice's problem does not hold back the others."""
    try:
        invoices = invoices_finalize(invoice_ids=invoice_ids)
    except OperationalError:
        raise
    except Exception:
        logger.exception(
            "Finalizing a batch of %d invoices failed; finalizing them one by one", len(invoice_ids)
        )
        for invoice_id in invoice_ids:
            finalize_invoice.delay(invoice_id)
        return 0
    finalized = [invoice.pk for invoice in invoices if not invoice.is_draft]
    for invoice_id in finalized:
        push_invoice.delay(invoice_id)
    return len(finalized)


@shared_task(**DATABASE_TASK)
def finalize_invoice(invoice_id: int) -> int:
    invoice = invoice_finalize(invoice_id=invoice_id)
    push_invoice.delay(invoice.pk)
    return invoice.pk


@shared_task(**STRIPE_TASK)
def push_invoice(invoice_id: int) -> str:
    return invoice_push(invoice_id=invoice_id).status


@shared_task(**DATABASE_TASK)
def credit_invoice(invoice_id: int) -> int | None:
    note = credit_note_create(invoice_id=invoice_id)
    if note is None:
        return None
    if note.status == CreditNoteStatus.PENDING:
        push_credit_note.delay(note.pk)
    return note.pk


@shared_task(**DATABASE_TASK)
def release_credit_notes() -> int:
    """Issue the withheld credit notes whose customer has paid its overdue invoices."""
    released = credit_notes_release()
    for credit_note_id in released:
        push_credit_note.delay(credit_note_id)
    return len(released)


@shared_task(**STRIPE_TASK)
def push_credit_note(credit_note_id: int) -> str:
    return credit_note_push(credit_note_id=credit_note_id).status


@shared_task(**STRIPE_TASK)
def complete_customer_setup(setup_intent_id: str, stripe_customer_id: str) -> str:
    return customer_setup_complete(setup_intent_id=setup_intent_id, stripe_customer_id=stripe_customer_id)


@shared_task(**STRIPE_TASK)
def refresh_customer_payment_method(stripe_customer_id: str) -> str:
    return customer_payment_method_refresh(stripe_customer_id=stripe_customer_id)


@shared_task(**DATABASE_TASK)
def announce_deadlines() -> int:
    """Beat: invoices overdue and budget thresholds reached, each announced once."""
    return deadlines_announce()

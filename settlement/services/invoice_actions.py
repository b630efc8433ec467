"""What a vendor's owner or admin may do to an invoice from the portal: rebuild or finalize a draft,
settle a finalized one through Stripe, run again a settlement step Stripe refused. Each wraps the
service the periodic jobs (or operators) use, refuses what the invoice's status does not allow, and
leaves an entry in the vendor's audit log."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from contracts.audit import audit_record
from core.errors import Conflict
from settlement.invoicing.finalize import invoice_finalize
from settlement.invoicing.rebuild import invoice_rebuild
from settlement.models import Invoice, InvoiceStatus, SettlementStatus, SettlementStep
from settlement.services.settlement_steps import settlement_step_retry
from settlement.tasks import push_credit_note, push_invoice


def _locked(invoice: Invoice, allowed: InvoiceStatus, verb: str) -> Invoice:
    # Locked so the status check and the action see the same invoice (the beat job may finalize it).
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if locked.status != allowed:
        raise Conflict(
            f"Only a {allowed.value} invoice can be {verb}; this one is {locked.status}.",
            code="invalid_status",
        )
    return locked


def invoice_rebuild_now(*, invoice: Invoice, actor: str, now: dt.datetime | None = None) -> Invoice:
    """Rebuild a draft from the current outcomes (as the grace period's rebuilds do)."""
    now = now or timezone.now()
    with transaction.atomic():
        _locked(invoice, InvoiceStatus.DRAFT, "rebuilt")
        rebuilt = invoice_rebuild(invoice_id=invoice.pk, now=now)
        audit_record(
            vendor=invoice.vendor,
            actor=actor,
            action="invoice.rebuilt",
            target=rebuilt,
            at=now,
            details={"total_minor": rebuilt.total_minor},
        )
    return rebuilt


def invoice_finalize_now(*, invoice: Invoice, actor: str, now: dt.datetime | None = None) -> Invoice:
    """Finalize a draft before its grace period ends, then settle it through Stripe (a task). A draft
    whose total waits for the customer's approval stays a draft (returned as such)."""
    now = now or timezone.now()
    with transaction.atomic():
        _locked(invoice, InvoiceStatus.DRAFT, "finalized")
        finalized = invoice_finalize(invoice_id=invoice.pk, now=now)
        if finalized.is_draft:
            return finalized
        audit_record(
            vendor=invoice.vendor,
            actor=actor,
            action="invoice.finalized",
            target=finalized,
            at=now,
            details={"number": finalized.number, "total_minor": finalized.total_minor},
        )
        transaction.on_commit(lambda: push_invoice.delay(finalized.pk))
    return finalized


def invoice_push_now(*, invoice: Invoice, actor: str, now: dt.datetime | None = None) -> None:
    """Settle a finalized invoice through Stripe now rather than at the next beat (a task; resumable)."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if locked.number is None or locked.settlement_status != SettlementStatus.PENDING:
            raise Conflict(
                "Only a finalized invoice whose settlement is pending can be sent to Stripe; "
                f"this one is {locked.status} (settlement {locked.settlement_status}).",
                code="invalid_status",
            )
        audit_record(
            vendor=invoice.vendor, actor=actor, action="invoice.push_requested", target=locked, at=now
        )
        transaction.on_commit(lambda: push_invoice.delay(locked.pk))


CREDIT_NOTE_STEP = "credit_note:"  # a credit note's step is named after it: credit_note:<id>


def invoice_step_retry_now(
    *, invoice: Invoice, step: str, actor: str, now: dt.datetime | None = None
) -> SettlementStep:
    """Run a step Stripe refused again (settlement_step_retry: audited, refused unless the step is
    FAILED), then resume what it belongs to, the invoice's settlement or its credit note, now rather
    than at the next beat (a task)."""
    with transaction.atomic():
        retried = settlement_step_retry(invoice_id=invoice.pk, step=step, actor=actor, now=now)
        if step.startswith(CREDIT_NOTE_STEP):
            note_id = int(step.removeprefix(CREDIT_NOTE_STEP))
            transaction.on_commit(lambda: push_credit_note.delay(note_id))
        else:
            transaction.on_commit(lambda: push_invoice.delay(invoice.pk))
    return retried

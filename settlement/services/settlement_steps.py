"""What an operator does with a settlement Stripe refused (a step FAILED on a 4xx): look, then retry the
step with its parameters built afresh under a new key version, or abandon the invoice's settlement
(settled outside Verity). Both leave an entry in the vendor's audit log. Used by
`manage.py settlement_steps` and the admin's actions."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from contracts.audit import audit_record
from core.errors import Conflict
from settlement.models import CreditNote, CreditNoteStatus, Invoice, SettlementStatus, SettlementStep
from settlement.stripe_gateway.client import versioned_key


def settlement_step_retry(
    *, invoice_id: int, step: str, actor: str, now: dt.datetime | None = None
) -> SettlementStep:
    """Let a FAILED step run again: its parameters are frozen anew at the next attempt (from the data as
    it is now, e.g. a corrected customer) and sent under a new key version (the old key stays bound
    to the refused parameters on Stripe's side)."""
    now = now or timezone.now()
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().select_related("vendor").get(pk=invoice_id)
        failed = SettlementStep.objects.select_for_update().filter(invoice=invoice, step=step).first()
        if failed is None or failed.status != SettlementStep.Status.FAILED:
            raise Conflict(f"Invoice {invoice.pk} has no failed step {step!r}.", code="step_not_failed")
        version = failed.key_version + 1
        SettlementStep.objects.filter(pk=failed.pk).update(
            status=SettlementStep.Status.STARTED,
            key_version=version,
            idempotency_key=versioned_key(failed, version),
            attempts=0,  # nothing sent under the new key: its parameters are built afresh
            params={},
            error="",
            started_at=now,
        )
        if not step.startswith("credit_note:"):
            Invoice.objects.filter(pk=invoice.pk, settlement_status=SettlementStatus.BLOCKED).update(
                settlement_status=SettlementStatus.PENDING, stripe_error=""
            )
        audit_record(
            vendor=invoice.vendor,
            actor=actor,
            action="invoice.settlement_step_retried",
            target=invoice,
            at=now,
            details={"step": step, "error": failed.error, "key_version": version},
        )
    failed.refresh_from_db()
    return failed


def settlement_abandon(
    *, invoice_id: int, actor: str, reason: str, now: dt.datetime | None = None
) -> Invoice:
    """Stop settling this invoice through Verity (blocked or pending): an operator settles it elsewhere."""
    now = now or timezone.now()
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().select_related("vendor").get(pk=invoice_id)
        if invoice.settlement_status not in (SettlementStatus.BLOCKED, SettlementStatus.PENDING):
            raise Conflict(
                f"Invoice {invoice.pk}'s settlement is {invoice.settlement_status}: nothing to abandon.",
                code="settlement_not_open",
            )
        Invoice.objects.filter(pk=invoice.pk).update(settlement_status=SettlementStatus.ABANDONED)
        CreditNote.objects.filter(invoice=invoice, status=CreditNoteStatus.PENDING).update(
            status=CreditNoteStatus.NOT_REQUIRED
        )
        audit_record(
            vendor=invoice.vendor,
            actor=actor,
            action="invoice.settlement_abandoned",
            target=invoice,
            at=now,
            details={"reason": reason, "was": invoice.settlement_status},
        )
    invoice.refresh_from_db()
    return invoice

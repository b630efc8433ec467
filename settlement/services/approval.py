"""The customer approves a draft invoice that waits for approval (see settlement.approval)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from contracts.audit import audit_record
from contracts.models import Customer
from core.errors import InvalidTransition, NotFound
from settlement.invoicing.finalize import invoice_finalize
from settlement.models import ApprovalStatus, Invoice


def invoice_approve(
    *, customer: Customer, invoice_id: int | str, actor: str, now: dt.datetime | None = None
) -> Invoice:
    """Record the customer's approval of the draft's current total; finalize it at once if its grace
    period is over. Approving a draft that does not wait for approval is an error, not a no-op, so a
    customer never believes they approved something they did not."""
    now = now or timezone.now()
    with transaction.atomic():
        invoice = (
            Invoice.objects.select_for_update()
            .select_related("contract", "vendor")
            .filter(contract__customer=customer, pk=int(invoice_id))
            .first()
            if str(invoice_id).isdigit()
            else None
        )
        if invoice is None:
            raise NotFound("No such invoice.")
        if not invoice.is_draft:
            raise InvalidTransition("This invoice is already final.", code="invoice_not_draft")
        if invoice.approval_status != ApprovalStatus.PENDING:
            raise InvalidTransition(
                "This draft does not wait for an approval.", code="approval_not_requested"
            )
        invoice.approval_status = ApprovalStatus.APPROVED
        invoice.approved_total_minor = invoice.total_minor
        invoice.approved_at = now
        invoice.approved_by = actor
        invoice.save(update_fields=["approval_status", "approved_total_minor", "approved_at", "approved_by"])
        audit_record(
            vendor=invoice.vendor,
            actor=actor,
            action="invoice.approved",
            target=invoice,
            at=now,
            details={"total_minor": invoice.total_minor, "currency": invoice.currency},
        )
    if invoice.finalize_after <= now:
        invoice = invoice_finalize(invoice_id=invoice.pk, now=now)
    return invoice

"""The customer approves, or contests with a reason, a draft invoice that waits for approval (see
settlement.approval)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from contracts.audit import audit_record
from contracts.models import Customer
from core.errors import InvalidTransition, NotFound, ValidationFailed
from core.events import events_publish
from settlement import domain_events
from settlement.invoicing.finalize import invoice_finalize
from settlement.models import ApprovalStatus, Invoice


def _pending_draft_locked(*, customer: Customer, invoice_id: int | str) -> Invoice:
    """The customer's draft waiting for their approval, locked (an approval and a rebuild or the
    finalize job never interleave); else the error that says why not. Call inside a transaction."""
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
        raise InvalidTransition("This draft does not wait for an approval.", code="approval_not_requested")
    return invoice


def invoice_approve(
    *, customer: Customer, invoice_id: int | str, actor: str, now: dt.datetime | None = None
) -> Invoice:
    """Record the customer's approval of the draft's current total; finalize it at once if its grace
    period is over. Approving a draft that does not wait for approval is an error, not a no-op, so a
    customer never believes they approved something they did not."""
    now = now or timezone.now()
    with transaction.atomic():
        invoice = _pending_draft_locked(customer=customer, invoice_id=invoice_id)
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


CONTEST_REASON_MAX = 2000


def invoice_contest(
    *, customer: Customer, invoice_id: int | str, actor: str, reason: str, now: dt.datetime | None = None
) -> Invoice:
    """Record that the customer contests a draft waiting for their approval, and why: it stays a draft
    waiting for approval (it is never finalized without one), the vendor sees the reason on the invoice
    and in the audit log and is told (`invoice.contested`: its endpoints and, by email, its billing
    contacts), and a rebuild or an approval may follow. Contesting again replaces the reason and tells again.
    The same refusals as approving: not a draft, or a draft that does not wait for approval."""
    now = now or timezone.now()
    reason = reason.strip()
    if not reason:
        raise ValidationFailed.on_field("reason", "required", "Say why you contest this invoice.")
    if len(reason) > CONTEST_REASON_MAX:
        raise ValidationFailed.on_field(
            "reason", "too_long", f"Keep the reason under {CONTEST_REASON_MAX} characters."
        )
    with transaction.atomic():
        invoice = _pending_draft_locked(customer=customer, invoice_id=invoice_id)
        invoice.contested_at, invoice.contested_by, invoice.contest_reason = now, actor, reason
        invoice.save(update_fields=["contested_at", "contested_by", "contest_reason"])
        audit_record(
            vendor=invoice.vendor,
            actor=actor,
            action="invoice.contested",
            target=invoice,
            at=now,
            details={"total_minor": invoice.total_minor, "currency": invoice.currency, "reason": reason},
        )
        events_publish([domain_events.contested(invoice, now=now)])
    return invoice

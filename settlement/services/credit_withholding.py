"""Credits withheld while the customer owes: a credit note that would leave the vendor's hands (refunded,
or put on the customer's Stripe balance, which pays its next invoice) waits while the customer has an
overdue invoice with the same vendor, per contract (`withhold_credits_while_overdue`), and is released
for the normal path to issue once none is overdue.

A credit against an invoice still unpaid is never withheld: it only lowers what that invoice asks, which
is the netting itself (withholding it would ask the customer to pay for outcomes it no longer owes). A
credit note whose Stripe call may already have been made is never withheld: only finishing it is safe.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from contracts.audit import audit_record
from settlement.models import CreditNote, CreditNoteStatus, Invoice, SettlementStep
from settlement.selectors.due import invoices_overdue

ACTOR = "system"  # the audit log's actor for what Verity decides on its own


def credit_withholding_reason(*, invoice: Invoice, paid: bool, now: dt.datetime) -> str:
    """Why a credit against `invoice` (its contract selected) waits, or "" when it goes ahead: its contract
    withholds, the credit would leave (`paid`: the invoice is paid, so nothing is left due to lower) and the
    customer has invoices with the vendor past their due date and unpaid."""
    if not paid or not invoice.contract.withhold_credits_while_overdue:
        return ""
    overdue = invoices_overdue(vendor_id=invoice.vendor_id, customer_id=invoice.contract.customer_id, now=now)
    if not overdue:
        return ""
    noun = "invoice" if len(overdue) == 1 else "invoices"
    numbers = ", ".join(f"#{late.number}" for late in overdue)
    return f"withheld: customer has overdue {noun} {numbers}"[:300]


def credit_note_withheld_audit(*, note: CreditNote, now: dt.datetime) -> None:
    """The audit entry of a credit note withheld (`note` as withheld, its invoice selected). Assumes the
    caller's transaction."""
    audit_record(
        vendor=note.invoice.vendor,
        actor=ACTOR,
        action="credit_note.withheld",
        target=note,
        at=now,
        details={
            "invoice_id": note.invoice_id,
            "amount_minor": note.amount_minor,
            "currency": note.invoice.currency,
            "reason": note.withheld_reason,
        },
    )


def credit_note_withhold(*, credit_note_id: int, reason: str, now: dt.datetime | None = None) -> bool:
    """Withhold a pending credit note for `reason`; False (nothing written) if it is no longer pending or
    its Stripe call has begun. Under the note's lock, so a concurrent push or release cannot interleave."""
    now = now or timezone.now()
    with transaction.atomic():
        note = CreditNote.objects.select_for_update().select_related("invoice__vendor").get(pk=credit_note_id)
        begun = SettlementStep.objects.filter(
            invoice_id=note.invoice_id, step=f"credit_note:{note.pk}"
        ).exists()
        if note.status != CreditNoteStatus.PENDING or begun:
            return False
        note.status, note.withheld_reason, note.withheld_at = CreditNoteStatus.WITHHELD, reason, now
        note.save(update_fields=["status", "withheld_reason", "withheld_at"])
        credit_note_withheld_audit(note=note, now=now)
    return True


def credit_notes_release(*, now: dt.datetime | None = None) -> list[int]:
    """Release every withheld credit note whose customer has no overdue invoice left with its vendor (or
    whose contract no longer withholds): pending again, for the periodic job to issue. Returns their ids."""
    now = now or timezone.now()
    reasons: dict[tuple[Any, Any, bool], str] = {}
    released = []
    withheld = CreditNote.objects.filter(status=CreditNoteStatus.WITHHELD).select_related(
        "invoice__contract", "invoice__vendor"
    )
    for note in withheld.order_by("id"):
        invoice = note.invoice
        # One look at the overdue invoices per customer and vendor, however many credits wait.
        key = (
            invoice.vendor_id,
            invoice.contract.customer_id,
            invoice.contract.withhold_credits_while_overdue,
        )
        if key not in reasons:
            reasons[key] = credit_withholding_reason(invoice=invoice, paid=True, now=now)
        if reasons[key]:
            continue
        with transaction.atomic():
            # Only if still withheld: a release racing another changes the row once.
            if CreditNote.objects.filter(pk=note.pk, status=CreditNoteStatus.WITHHELD).update(
                status=CreditNoteStatus.PENDING, released_at=now
            ):
                audit_record(
                    vendor=invoice.vendor,
                    actor=ACTOR,
                    action="credit_note.released",
                    target=note,
                    at=now,
                    details={"invoice_id": invoice.pk, "withheld_reason": note.withheld_reason},
                )
                released.append(note.pk)
    return released

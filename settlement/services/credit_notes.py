"""Credit notes: what a finalized invoice owes back once outcomes it billed are reversed.

A reversal after billing (a disqualifier before the lock date, a dispute upheld) re-rates the original
period without every reversed outcome, with the code that built the invoice (tiers, free units, caps,
fees, the minimum commitment, audit adjustments), and credits the difference less what earlier credit
notes took off. So a period that still owes its minimum credits nothing (a credit note of 0, kept in
Verity only, records that the reversal was taken into account), and each reversed outcome is taken
into account once (a database-enforced link). On Stripe each credit note is a credit note against
the original Stripe invoice (settlement.stripe_gateway.credit_notes). A credit against a paid invoice
while the customer has an overdue one is made withheld, with the reason (settlement.services.
credit_withholding), and issued once the overdue invoices are paid.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone

from core.events import events_publish
from outcomes.models import OutcomeState
from settlement import domain_events
from settlement.invoicing.rerate import invoice_rerate
from settlement.models import (
    CreditNote,
    CreditNoteOutcome,
    CreditNoteStatus,
    Invoice,
    InvoiceStatus,
    LineKind,
    LineOutcome,
)
from settlement.money import format_minor
from settlement.selectors.invoices import invoice_charges
from settlement.services.credit_withholding import credit_note_withheld_audit, credit_withholding_reason


def _reversed_billed(invoice_ids: list[int] | None = None) -> QuerySet[LineOutcome]:
    """Outcomes billed on a finalized invoice and reversed since, not credited by a clawback line of
    an invoice built before credit notes existed."""
    links = LineOutcome.objects.filter(
        line__kind=LineKind.USAGE, outcome__state=OutcomeState.REVERSED
    ).exclude(line__invoice__status=InvoiceStatus.DRAFT)
    if invoice_ids is not None:
        links = links.filter(line__invoice_id__in=invoice_ids)
    clawed = LineOutcome.objects.filter(line__kind=LineKind.CLAWBACK).values("outcome_id")
    return links.exclude(outcome_id__in=clawed)


def invoices_to_credit() -> list[int]:
    """Finalized invoices with reversed outcomes not yet taken into account by a credit note."""
    return sorted(
        set(
            _reversed_billed()
            .filter(outcome__credit_link__isnull=True)
            .values_list("line__invoice_id", flat=True)
        )
    )


def credit_note_create(*, invoice_id: int, now: dt.datetime | None = None) -> CreditNote | None:
    """The credit note for the outcomes of this invoice reversed since its last one; None if none are.
    Under the invoice's lock, so two runs cannot take the same reversals into account."""
    now = now or timezone.now()
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().select_related("contract", "vendor").get(pk=invoice_id)
        if invoice.is_draft:
            return None
        reversed_ids = set(_reversed_billed([invoice.pk]).values_list("outcome_id", flat=True))
        credited = set(
            CreditNoteOutcome.objects.filter(outcome_id__in=reversed_ids).values_list("outcome_id", flat=True)
        )
        new = sorted(reversed_ids - credited)
        if not new:
            return None
        charges = invoice_charges(invoice=invoice)
        rerated = invoice_rerate(invoice=invoice, excluding=reversed_ids)
        before = (
            CreditNote.objects.filter(invoice=invoice)
            .exclude(status=CreditNoteStatus.VOID)
            .aggregate(total=Sum("amount_minor"))["total"]
            or 0
        )
        # Never negative: fewer units can price higher (volume tiers); a credit note never charges.
        amount = max(charges - rerated - before, 0)
        count = f"{len(new)} outcome{'s' if len(new) != 1 else ''} reversed after billing"
        reason = (
            count
            if amount
            else f"{count}: no credit, the period's charges do not change (minimum commitment)"
        )
        withheld = (
            credit_withholding_reason(invoice=invoice, paid=invoice.status == InvoiceStatus.PAID, now=now)
            if amount
            else ""
        )
        status = CreditNoteStatus.PENDING if amount else CreditNoteStatus.NOT_REQUIRED
        note = CreditNote.objects.create(
            invoice=invoice,
            amount_minor=amount,
            status=CreditNoteStatus.WITHHELD if withheld else status,
            withheld_reason=withheld,
            withheld_at=now if withheld else None,
            reason=reason,
            details={
                "charges_minor": charges,
                "rerated_minor": rerated,
                "credited_before_minor": before,
                "amount": format_minor(amount, invoice.currency),
            },
            created_at=now,
        )
        CreditNoteOutcome.objects.bulk_create(
            CreditNoteOutcome(credit_note=note, outcome_id=outcome_id) for outcome_id in new
        )
        if withheld:
            credit_note_withheld_audit(note=note, now=now)
        events_publish([domain_events.credit_note_created(note, outcomes=len(new))])
    return note

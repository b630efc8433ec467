"""Reads of invoices, their lines and credit notes, scoped to one vendor or customer."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import models
from django.db.models import BooleanField, Count, ExpressionWrapper, Prefetch, Q, QuerySet, Sum

from contracts.models import Customer, Vendor
from core.errors import NotFound
from settlement.models import (
    CreditEntry,
    CreditNote,
    CreditNoteOutcome,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    LineOutcome,
    SettlementStatus,
    SettlementStep,
)

# A month filter matches the periods that overlap the month by more than this: a monthly period in
# any time zone overlaps the neighbouring UTC months by at most 14 hours.
MONTH_OVERLAP = dt.timedelta(days=1)

# Finalized and neither paid, void nor written off: only these can still be overdue.
OWED_STATUSES = (InvoiceStatus.FINALIZED, InvoiceStatus.OPEN, InvoiceStatus.PAYMENT_FAILED)


class CollectionProblem(models.TextChoices):
    """What a vendor has to chase on an invoice (the portal's `?collection=`)."""

    OVERDUE = "overdue", "Overdue"
    FAILED = "failed", "Payment failed"
    BLOCKED = "blocked", "Settlement blocked"


# One definition for the invoice list's filter and badges and the dashboard's "To collect" panel.
COLLECTION_PROBLEMS: dict[str, Q] = {
    CollectionProblem.OVERDUE: Q(overdue_at__isnull=False, status__in=OWED_STATUSES),
    CollectionProblem.FAILED: Q(status=InvoiceStatus.PAYMENT_FAILED),
    CollectionProblem.BLOCKED: Q(settlement_status=SettlementStatus.BLOCKED),
}


def invoice_list(
    *,
    vendor: Vendor,
    contract_id: Any = None,
    status: str | None = None,
    customer_id: Any = None,
    month: dt.date | None = None,
    collection: str | None = None,
) -> QuerySet[Invoice]:
    """A vendor's invoices, optionally of one contract, customer, status, collection problem, or
    billing month (a period that mostly lies in that month, whatever the contract's time zone).
    Each is annotated `is_overdue` (still owed after Stripe reported it overdue)."""
    queryset = (
        Invoice.objects.filter(vendor=vendor)
        .select_related("contract__customer")
        .annotate(
            is_overdue=ExpressionWrapper(
                COLLECTION_PROBLEMS[CollectionProblem.OVERDUE], output_field=BooleanField()
            )
        )
    )
    if contract_id:
        queryset = queryset.filter(contract_id=contract_id)
    if customer_id:
        queryset = queryset.filter(contract__customer_id=customer_id)
    if status:
        queryset = queryset.filter(status=status)
    if collection:
        queryset = queryset.filter(COLLECTION_PROBLEMS[collection])
    if month is not None:
        start = dt.datetime(month.year, month.month, 1, tzinfo=dt.UTC)
        end = dt.datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=dt.UTC)
        queryset = queryset.filter(period_start__lt=end - MONTH_OVERLAP, period_end__gt=start + MONTH_OVERLAP)
    return queryset


def invoice_list_for_customer(
    *, customer: Customer, contract_id: Any = None, status: str | None = None
) -> QuerySet[Invoice]:
    """A customer's invoices (drafts included: a draft may wait for their approval)."""
    return invoice_list(vendor=customer.vendor, contract_id=contract_id, status=status).filter(
        contract__customer=customer
    )


def invoice_get(*, vendor: Vendor, invoice_id: int | str) -> Invoice:
    invoice = None
    if str(invoice_id).isdigit():
        invoice = (
            Invoice.objects.filter(vendor=vendor, pk=int(invoice_id))
            .select_related("contract__customer")
            .prefetch_related(
                Prefetch("lines", queryset=InvoiceLine.objects.order_by("position")),
                Prefetch("settlement_steps", queryset=SettlementStep.objects.order_by("id")),
            )
            .first()
        )
    if invoice is None:
        raise NotFound("No such invoice.")
    return invoice


def invoice_get_for_customer(*, customer: Customer, invoice_id: int | str) -> Invoice:
    """One of the customer's invoices; another customer's (of the same vendor or not) is not found."""
    invoice = (
        Invoice.objects.filter(contract__customer=customer, pk=int(invoice_id)).first()
        if str(invoice_id).isdigit()
        else None
    )
    if invoice is None:
        raise NotFound("No such invoice.")
    return invoice


def invoice_line_get(*, invoice: Invoice, position: int | str) -> InvoiceLine:
    line = invoice.lines.filter(position=position).first() if str(position).isdigit() else None
    if line is None:
        raise NotFound(f"Invoice {invoice.pk} has no line {position}.")
    return line


def line_outcomes(*, invoice: Invoice, position: int) -> QuerySet[LineOutcome]:
    """The outcomes one line bills (or credits), each with its exact share: the drill-down to raw events."""
    line = invoice_line_get(invoice=invoice, position=position)
    return LineOutcome.objects.filter(line=line).select_related("outcome").order_by("outcome_id")


def invoice_credit_notes(*, invoice: Invoice, with_outcome_ids: bool = False) -> QuerySet[CreditNote]:
    """The invoice's credit notes, oldest first, each annotated `outcome_count` (the reversed outcomes
    it took into account); `with_outcome_ids` also prefetches those outcomes' ids."""
    queryset = CreditNote.objects.filter(invoice=invoice).annotate(outcome_count=Count("outcome_links"))
    if with_outcome_ids:
        queryset = queryset.prefetch_related(
            Prefetch(
                "outcome_links",
                queryset=CreditNoteOutcome.objects.only("credit_note_id", "outcome_id").order_by(
                    "outcome_id"
                ),
            )
        )
    return queryset.order_by("id")


# Lines that bill (or credit) outcomes; the others (fees, true-ups) bill none.
OUTCOME_LINE_KINDS = (LineKind.USAGE, LineKind.CLAWBACK, LineKind.AUDIT_ADJUSTMENT)


def invoice_lines_shown(
    *, invoice: Invoice, wanted: str
) -> tuple[list[InvoiceLine], list[InvoiceLine], InvoiceLine | None]:
    """The invoice's lines, those among them that bill outcomes, and the one whose outcomes a page
    shows: the line at position `wanted` (as sent, `?line=`), else the first that bills outcomes."""
    lines = list(invoice.lines.order_by("position"))
    with_outcomes = [line for line in lines if line.kind in OUTCOME_LINE_KINDS]
    line = next((line for line in with_outcomes if str(line.position) == wanted), None)
    if line is None and with_outcomes:
        line = with_outcomes[0]
    return lines, with_outcomes, line


def credit_notes_with_first_outcomes(*, invoice: Invoice, first: int) -> list[dict[str, Any]]:
    """The invoice's credit notes (`note`, with `outcome_count`), each with the ids of the first `first`
    outcomes it reverses (`outcome_ids`): a credit note may reverse many thousands."""
    return [
        {
            "note": note,
            "outcome_ids": list(
                note.outcome_links.order_by("outcome_id").values_list("outcome_id", flat=True)[:first]
            ),
        }
        for note in invoice_credit_notes(invoice=invoice)
    ]


def credit_note_get(*, invoice: Invoice, credit_note_id: int | str) -> CreditNote:
    note = (
        invoice.credit_notes.filter(pk=int(credit_note_id)).first() if str(credit_note_id).isdigit() else None
    )
    if note is None:
        raise NotFound(f"Invoice {invoice.pk} has no credit note {credit_note_id}.")
    return note


def credit_note_outcomes(*, credit_note: CreditNote) -> QuerySet[CreditNoteOutcome]:
    """The reversed outcomes a credit note credits: the drill-down to their trails."""
    return CreditNoteOutcome.objects.filter(credit_note=credit_note).select_related("outcome")


def invoice_credits(*, invoice: Invoice) -> tuple[CreditEntry | None, int]:
    """The credit this invoice carried forward (+) or consumed (-), and its contract's balance now."""
    entry = CreditEntry.objects.filter(invoice=invoice).first()
    balance = CreditEntry.objects.filter(contract_id=invoice.contract_id).aggregate(total=Sum("amount_minor"))
    return entry, balance["total"] or 0


def invoice_charges(*, invoice: Invoice) -> int:
    """What the invoice charged for its own period: its lines but credits carried in from elsewhere
    (clawback and credit-balance lines of invoices built before credit notes existed)."""
    return sum(
        line.amount_minor
        for line in invoice.lines.all()
        if line.kind not in (LineKind.CLAWBACK, LineKind.CREDIT_APPLIED)
    )

"""Reads of the settlement app, scoped to one vendor."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from contracts.errors import NotFound
from contracts.models import Vendor
from settlement.models import Invoice, InvoiceLine, InvoiceStatus, LineOutcome, SettlementStep


def invoice_list(*, vendor: Vendor, contract_id: Any = None, status: str | None = None) -> QuerySet[Invoice]:
    queryset = Invoice.objects.filter(vendor=vendor).select_related("contract")
    if contract_id:
        queryset = queryset.filter(contract_id=contract_id)
    if status:
        queryset = queryset.filter(status=status)
    return queryset


def invoice_get(*, vendor: Vendor, invoice_id: Any) -> Invoice:
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


def line_outcomes(*, invoice: Invoice, position: int) -> QuerySet[LineOutcome]:
    """The outcomes one line bills (or credits), each with its exact share: the drill-down to raw events."""
    line = invoice.lines.filter(position=position).first()
    if line is None:
        raise NotFound(f"Invoice {invoice.pk} has no line {position}.")
    return LineOutcome.objects.filter(line=line).select_related("outcome").order_by("outcome_id")


def invoices_to_push() -> list[int]:
    """Finalized invoices not yet settled in Stripe: new ones, and interrupted settlements to resume."""
    return list(
        Invoice.objects.filter(status=InvoiceStatus.FINALIZED)
        .exclude(settlement_steps__status=SettlementStep.Status.FAILED)
        .order_by("finalized_at", "id")
        .values_list("id", flat=True)
    )

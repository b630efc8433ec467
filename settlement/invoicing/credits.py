"""Credits: the balance a draft applies, and what a finalized invoice carries forward or consumes."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from django.db.models import Sum

from contracts.models import Contract
from settlement.invoicing.drafts import Built, Draft, LineDraft
from settlement.models import (
    CreditEntry,
    Invoice,
    LineKind,
)
from settlement.money import format_minor


def credit_balances(drafts: list[Draft]) -> dict[uuid.UUID, int]:
    """Each contract's credit balance, leaving out the drafts being built (they carry nothing yet)."""
    return dict(
        CreditEntry.objects.filter(contract_id__in={draft.invoice.contract_id for draft in drafts})
        .exclude(invoice_id__in=[draft.invoice.pk for draft in drafts])
        .values("contract_id")
        .annotate(total=Sum("amount_minor"))
        .values_list("contract_id", "total")
    )


def credit_applied_line(contract: Contract, balance: int, subtotal: Decimal) -> LineDraft | None:
    if balance <= 0 or subtotal <= 0:
        return None
    applied = min(Decimal(balance), subtotal)
    return LineDraft(
        kind=LineKind.CREDIT_APPLIED,
        description=f"Credit balance applied ({format_minor(balance, contract.currency)} available)",
        amount=-applied,
        quantity=1,
        details={"balance_minor": balance},
    )


def credit_entries(invoices: list[Invoice], built: dict[int, Built], now: dt.datetime) -> list[CreditEntry]:
    """Credits beyond an invoice's charges carry forward; the credit it applied is consumed."""
    entries = []
    for invoice in invoices:
        applied = -sum(
            line.amount_minor for line in built[invoice.pk].lines if line.kind == LineKind.CREDIT_APPLIED
        )
        if invoice.total_minor < 0 or applied:
            entries.append(
                CreditEntry(
                    contract_id=invoice.contract_id,
                    invoice=invoice,
                    amount_minor=max(-invoice.total_minor, 0) - applied,
                    at=now,
                )
            )
    return entries

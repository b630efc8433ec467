"""What is due: the periods to close, drafts to finalize, invoices and credit notes to push, and what a
customer has left unpaid past its due date."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Max

from contracts.models import Contract, ContractStatus
from settlement.invoicing.drafts import contract_period
from settlement.models import (
    UNPAID_STATUSES,
    ApprovalStatus,
    CreditNote,
    CreditNoteStatus,
    Invoice,
    InvoiceStatus,
    SettlementStatus,
)


def periods_due(*, now: dt.datetime) -> list[tuple[Any, dt.datetime]]:
    """Every (contract, period start) whose period has ended without an invoice, including periods
    missed while the system was down."""
    due = []
    last_closed = dict(Invoice.objects.values_list("contract_id").annotate(last=Max("period_end")))
    for contract in Contract.objects.exclude(status=ContractStatus.DRAFT).order_by("pk"):
        cursor = last_closed.get(contract.pk, contract.starts_at)
        limit = min(now, contract.ends_at) if contract.ends_at else now
        while cursor < limit:
            period = contract_period(contract, cursor)
            if period.end > now:
                break
            due.append((contract.pk, period.start))
            cursor = period.end
    return due


def invoices_due_for_finalize(*, now: dt.datetime) -> list[int]:
    return list(
        Invoice.objects.filter(status=InvoiceStatus.DRAFT, finalize_after__lte=now)
        .exclude(approval_status=ApprovalStatus.PENDING)  # not rebuilt in a loop while it waits
        .order_by("finalize_after", "id")
        .values_list("id", flat=True)
    )


def invoices_to_push() -> list[int]:
    """Finalized invoices whose settlement on Stripe is not complete: new ones, and interrupted ones
    to resume, whatever status Stripe's webhooks gave them meanwhile (blocked ones wait for a person)."""
    return list(
        Invoice.objects.filter(settlement_status=SettlementStatus.PENDING, number__isnull=False)
        .order_by("finalized_at", "id")
        .values_list("id", flat=True)
    )


def credit_notes_to_push() -> list[int]:
    """Credit notes to issue on Stripe (each waits until its invoice is finalized there)."""
    return list(
        CreditNote.objects.filter(status=CreditNoteStatus.PENDING).order_by("id").values_list("id", flat=True)
    )


def invoices_overdue(*, vendor_id: Any, customer_id: Any, now: dt.datetime) -> list[Invoice]:
    """The customer's invoices with this vendor, of any of its contracts, past their due date and still
    unpaid (as `invoice.overdue` counts them), the oldest due first."""
    return list(
        Invoice.objects.filter(
            vendor_id=vendor_id, contract__customer_id=customer_id, status__in=UNPAID_STATUSES, due_at__lt=now
        ).order_by("due_at", "id")
    )

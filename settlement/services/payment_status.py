"""An invoice's payment status as Stripe reports it, only ever moving forward.

Every path that sets a status (the gateway after its collection attempt, Stripe's webhooks, the resync
command) goes through `invoice_status_advance`, which applies a status only if it ranks higher than
the current one (settlement.models.STATUS_RANK): a replayed or late event, or a resync that reads
`open` after a failed attempt, can never move an invoice backwards.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from settlement.models import STATUS_RANK, Invoice, InvoiceStatus
from settlement.money import minor_from_stripe_amount

# Stripe's invoice statuses (https://docs.stripe.com/invoicing/overview#invoice-statuses) → ours.
STATUS_BY_STRIPE_STATUS = {
    "open": InvoiceStatus.OPEN,
    "paid": InvoiceStatus.PAID,
    "void": InvoiceStatus.VOID,
    "uncollectible": InvoiceStatus.UNCOLLECTIBLE,
}


def status_may_advance(current: str, new: str) -> bool:
    return STATUS_RANK[InvoiceStatus(new)] > STATUS_RANK[InvoiceStatus(current)]


def invoice_status_advance(*, invoice_id: int, status: str, **facts: Any) -> bool:
    """Set `status` (and `facts`) if it moves the invoice forward; False (nothing written) otherwise.
    One conditional update: concurrent writers cannot interleave a check and a write."""
    lower = [value for value, rank in STATUS_RANK.items() if rank < STATUS_RANK[InvoiceStatus(status)]]
    if status != InvoiceStatus.PAID:
        facts.pop("paid_at", None)
    return bool(Invoice.objects.filter(pk=invoice_id, status__in=lower).update(status=status, **facts))


def _timestamp(value: Any) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(int(value), tz=dt.UTC) if value else None


def stripe_invoice_facts(stripe_invoice: dict[str, Any]) -> dict[str, Any]:
    """What we keep of a Stripe invoice besides its status: where the customer pays it, when it is
    due, and how Stripe's automatic collection stands. Only the fields the object carries."""
    facts: dict[str, Any] = {}
    if stripe_invoice.get("hosted_invoice_url"):
        facts["stripe_hosted_url"] = stripe_invoice["hosted_invoice_url"]
    if stripe_invoice.get("due_date"):
        facts["due_at"] = _timestamp(stripe_invoice["due_date"])
    if "attempt_count" in stripe_invoice:
        facts["payment_attempts"] = int(stripe_invoice["attempt_count"] or 0)
    if "next_payment_attempt" in stripe_invoice:
        facts["next_payment_attempt_at"] = _timestamp(stripe_invoice["next_payment_attempt"])
    if stripe_invoice.get("status"):
        facts["stripe_status"] = str(stripe_invoice["status"])
    automatic_tax = stripe_invoice.get("automatic_tax") or {}
    if automatic_tax.get("enabled") and stripe_invoice.get("status") not in (None, "draft"):
        tax = int(stripe_invoice.get("total") or 0) - int(stripe_invoice.get("total_excluding_tax") or 0)
        facts["tax_minor"] = minor_from_stripe_amount(tax, str(stripe_invoice.get("currency", "usd")).upper())
    return facts

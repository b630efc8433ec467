"""An invoice's payment status as Stripe reports it, only ever moving forward.

Every path that sets a status (the gateway after its collection attempt, Stripe's webhooks, the resync
command) goes through `invoice_status_advance`, which applies a status only if it ranks higher than
the current one (settlement.models.STATUS_RANK): a replayed or late event, or a resync that reads
`open` after a failed attempt, can never move an invoice backwards.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.events import DomainEvent, events_publish
from settlement import domain_events
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


def invoice_status_advance(*, invoice_id: int, status: str, attempt: int | None = None, **facts: Any) -> bool:
    """Set `status` (and `facts`) if it moves the invoice forward; False (nothing written) otherwise.
    Under the invoice's lock, so concurrent writers cannot interleave a check and a write, and the
    change's event (paid, payment failed: `attempt`, the failed attempt's number) commits with it."""
    if status != InvoiceStatus.PAID:
        facts.pop("paid_at", None)
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().select_related("contract").filter(pk=invoice_id).first()
        if invoice is None or not status_may_advance(invoice.status, status):
            return False
        previous = invoice.status
        Invoice.objects.filter(pk=invoice_id).update(status=status, **facts)
        invoice.refresh_from_db()
        events_publish(payment_events(invoice, previous_status=previous, attempt=attempt, now=timezone.now()))
    return True


def payment_events(
    invoice: Invoice, *, previous_status: str, attempt: int | None, now: dt.datetime
) -> list[DomainEvent]:
    """What an invoice that just got its payment status says: paid once it is, or which attempt failed.
    `invoice` as stored after the change (its contract selected)."""
    if invoice.status == InvoiceStatus.PAID and previous_status != InvoiceStatus.PAID:
        return [domain_events.paid(invoice, previous_status=previous_status, now=now)]
    if invoice.status == InvoiceStatus.PAYMENT_FAILED:
        # The first attempt is the gateway's own `pay`; Stripe numbers the later ones.
        number = attempt or max(invoice.payment_attempts, 1)
        return [
            domain_events.payment_failed(invoice, previous_status=previous_status, attempt=number, now=now)
        ]
    return []


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

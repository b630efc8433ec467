"""Stripe's webhooks: store the raw event first, then apply it to our invoice in its own transaction.

Duplicates are harmless (the event id is the primary key, and an event is applied once); events that
arrive out of order cannot move an invoice backwards (a status only moves to a higher rank, and an
older event's facts never override a newer one's); unknown events are stored and ignored. Stripe's
invoice events (https://docs.stripe.com/api/events/types) are mirrored: finalized, sent, paid,
payment_failed, payment_action_required, marked_uncollectible, voided, overdue, updated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from settlement.models import Invoice, InvoiceStatus, StripeEvent
from settlement.services.payment_status import status_may_advance, stripe_invoice_facts
from settlement.services.stripe_customers import STRIPE_CUSTOMER_EVENTS, stripe_customer_event

STATUS_BY_EVENT = {
    "invoice.finalized": InvoiceStatus.OPEN,
    "invoice.sent": InvoiceStatus.OPEN,
    "invoice.paid": InvoiceStatus.PAID,
    "invoice.payment_succeeded": InvoiceStatus.PAID,
    "invoice.payment_failed": InvoiceStatus.PAYMENT_FAILED,
    "invoice.voided": InvoiceStatus.VOID,
    "invoice.marked_uncollectible": InvoiceStatus.UNCOLLECTIBLE,
    "invoice.payment_action_required": InvoiceStatus.PAYMENT_FAILED,
}


def stripe_event_record(*, event: dict[str, Any]) -> tuple[StripeEvent, bool]:
    """Store a verified event as received; the second copy of an event changes nothing."""
    try:
        with transaction.atomic():
            stored = StripeEvent.objects.create(
                id=event["id"],
                type=event.get("type", ""),
                payload=event,
                created=dt.datetime.fromtimestamp(int(event.get("created", 0)), tz=dt.UTC),
                received_at=timezone.now(),
            )
        return stored, True
    except IntegrityError:
        return StripeEvent.objects.get(pk=event["id"]), False


def stripe_event_process(*, event_id: str) -> None:
    """Apply a stored event to its invoice. Raises on failure (the endpoint then answers 5xx and Stripe retries)."""
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().get(pk=event_id)
        if event.processed_at is not None:
            return
        handler = EVENT_HANDLERS.get(event.type)
        if handler is not None:
            handler(event)
        event.processed_at = timezone.now()
        event.save(update_fields=["processed_at"])


def _invoice_event(event: StripeEvent) -> None:
    stripe_invoice = (event.payload.get("data") or {}).get("object") or {}
    if not stripe_invoice.get("id"):
        return
    invoice = Invoice.objects.select_for_update().filter(stripe_invoice_id=stripe_invoice["id"]).first()
    if invoice is None:
        return
    fields: dict[str, Any] = {}
    if invoice.stripe_event_at is None or event.created >= invoice.stripe_event_at:
        # Facts (attempts, next attempt, Stripe's status) from the newest event only: an older
        # event delivered late says less than what we know.
        fields.update(stripe_invoice_facts(stripe_invoice), stripe_event_at=event.created)
    if event.type == "invoice.overdue" and invoice.overdue_at is None:
        fields["overdue_at"] = event.created
    status = STATUS_BY_EVENT.get(event.type)
    if status is not None and status_may_advance(invoice.status, status):
        fields["status"] = status
        if status == InvoiceStatus.PAID:
            fields.update(
                paid_at=invoice.paid_at or event.created, payment_error="", next_payment_attempt_at=None
            )
        if status == InvoiceStatus.PAYMENT_FAILED:
            fields["payment_error"] = _payment_error(event.type, stripe_invoice)
    if fields:
        Invoice.objects.filter(pk=invoice.pk).update(**fields)


def _payment_error(event_type: str, stripe_invoice: dict[str, Any]) -> str:
    if event_type == "invoice.payment_action_required":
        return "The customer must authenticate the payment (hosted invoice page)."
    attempts = stripe_invoice.get("attempt_count") or 0
    return f"Stripe could not collect the payment (attempt {attempts})."


# Event type -> what applies it (inside the event's transaction, the event row locked).
EVENT_HANDLERS: dict[str, Callable[[StripeEvent], None]] = {
    **dict.fromkeys([*STATUS_BY_EVENT, "invoice.overdue", "invoice.updated"], _invoice_event),
    **dict.fromkeys(STRIPE_CUSTOMER_EVENTS, stripe_customer_event),
}

"""Stripe's webhooks: store the raw event first, then apply it to our invoice in its own transaction.

Duplicates are harmless (the event id is the primary key, and an event is applied once); events that
arrive out of order cannot move an invoice backwards (a settled status is never replaced by an
earlier one, and an older event never overrides a newer one); unknown events are stored and ignored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from settlement.models import Invoice, InvoiceStatus, StripeEvent
from settlement.stripe_gateway import stripe_invoice_facts

STATUS_BY_EVENT = {
    "invoice.finalized": InvoiceStatus.OPEN,
    "invoice.sent": InvoiceStatus.OPEN,
    "invoice.paid": InvoiceStatus.PAID,
    "invoice.payment_succeeded": InvoiceStatus.PAID,
    "invoice.payment_failed": InvoiceStatus.PAYMENT_FAILED,
    "invoice.voided": InvoiceStatus.VOID,
    "invoice.marked_uncollectible": InvoiceStatus.UNCOLLECTIBLE,
}
SETTLED = {InvoiceStatus.PAID, InvoiceStatus.VOID}


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
    obj = (event.payload.get("data") or {}).get("object") or {}
    if not obj.get("id"):
        return
    invoice = Invoice.objects.select_for_update().filter(stripe_invoice_id=obj["id"]).first()
    if invoice is not None:
        _apply(invoice, STATUS_BY_EVENT[event.type], event)


# Event type -> what applies it (inside the event's transaction, the event row locked).
EVENT_HANDLERS: dict[str, Callable[[StripeEvent], None]] = {
    **dict.fromkeys(STATUS_BY_EVENT, _invoice_event),
}


def _apply(invoice: Invoice, status: str, event: StripeEvent) -> None:
    if invoice.stripe_event_at is not None and event.created < invoice.stripe_event_at:
        return  # an older event delivered late
    if invoice.status in SETTLED and status not in SETTLED:
        return  # paid or void is final; a late "payment_failed" cannot undo it
    stripe_invoice = (event.payload.get("data") or {}).get("object") or {}
    invoice.status = status
    invoice.stripe_status = str(stripe_invoice.get("status", ""))
    invoice.stripe_event_at = event.created
    if status == InvoiceStatus.PAID and invoice.paid_at is None:
        invoice.paid_at = event.created
    facts = {name: value for name, value in stripe_invoice_facts(stripe_invoice).items() if value}
    for name, value in facts.items():
        setattr(invoice, name, value)
    invoice.save(update_fields=["status", "stripe_status", "stripe_event_at", "paid_at", *facts])

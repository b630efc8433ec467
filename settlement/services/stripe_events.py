"""Stripe's webhooks: store the raw event first, then apply it to our invoice in its own transaction.

Duplicates are harmless (the event id is the primary key, and an event is applied once); events that
arrive out of order cannot move an invoice backwards (a status only moves to a higher rank, and an
older event's facts never override a newer one's); unknown events are stored and ignored. Stripe's
invoice events (https://docs.stripe.com/api/events/types) are mirrored: finalized, sent, paid,
payment_failed, payment_action_required, marked_uncollectible, voided, overdue, updated.

Each event belongs to one Stripe account, told by the secret that signed it: the deployment's endpoint
(STRIPE_WEBHOOK_SECRET, account ""), the platform's Connect endpoint (STRIPE_CONNECT_WEBHOOK_SECRET, the
event's `account`), or a vendor's own endpoint (its webhook secret, its account). Ids are unique only
within an account, so an event moves only invoices and customers of the vendors of its account.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core import crypto
from core.events import events_publish
from settlement.models import Invoice, InvoiceStatus, StripeConnection, StripeEvent
from settlement.selectors.stripe_accounts import stripe_account_vendors
from settlement.services.payment_status import payment_events, status_may_advance, stripe_invoice_facts
from settlement.services.stripe_customers import STRIPE_CUSTOMER_EVENTS, stripe_customer_event
from settlement.stripe_gateway import event_signed_by

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


class EventNotVerified(Exception):
    """No secret of this endpoint signed the body (or it was signed for another account's endpoint)."""


@dataclass(frozen=True)
class VerifiedEvent:
    event: Any  # the JSON as Stripe sent it; its shape is still to be checked
    account: str  # the Stripe account it belongs to ("" = the deployment's own)


def stripe_event_verify(
    *, payload: bytes, signature_header: str, vendor_id: str | None = None
) -> VerifiedEvent:
    """The event and its account, if a secret of the endpoint it came to signed it: a vendor's own
    endpoint (`vendor_id`) takes its connection's secret; the deployment's endpoint takes
    STRIPE_WEBHOOK_SECRET for its own account's events and, in platform mode, the Connect secret for
    connected accounts' events (those carry `account`). Raises EventNotVerified."""
    if vendor_id is not None:
        connection = _own_account_connection(vendor_id)
        if connection is None or not event_signed_by(
            payload=payload,
            signature_header=signature_header,
            secret=crypto.decrypt(connection.webhook_secret_encrypted),
        ):
            raise EventNotVerified
        event = _parsed(payload)
        if isinstance(event, dict) and event.get("account") not in (None, "", connection.account_id):
            raise EventNotVerified  # a Connect event the vendor's account relays: not its own account's
        return VerifiedEvent(event, connection.account_id)
    own = event_signed_by(
        payload=payload, signature_header=signature_header, secret=settings.STRIPE_WEBHOOK_SECRET
    )
    connect = bool(settings.STRIPE_API_KEY) and event_signed_by(
        payload=payload, signature_header=signature_header, secret=settings.STRIPE_CONNECT_WEBHOOK_SECRET
    )
    if not (own or connect):
        raise EventNotVerified
    event = _parsed(payload)
    account = event.get("account") if isinstance(event, dict) else None
    if account:
        # A connected account's event counts only when the Connect endpoint's secret signed it.
        if not connect or not isinstance(account, str):
            raise EventNotVerified
        return VerifiedEvent(event, account)
    if not own:
        raise EventNotVerified
    return VerifiedEvent(event, "")


def _own_account_connection(vendor_id: str) -> StripeConnection | None:
    try:
        uuid.UUID(vendor_id)
    except ValueError:
        return None
    return StripeConnection.objects.filter(
        vendor_id=vendor_id, mode=StripeConnection.Mode.OWN_ACCOUNT
    ).first()


def _parsed(payload: bytes) -> Any:
    # Keep the raw JSON, not the SDK's object: that one holds Decimals and is not what Stripe sent.
    try:
        return json.loads(payload)
    except ValueError:  # signed, yet not JSON: Stripe never sends that
        raise EventNotVerified from None


def stripe_event_record(*, event: dict[str, Any], account: str = "") -> tuple[StripeEvent, bool]:
    """Store a verified event of `account` as received; the second copy of an event changes nothing.
    The account's connection notes that a signed event arrived (its webhook works)."""
    now = timezone.now()
    if account:
        StripeConnection.objects.filter(account_id=account).update(last_event_at=now)
    try:
        with transaction.atomic():
            stored = StripeEvent.objects.create(
                id=event["id"],
                type=event.get("type", ""),
                account=account,
                payload=event,
                created=dt.datetime.fromtimestamp(int(event.get("created", 0)), tz=dt.UTC),
                received_at=now,
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
    invoice = (
        Invoice.objects.select_for_update()
        .filter(
            stripe_invoice_id=stripe_invoice["id"], vendor__in=stripe_account_vendors(account=event.account)
        )
        .first()
    )
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
    if status in (InvoiceStatus.PAID, InvoiceStatus.PAYMENT_FAILED):
        stored = Invoice.objects.select_related("contract").get(pk=invoice.pk)
        events_publish(
            payment_events(
                stored,
                previous_status=invoice.status,
                attempt=int(stripe_invoice.get("attempt_count") or 0) or None,
                now=timezone.now(),
            )
        )


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

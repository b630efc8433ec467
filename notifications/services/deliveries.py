"""What people ask the dispatcher for: one event sent again, everything since a time sent again, and a test
event to one endpoint. Each keeps the event's `webhook-id`, so a receiver that already has it drops the
copy; each wakes the dispatcher after its commit (the periodic sweep delivers if the broker is down)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from contracts.audit import audit_record
from core.errors import Conflict, ValidationFailed
from notifications.dispatch import wake
from notifications.domain_events import webhook_test_event
from notifications.models import Delivery, DeliveryStatus, Endpoint, Event
from notifications.selectors import endpoint_events


def _refuse_if_disabled(endpoint: Endpoint) -> None:
    if not endpoint.is_enabled:
        raise Conflict(
            "This endpoint is disabled: enable it first, then send again.", code="endpoint_disabled"
        )


def delivery_resend(*, endpoint: Endpoint, event: Event, actor: str) -> Delivery:
    """Make `event`'s delivery to `endpoint` due now (pending again, whatever it ended as), or create it
    if the event never went there. Same event, same `webhook-id`."""
    _refuse_if_disabled(endpoint)
    if not endpoint_events(endpoint=endpoint).filter(pk=event.pk).exists():
        raise ValidationFailed.on_field(
            "event_id", "not_for_this_endpoint", "This endpoint does not receive this event."
        )
    now = timezone.now()
    with transaction.atomic():
        due = Delivery.objects.filter(event=event, endpoint=endpoint)
        if not due.update(status=DeliveryStatus.PENDING, next_attempt_at=now, resend_requested=True):
            # The dispatcher's fan-out may create the same row meanwhile: theirs is pending and due too.
            Delivery.objects.bulk_create(
                [
                    Delivery(
                        event=event,
                        endpoint=endpoint,
                        next_attempt_at=now,
                        created_at=now,
                        resend_requested=True,
                    )
                ],
                ignore_conflicts=True,
            )
        delivery = due.get()
        audit_record(
            vendor=endpoint.vendor,
            actor=actor,
            action="webhook_endpoint.event_resent",
            target=endpoint,
            at=now,
            details={"event": event.webhook_id, "type": event.type},
        )
        transaction.on_commit(wake)
    return delivery


def deliveries_resend_since(*, endpoint: Endpoint, since: dt.datetime, actor: str) -> int:
    """Send again every event the endpoint receives that was recorded at or after `since`: its existing
    deliveries made due now, the missing ones (sent while it was disabled or not yet subscribed) created.
    Returns how many deliveries are due."""
    _refuse_if_disabled(endpoint)
    now = timezone.now()
    if since > now:
        raise ValidationFailed.on_field("since", "in_future", "since must not be in the future.")
    with transaction.atomic():
        events = endpoint_events(endpoint=endpoint).filter(created_at__gte=since)
        remade = Delivery.objects.filter(endpoint=endpoint, event__in=events).update(
            status=DeliveryStatus.PENDING, next_attempt_at=now, resend_requested=True
        )
        missing = events.exclude(deliveries__endpoint=endpoint).values_list("pk", flat=True)
        created = Delivery.objects.bulk_create(
            [
                Delivery(
                    event_id=pk, endpoint=endpoint, next_attempt_at=now, created_at=now, resend_requested=True
                )
                for pk in missing
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )
        audit_record(
            vendor=endpoint.vendor,
            actor=actor,
            action="webhook_endpoint.resent_since",
            target=endpoint,
            at=now,
            details={"since": since.isoformat(), "deliveries": remade + len(created)},
        )
        transaction.on_commit(wake)
    return remade + len(created)


def endpoint_send_test(*, endpoint: Endpoint, actor: str) -> Delivery:
    """Record a `webhook.test` event and its delivery to this endpoint only, due now.

    Written as an event already fanned out, with its one delivery, rather than published for the
    dispatcher to fan out: every endpoint subscribed to all types would receive someone else's test.
    """
    _refuse_if_disabled(endpoint)
    now = timezone.now()
    test = webhook_test_event(
        vendor_id=endpoint.vendor_id,
        endpoint_id=endpoint.pk,
        customer_id=endpoint.customer_id,
        url=endpoint.url,
    )
    with transaction.atomic():
        event = Event.objects.create(
            type=test.type,
            vendor_id=test.vendor_id,
            customer_id=test.customer_id,
            contract_id=test.contract_id,
            object_id=test.object_id,
            data=test.data,
            occurred_at=now,
            created_at=now,
            fanned_out=True,
        )
        delivery = Delivery.objects.create(
            event=event, endpoint=endpoint, next_attempt_at=now, created_at=now, resend_requested=True
        )
        audit_record(
            vendor=endpoint.vendor,
            actor=actor,
            action="webhook_endpoint.test_sent",
            target=endpoint,
            at=now,
            details={"event": event.webhook_id},
        )
        transaction.on_commit(wake)
    return delivery

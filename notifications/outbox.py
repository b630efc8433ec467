"""The outbox's write side: published domain events become rows in the publisher's own transaction.

Registered with core.events by NotificationsConfig.ready. A plain event is one row in a bulk COPY (the
verification pipeline publishes one per outcome that changes state); a once-only event (a dedup key)
is inserted with ON CONFLICT DO NOTHING, so the second publication of a threshold or a reminder is no
event at all. After the commit the dispatcher is woken (notifications.dispatch.wake); if that fails (the
broker is down), the periodic sweep delivers instead: nothing waits on the broker to be recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import orjson
from django.db import transaction
from django.utils import timezone

from core.db.bulk import insert_rows
from core.events import DomainEvent
from notifications.models import Event

COLUMNS = (
    "uid",
    "type",
    "vendor_id",
    "customer_id",
    "contract_id",
    "object_id",
    "data",
    "occurred_at",
    "created_at",
    "dedup_key",
    "fanned_out",
)


def events_record(events: Sequence[DomainEvent]) -> None:
    """Write `events` to the outbox in the caller's transaction; wake the dispatcher after its commit."""
    now = timezone.now()
    plain_rows = []
    once_only = []
    for event in events:
        if event.dedup_key is None:
            plain_rows.append(
                (
                    uuid.uuid4(),
                    event.type,
                    event.vendor_id,
                    event.customer_id,
                    event.contract_id,
                    event.object_id,
                    orjson.dumps(event.data).decode(),
                    event.occurred_at or now,
                    now,
                    None,
                    False,
                )
            )
        else:
            once_only.append(
                Event(
                    type=event.type,
                    vendor_id=event.vendor_id,
                    customer_id=event.customer_id,
                    contract_id=event.contract_id,
                    object_id=event.object_id,
                    data=event.data,
                    occurred_at=event.occurred_at or now,
                    created_at=now,
                    dedup_key=event.dedup_key,
                )
            )
    if plain_rows:
        insert_rows(Event, COLUMNS, plain_rows)
    if once_only:
        Event.objects.bulk_create(once_only, ignore_conflicts=True)
    from notifications.dispatch import wake  # the dispatcher imports the outbox's models, not this module

    transaction.on_commit(wake)

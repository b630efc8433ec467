"""The event types the notifications app publishes itself: an endpoint disabled after failing too long, and
the test event a person sends to one endpoint."""

from __future__ import annotations

import datetime as dt

from core.events import CUSTOMER, VENDOR, DomainEvent, EventType

ENDPOINT_DISABLED = EventType(
    name="endpoint.disabled",
    summary=(
        "A webhook endpoint was disabled because every delivery to it failed for too long; the vendor's "
        "other endpoints are told (the disabled one no longer receives anything)."
    ),
    object="endpoint",
    audiences=frozenset({VENDOR}),
    data_schema={
        "type": "object",
        "properties": {
            "url": {"type": "string", "format": "uri"},
            "previous_state": {"const": "enabled"},
            "state": {"const": "disabled"},
            "reason": {"type": "string"},
            "failing_since": {"type": "string", "format": "date-time"},
            "consecutive_failures": {"type": "integer", "minimum": 1},
        },
        "required": [
            "url",
            "previous_state",
            "state",
            "reason",
            "failing_since",
            "consecutive_failures",
        ],
        "additionalProperties": False,
    },
    example={
        "url": "https://hooks.example.com/verity",
        "previous_state": "enabled",
        "state": "disabled",
        "reason": "Every delivery failed for 72 hours (10 attempts).",
        "failing_since": "2026-03-01T09:00:00Z",
        "consecutive_failures": 10,
    },
)

WEBHOOK_TEST = EventType(
    name="webhook.test",
    summary=(
        'A test event someone sent from the portal or the API ("send test event") to one endpoint only, '
        "to check that it receives and verifies deliveries."
    ),
    object="endpoint",
    audiences=frozenset({VENDOR, CUSTOMER}),
    data_schema={
        "type": "object",
        "properties": {
            "message": {"type": "string"},
            "url": {"type": "string", "format": "uri"},
        },
        "required": ["message", "url"],
        "additionalProperties": False,
    },
    example={
        "message": "A test event from Verity: this endpoint receives and can verify deliveries.",
        "url": "https://hooks.example.com/verity",
    },
)

EVENT_TYPES: tuple[EventType, ...] = (ENDPOINT_DISABLED, WEBHOOK_TEST)


def endpoint_disabled_event(
    *,
    vendor_id: object,
    endpoint_id: object,
    customer_id: object,
    url: str,
    reason: str,
    failing_since: dt.datetime,
    consecutive_failures: int,
    at: dt.datetime,
) -> DomainEvent:
    return DomainEvent(
        type=ENDPOINT_DISABLED.name,
        vendor_id=vendor_id,
        object_id=str(endpoint_id),
        # A customer's endpoint: the event is about that customer (still only the vendor is told).
        customer_id=customer_id,
        contract_id=None,
        occurred_at=at,
        data={
            "url": url,
            "previous_state": "enabled",
            "state": "disabled",
            "reason": reason,
            "failing_since": failing_since.isoformat().replace("+00:00", "Z"),
            "consecutive_failures": consecutive_failures,
        },
    )


def webhook_test_event(
    *, vendor_id: object, endpoint_id: object, customer_id: object, url: str
) -> DomainEvent:
    return DomainEvent(
        type=WEBHOOK_TEST.name,
        vendor_id=vendor_id,
        object_id=str(endpoint_id),
        customer_id=customer_id,
        contract_id=None,
        data={
            "message": "A test event from Verity: this endpoint receives and can verify deliveries.",
            "url": url,
        },
    )

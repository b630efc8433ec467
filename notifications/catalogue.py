"""The catalogue of outbound events: every type the domain apps (and this app) publish, and the Standard
Webhooks envelope a receiver gets for each, as a JSON schema and an example.

The domain apps declare their types in `<app>/domain_events.py` (core.events.EventType: the schema of the
type-specific data only); the envelope's common keys are defined here, once. The OpenAPI document's
`webhooks` section (notifications.api.schema) and docs/webhooks-out.md (notifications.catalogue_docs) are
both built from this module, so the three never disagree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from contracts import domain_events as contract_events
from core.events import CUSTOMER, VENDOR, EventType
from notifications import domain_events as notification_events
from outcomes import domain_events as outcome_events
from settlement import domain_events as settlement_events

# `<object>.<what happened>`, lower case: the names receivers filter on and switch over.
EVENT_NAME = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*$")

COMMON_DATA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["object", "id", "vendor_id", "customer_id", "contract_id", "updated_at", "links"],
    "properties": {
        "object": {
            "type": "string",
            "description": "The kind of object the event is about: `outcome`, `invoice`, `contract`, ...",
        },
        "id": {
            "type": "string",
            "description": "The object's id, as a string (a number for outcomes, disputes, invoices and credit "
            "notes; a UUID for contracts, webhook sources and endpoints).",
        },
        "vendor_id": {"type": "string", "format": "uuid", "description": "The vendor the object belongs to."},
        "customer_id": {
            "type": ["string", "null"],
            "format": "uuid",
            "description": "The customer the object is about; null for the vendor's own objects (an "
            "endpoint, a webhook source).",
        },
        "contract_id": {
            "type": ["string", "null"],
            "format": "uuid",
            "description": "The contract the object is about; null when it is about no one contract.",
        },
        "updated_at": {
            "type": "string",
            "format": "date-time",
            "description": "When the object last changed. Delivery order is not promised: keep the "
            "latest `updated_at` per object and ignore older ones.",
        },
        "links": {
            "type": "object",
            "description": "Where the object is: its page in the portal and its resource in the API.",
            "required": ["portal", "api"],
            "properties": {
                "portal": {"type": "string", "format": "uri"},
                "api": {"type": "string", "format": "uri"},
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}
COMMON_KEYS = frozenset(COMMON_DATA_SCHEMA["properties"])

# The example envelope's common values: fixed, so the generated documentation does not change between runs.
EXAMPLE_BASE_URL = "https://verity.example.com"
EXAMPLE_TIMESTAMP = "2026-11-02T09:30:12.345678Z"
EXAMPLE_UPDATED_AT = "2026-11-02T09:30:12.120000Z"
EXAMPLE_OBJECT_ID = "7f9c2d41-5b1e-4c3a-9e0d-2a6b8c4f1e73"  # objects with UUIDs: a source, an endpoint
EXAMPLE_NUMBERED_ID = "4812"  # objects numbered by the database: an outcome, a dispute, an invoice
EXAMPLE_VENDOR_ID = "0b7e4a52-9c1d-4f6e-8a3b-5d2c1e9f7a60"
EXAMPLE_CUSTOMER_ID = "5e1a9c3d-2b7f-4e8a-b6c0-9d4f2a1e8b35"
EXAMPLE_CONTRACT_ID = "c3d8e2f1-6a4b-4b9c-8e7d-1f0a5b3c2d94"
# Objects that belong to the vendor alone (no customer, no contract): their examples carry nulls there.
VENDOR_OBJECTS = frozenset({"endpoint", "webhook_source"})
NUMBERED_OBJECTS = frozenset({"outcome", "dispute", "invoice", "credit_note"})


def catalogue_problems(event_types: Iterable[EventType]) -> list[str]:
    """What is wrong with a catalogue, one line each; empty when nothing is."""
    problems: list[str] = []
    seen: set[str] = set()
    for event_type in event_types:
        name = event_type.name
        if name in seen:
            problems.append(f"{name}: declared twice")
        seen.add(name)
        if not EVENT_NAME.match(name):
            problems.append(f"{name}: not an `<object>.<what_happened>` name in lower case")
        if VENDOR not in event_type.audiences or not event_type.audiences <= {VENDOR, CUSTOMER}:
            problems.append(
                f"{name}: audiences {sorted(event_type.audiences)}: the vendor's and maybe the customer's"
            )
        schema = event_type.data_schema
        if schema.get("type") != "object" or schema.get("additionalProperties") is not False:
            problems.append(f"{name}: its data schema is not an object with additionalProperties false")
        keys = set(schema.get("properties", {})) | set(schema.get("required", [])) | set(event_type.example)
        problems += [
            f"{name}: `{key}` clashes with the envelope's common data" for key in sorted(keys & COMMON_KEYS)
        ]
        problems += [
            f"{name}: vendor-only `{key}` is not in its data schema"
            for key in sorted(event_type.vendor_only - set(schema.get("properties", {})))
        ]
    return problems


def _collected() -> tuple[EventType, ...]:
    event_types = [
        *contract_events.EVENT_TYPES,
        *outcome_events.EVENT_TYPES,
        *settlement_events.EVENT_TYPES,
        *notification_events.EVENT_TYPES,
    ]
    # Fail at start-up rather than publish a catalogue whose names collide or whose data overwrites the
    # envelope's ids (a customer's endpoint filtering on `contract_id` would be misled).
    problems = catalogue_problems(event_types)
    if problems:
        raise ValueError("The outbound event catalogue is inconsistent:\n" + "\n".join(problems))
    return tuple(sorted(event_types, key=lambda event_type: event_type.name))


EVENT_TYPES: tuple[EventType, ...] = _collected()
EVENT_TYPES_BY_NAME: dict[str, EventType] = {event_type.name: event_type for event_type in EVENT_TYPES}


def envelope_schema(event_type: EventType) -> dict[str, Any]:
    """The JSON schema of the whole body a receiver gets for `event_type` (Standard Webhooks' envelope)."""
    specific = event_type.data_schema
    audience = (
        "the vendor's and the customer's endpoints"
        if CUSTOMER in event_type.audiences
        else "the vendor's endpoints only"
    )
    vendor_only = (
        f" Customer endpoints do not receive {', '.join(f'`{key}`' for key in sorted(event_type.vendor_only))}."
        if event_type.vendor_only and CUSTOMER in event_type.audiences
        else ""
    )
    return {
        "title": event_type.name,
        "description": f"{event_type.summary} Sent to {audience}.{vendor_only}",
        "type": "object",
        "required": ["type", "timestamp", "data"],
        "properties": {
            "type": {"type": "string", "const": event_type.name},
            "timestamp": {
                "type": "string",
                "format": "date-time",
                "description": "When the event was recorded (the outbox row), not when it is delivered.",
            },
            "data": {
                "type": "object",
                "required": [*COMMON_DATA_SCHEMA["required"], *specific.get("required", [])],
                "properties": {
                    **COMMON_DATA_SCHEMA["properties"],
                    "object": {**COMMON_DATA_SCHEMA["properties"]["object"], "const": event_type.object},
                    **specific.get("properties", {}),
                },
                "additionalProperties": False,
            },
        },
        "additionalProperties": False,
    }


def _example_object_id(event_type: EventType) -> str:
    if event_type.object == "contract":
        return EXAMPLE_CONTRACT_ID
    if event_type.object == "audit_sample" and "outcome_id" in event_type.example:
        return str(event_type.example["outcome_id"])  # a sample is known by its outcome's id
    return EXAMPLE_NUMBERED_ID if event_type.object in NUMBERED_OBJECTS else EXAMPLE_OBJECT_ID


def envelope_example(event_type: EventType) -> dict[str, Any]:
    """An example body for `event_type`, as the vendor's endpoints receive it."""
    about_customer = event_type.object not in VENDOR_OBJECTS
    object_id = _example_object_id(event_type)
    path = f"{event_type.object.replace('_', '-')}s/{object_id}"
    return {
        "type": event_type.name,
        "timestamp": EXAMPLE_TIMESTAMP,
        "data": {
            "object": event_type.object,
            "id": object_id,
            "vendor_id": EXAMPLE_VENDOR_ID,
            "customer_id": EXAMPLE_CUSTOMER_ID if about_customer else None,
            "contract_id": EXAMPLE_CONTRACT_ID if about_customer else None,
            "updated_at": EXAMPLE_UPDATED_AT,
            # Illustrative: notifications.payloads.event_links builds the real ones from the URL routes.
            "links": {"portal": f"{EXAMPLE_BASE_URL}/{path}/", "api": f"{EXAMPLE_BASE_URL}/api/v1/{path}"},
            **event_type.example,
        },
    }

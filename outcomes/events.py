"""The outcome event format: its JSON schema (published in the API docs) and a compiled validator.

fastjsonschema compiles the schema to Python once, so per-event validation on the hot path costs
microseconds; semantic checks that need the database (contract, outcome type) come after.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import fastjsonschema
from django.conf import settings

from core.currencies import MINOR_UNITS
from core.jsontext import holds_unstorable_text
from outcomes.models import EventKind

# The limits of one webhook request (settings WEBHOOK_MAX_BATCH_EVENTS, WEBHOOK_MAX_BODY_BYTES).
MAX_BATCH_EVENTS: int = settings.WEBHOOK_MAX_BATCH_EVENTS
MAX_BODY_BYTES: int = settings.WEBHOOK_MAX_BODY_BYTES
EARLIEST_OCCURRED_AT = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Control characters (C0, DEL, C1), refused in ids: they hide in logs and make look-alike ids.
CONTROL_CHARACTERS = r"\u0000-\u001f\u007f-\u009f"

EVENT_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "OutcomeEvent",
    "type": "object",
    "additionalProperties": False,
    # natural_key may instead come from evidence (the outcome type's natural_key_field): checked at ingestion.
    "required": ["id", "kind", "contract", "outcome_type", "occurred_at"],
    "properties": {
        "id": {
            "type": "string",
            "minLength": 1,
            "maxLength": 200,
            "pattern": f"^[^{CONTROL_CHARACTERS}]*$",
            "description": "The sender's id for this event, unique per source; a resend uses the same id. "
            "No control characters.",
        },
        "kind": {"type": "string", "enum": list(EventKind.values)},
        "contract": {
            "type": "string",
            "minLength": 1,
            "maxLength": 100,
            "description": "The contract's reference, as the vendor named it.",
        },
        "outcome_type": {
            "type": "string",
            "minLength": 1,
            "maxLength": 64,
            "description": "An outcome type key of the contract, e.g. ticket.resolved.",
        },
        "natural_key": {
            "type": "string",
            "minLength": 1,
            "maxLength": 200,
            "description": "Identifies the real-world unit of work (the ticket id); events sharing it merge. "
            "Optional when evidence holds the outcome type's natural_key_field (e.g. evidence.ticket_id, "
            "a string or an integer); when both are sent they must be equal (422 natural_key_mismatch).",
        },
        "occurred_at": {
            "type": "string",
            "format": "date-time",
            "maxLength": 40,
            "description": "When it happened: RFC 3339 with an offset, e.g. 2026-11-20T14:03:00Z.",
        },
        "parent_key": {
            "type": ["string", "null"],
            "maxLength": 200,
            "description": "Optional grouping key (conversation, account) for split detection.",
        },
        "value": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "required": ["amount_minor", "currency"],
            "description": "Optional reported value (for success fees), in integer minor units.",
            "properties": {
                "amount_minor": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 10**15,
                    "description": MINOR_UNITS,
                },
                "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            },
        },
        "evidence": {
            "type": "object",
            "maxProperties": 100,
            "description": "Facts the verification rules check (transcript hash, ticket status, …).",
        },
    },
}

BATCH_SCHEMA: dict[str, Any] = {
    "title": "OutcomeEventBatch",
    "type": "object",
    "additionalProperties": False,
    "required": ["events"],
    "properties": {
        "events": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH_EVENTS, "items": EVENT_SCHEMA}
    },
}

_validate_event = fastjsonschema.compile(EVENT_SCHEMA)


def event_problem(event: Any) -> str | None:
    """None when the event matches the schema, else a message naming the field at fault."""
    try:
        _validate_event(event)
    except fastjsonschema.JsonSchemaValueException as exc:
        name = exc.name or "data"
        field = name.removeprefix("data").lstrip(".") or "event"
        if exc.rule == "pattern" and field == "id":
            return "id: must not hold control characters"
        return f"{field}: {str(exc.message).removeprefix(name).strip()}"
    return None


def nul_problem(event: dict[str, Any], canonical: bytes) -> str | None:
    """None unless a string of the event (key or value) holds a NUL character, which PostgreSQL keeps
    in neither text nor jsonb. `canonical` is the event's JSON (orjson, which refuses lone surrogates
    already): only events whose JSON might hold a NUL (an escaped \\u0000) are walked."""
    if b"\\u0000" in canonical and holds_unstorable_text(event):
        return "event: a string holds a NUL character (\\u0000)"
    return None

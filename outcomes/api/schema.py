"""OpenAPI: publish the webhook endpoint and the event JSON schema beside the vendor API.

The endpoint is a plain Django view (kept off DRF for speed), so it is described here by hand
from the very schema the validator compiles.
"""

from __future__ import annotations

from typing import Any

from outcomes.events import BATCH_SCHEMA, EVENT_SCHEMA, MAX_BATCH_EVENTS, MAX_BODY_BYTES

SIGNATURE_HEADERS = [
    (
        "webhook-id",
        "Unique id of this delivery; a resend carries the same id. At most 255 characters, no control characters.",
        "msg_2b1c9f",
    ),
    ("webhook-timestamp", "Integer seconds since the epoch; within 5 minutes of our clock.", "1795000000"),
    ("webhook-signature", "Space-separated `v1,<base64 HMAC-SHA256>` signatures.", "v1,K5oZfzN95Z9UVu1E="),
]

RESULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["webhook_id", "accepted", "duplicates", "rejected", "results"],
    "properties": {
        "webhook_id": {"type": "string"},
        "accepted": {"type": "integer"},
        "duplicates": {"type": "integer"},
        "rejected": {"type": "integer"},
        "results": {
            "type": "array",
            "description": "One entry per input event, in input order.",
            "items": {
                "type": "object",
                "required": ["index", "id", "status"],
                "properties": {
                    "index": {"type": "integer"},
                    "id": {"type": ["string", "null"]},
                    "status": {"type": "string", "enum": ["accepted", "duplicate", "rejected"]},
                    "code": {"type": "string", "description": "Why it was rejected (stable code)."},
                    "message": {"type": "string"},
                },
            },
        },
    },
}


def _without_meta(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != "$schema"}


def _parameters() -> list[dict[str, Any]]:
    return [
        {
            "name": "source_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "format": "uuid"},
        },
        *(
            {
                "name": name,
                "in": "header",
                "required": True,
                "description": text,
                "schema": {"type": "string"},
                "example": example,
            }
            for name, text, example in SIGNATURE_HEADERS
        ),
    ]


def _request_body() -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/OutcomeEvent"},
                        {"$ref": "#/components/schemas/OutcomeEventBatch"},
                    ]
                }
            }
        },
    }


def _responses() -> dict[str, Any]:
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {
        "200": {
            "description": "Stored (or recognised as a resend): a result per event, in input order.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DeliveryResult"}}},
        },
        "400": {
            "description": "`malformed_json`, `invalid_body`, `invalid_batch`, `invalid_event`, "
            "`invalid_webhook_id`.",
            "content": error,
        },
        "401": {
            "description": "`missing_signature_headers`, `invalid_signature`, `invalid_timestamp`, "
            "`timestamp_too_old`, `timestamp_too_new`, `source_revoked`.",
            "content": error,
        },
        "404": {"description": "`unknown_source`.", "content": error},
        "409": {
            "description": "`webhook_id_conflict`, `event_id_conflict`: an id reused with another body.",
            "content": error,
        },
        "413": {"description": "`body_too_large`, `too_many_events`.", "content": error},
        "415": {
            "description": "`unsupported_media_type`: send `application/json`.",
            "content": error,
        },
        "422": {
            "description": "`unknown_contract`, `contract_draft`, `unknown_outcome_type`, `occurred_in_future`, "
            "`currency_mismatch`; for a batch, `all_events_rejected` with per-event results.",
            "content": error,
        },
    }


def add_webhook_endpoint(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular's postprocessing hook: add the event schemas and the webhook endpoint."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["OutcomeEvent"] = _without_meta(EVENT_SCHEMA)
    schemas["OutcomeEventBatch"] = {
        **BATCH_SCHEMA,
        "properties": {
            "events": {
                **BATCH_SCHEMA["properties"]["events"],
                "items": {"$ref": "#/components/schemas/OutcomeEvent"},
            }
        },
    }
    schemas["DeliveryResult"] = RESULT_SCHEMA
    result.setdefault("paths", {})["/webhooks/v1/sources/{source_id}/events"] = {
        "post": {
            "operationId": "webhook_events_post",
            "summary": "Post outcome events (signed with Standard Webhooks)",
            "description": (
                f'One event, or a batch `{{"events": [...]}}` of at most {MAX_BATCH_EVENTS} events and '
                f"{MAX_BODY_BYTES} bytes. Signed with the source's `whsec_` secret (Standard Webhooks). "
                "A 2xx means every accepted event is durably stored. Resending the same delivery (same "
                "webhook-id and body) returns the original answer; each event id counts once per source. "
                "See docs/webhooks.md."
            ),
            "security": [],
            "parameters": _parameters(),
            "requestBody": _request_body(),
            "responses": _responses(),
        }
    }
    return result

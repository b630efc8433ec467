"""OpenAPI: the events Verity sends, as the document's `webhooks` section (OpenAPI 3.1).

One entry per type of the catalogue (notifications.catalogue): the POST a receiver gets, its body's
schema (a component, `<Type>Webhook`) with an example, the Standard Webhooks headers, and the answers
Verity acts on. Built from the same catalogue as docs/webhooks-out.md.
"""

from __future__ import annotations

from typing import Any

from core.events import CUSTOMER, EventType
from notifications.catalogue import EVENT_TYPES, envelope_example, envelope_schema

SIGNATURE_HEADERS = [
    (
        "webhook-id",
        "The event's id (`msg_…`): the same on every retry and every resend, so deduplicate by it.",
        "msg_5f0c3e9a2b7d4c1e8f6a0b3d9e2c7a41",
    ),
    (
        "webhook-timestamp",
        "Integer seconds since the epoch when this attempt was signed; refuse it if far from your clock "
        "(standard libraries allow 5 minutes).",
        "1793611812",
    ),
    (
        "webhook-signature",
        "Space-separated `v1,<base64 HMAC-SHA256 of id.timestamp.body>` signatures: one per secret that "
        "signs, so two during a secret rotation's overlap. Accept the request if any one matches.",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    ),
]

# Declared with the API's resources (core.api.schema.RESOURCE_TAGS), which tag_by_resource publishes.
TAG = "Events sent"
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds (or an HTTP date) to wait before the next attempt; honoured.",
        "schema": {"type": "string"},
    }
}


def component_name(event_type: EventType) -> str:
    """`outcome.billable` → `OutcomeBillableWebhook`."""
    words = event_type.name.replace(".", "_").split("_")
    return "".join(word.capitalize() for word in words) + "Webhook"


def _operation(event_type: EventType) -> dict[str, Any]:
    audience = "vendor and customer endpoints" if CUSTOMER in event_type.audiences else "vendor endpoints"
    return {
        "operationId": f"webhook_out_{event_type.name.replace('.', '_')}",
        "summary": f"{event_type.name}: {event_type.summary}",
        "description": (
            f"Sent to {audience} subscribed to `{event_type.name}` (or to every type). Signed with the "
            "endpoint's secret (Standard Webhooks); delivered at least once, in no promised order. "
            "See docs/webhooks-out.md."
        ),
        "tags": [TAG],
        "security": [],
        "parameters": [
            {
                "name": name,
                "in": "header",
                "required": True,
                "description": text,
                "schema": {"type": "string"},
                "example": example,
            }
            for name, text, example in SIGNATURE_HEADERS
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{component_name(event_type)}"},
                    "example": envelope_example(event_type),
                }
            },
        },
        "responses": {
            "2XX": {"description": "Received: the delivery is done (the body is ignored)."},
            "429": {"description": "Slow down: retried after Retry-After.", "headers": RETRY_AFTER},
            "503": {"description": "Unavailable: retried after Retry-After.", "headers": RETRY_AFTER},
            "default": {
                "description": "Anything else (and a timeout, a redirect, a refused connection) is a "
                "failure: retried on the schedule in docs/webhooks-out.md."
            },
        },
    }


def add_webhooks(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular's postprocessing hook: the catalogue's envelope schemas and the webhooks section."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    webhooks = result.setdefault("webhooks", {})
    for event_type in EVENT_TYPES:
        name = component_name(event_type)
        if name in schemas:
            raise ValueError(f"The component {name} of {event_type.name} is already in the document")
        schemas[name] = envelope_schema(event_type)
        webhooks[event_type.name] = {"post": _operation(event_type)}
    return result

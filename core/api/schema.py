"""OpenAPI post-processing: the shared Error component, every operation's error responses, and one tag
per resource."""

from __future__ import annotations

import re
from typing import Any

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "code", "message", "field_errors"],
    "properties": {
        "status": {"type": "integer", "example": 400},
        "code": {
            "type": "string",
            "description": "Stable machine-readable code.",
            "example": "validation_error",
        },
        "message": {"type": "string", "example": "The request has 1 invalid field."},
        "field_errors": {
            "type": "object",
            "description": "Field path (e.g. terms.outcome_types[0].pricing.tiers) → its errors.",
            "additionalProperties": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
    },
}

ERRORS = {
    "400": "Invalid input: `validation_error`, `malformed_json`, `invalid_body`, `invalid_cursor`, with field_errors.",
    "401": "Missing, unknown or revoked API key: `not_authenticated`, `authentication_failed`.",
    "403": "A read-only key tried to write: `permission_denied`.",
    "404": "No such object for this vendor (another vendor's objects are 404 too): `not_found`.",
    "409": "The object's state forbids this: e.g. `invalid_transition`, `duplicate_reference`, `version_locked`.",
    "413": "The request body is over the size limit: `body_too_large`.",
    "429": "Too many requests: `rate_limited`, with Retry-After.",
    "503": "A service Verity depends on cannot be reached (e.g. `stripe_unavailable`); nothing was changed.",
}
# An operation lists the error statuses the rules below cannot infer (a singleton's 404, a 503) in this
# extension: extend_schema(extensions={ERROR_STATUSES: ["404", "503"]}).
ERROR_STATUSES = "x-error-statuses"


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            statuses = ["401", "429", *operation.pop(ERROR_STATUSES, [])]
            query = {p.get("name") for p in operation.get("parameters", []) if p.get("in") == "query"}
            if "{" in path or "cursor" in query:  # an unknown object, or one a list's filter names
                statuses.append("404")
            if query:  # a filter's value out of its range
                statuses.append("400")
            if method in ("post", "put", "patch", "delete"):
                statuses += ["400", "403", "409", "413"]
            if path.startswith("/webhooks/"):
                statuses = [s for s in statuses if s != "403"]
            responses = operation.setdefault("responses", {})
            for status in sorted(set(statuses)):
                responses.setdefault(status, {"description": ERRORS[status], "content": ref})
    return result


# The API's resources, in the order the docs list them. Each operation gets the one tag of the longest
# path prefix below that holds it ("{}" stands for any path parameter); `make lint` fails on an operation
# left with drf-spectacular's default tag (its path's first word, "v1").
RESOURCE_TAGS: dict[str, str] = {
    "Customers": "The vendor's customers, with the address and tax ids their invoices carry.",
    "Contracts": "A customer's contract: its terms, its versions (amendments) and its lifecycle.",
    "Webhook sources": "Where outcome events come from: each source has its own signing secret.",
    "Events": "The signed webhook endpoint a source posts outcome events to, and the deliveries received.",
    "Outcomes": "Outcomes built from events, with their verification trail.",
    "Review": "Outcomes held for a decision: the review queue, and the vendor's decisions.",
    "Disputes": "Outcomes a customer disputed, and the vendor's responses.",
    "Invoices": "Invoices of closed periods: lines, the outcomes behind a line, credit notes, the printable copy.",
    "Stripe": "The vendor's Stripe account, and each customer's payment setup on Stripe.",
    "API keys": "Keys for this API: the vendor's own, and keys for its customers.",
    "Webhook endpoints": "Where Verity sends signed events: the vendor's endpoints and its customers', "
    "their signing secrets, delivery logs, resends and test events.",
    "Customer outcomes": "Called with a customer's API key: its outcomes, reviews, disputes and attestations.",
    "Customer invoices": "Called with a customer's API key: its invoices, approvals and credit notes.",
    "Customer webhook endpoints": "Called with a customer's API key: the endpoints it registered for its "
    "own events, their secrets, delivery logs, resends and test events.",
    "Customer webhook sources": "Called with a customer's API key: the sources of its own system of record, "
    "created or approved by it (only then do their events speak for it), and their secrets.",
    "Customer caps": "Called with a customer's API key: the caps it sets itself per contract and outcome type, "
    "below the contract's (what exceeds waits for its approval), and their alerts.",
    # The document's `webhooks` section (notifications.api.schema): what Verity posts, not routes it serves.
    "Events sent": "The signed events Verity posts to your endpoints, one per type (docs/webhooks-out.md).",
}
TAG_BY_PATH_PREFIX: dict[str, str] = {
    "/api/v1/customers": "Customers",
    "/api/v1/customers/{}/api-keys": "API keys",
    "/api/v1/customers/{}/stripe": "Stripe",
    "/api/v1/contracts": "Contracts",
    "/api/v1/webhook-sources": "Webhook sources",
    "/api/v1/webhook-sources/{}/deliveries": "Events",
    "/webhooks/v1/sources": "Events",
    "/api/v1/outcomes": "Outcomes",
    "/api/v1/outcomes/{}/review": "Review",
    "/api/v1/review-queue": "Review",
    "/api/v1/verifier-accuracy": "Review",
    "/api/v1/disputes": "Disputes",
    "/api/v1/invoices": "Invoices",
    "/api/v1/stripe-connection": "Stripe",
    "/api/v1/api-keys": "API keys",
    "/api/v1/customer/outcomes": "Customer outcomes",
    "/api/v1/customer/invoices": "Customer invoices",
    "/api/v1/webhook-endpoints": "Webhook endpoints",
    "/api/v1/customer/webhook-endpoints": "Customer webhook endpoints",
    "/api/v1/customer/webhook-sources": "Customer webhook sources",
    "/api/v1/customer/contracts/{}/caps": "Customer caps",
}
PATH_PARAMETER = re.compile(r"\{[^}]*\}")


def resource_tag(path: str) -> str | None:
    """The tag of the longest prefix (whole segments) that holds `path`, or None if none does."""
    segments = PATH_PARAMETER.sub("{}", path).rstrip("/").split("/")
    for end in range(len(segments), 0, -1):
        tag = TAG_BY_PATH_PREFIX.get("/".join(segments[:end]))
        if tag is not None:
            return tag
    return None


def tag_by_resource(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    for path, operations in result.get("paths", {}).items():
        tag = resource_tag(path)
        if tag is not None:
            for operation in operations.values():
                operation["tags"] = [tag]
    result["tags"] = [{"name": name, "description": text} for name, text in RESOURCE_TAGS.items()]
    return result

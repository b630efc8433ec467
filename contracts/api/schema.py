"""OpenAPI post-processing: the shared Error component, and every operation's error responses."""

from __future__ import annotations

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

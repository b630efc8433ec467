"""What the webhook endpoint answers: the response, the error body, and each event's result.

A delivery's answer is built once, for the client and for replays (stored with the delivery).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

ACCEPTED, DUPLICATE, REJECTED = "accepted", "duplicate", "rejected"

# Per-event rejection codes and the HTTP status a single-event request answers with.
EVENT_CODE_STATUS = {
    "invalid_event": 400,
    "unknown_contract": 422,
    "contract_draft": 422,
    "unknown_outcome_type": 422,
    "occurred_in_future": 422,
    "currency_mismatch": 422,
    "natural_key_mismatch": 422,
    "event_id_conflict": 409,
}


@dataclass(frozen=True)
class IngestResponse:
    status: int
    body: dict[str, Any]
    content: bytes | None = field(default=None, compare=False, repr=False)  # body, already serialized
    headers: dict[str, str] = field(default_factory=dict, compare=False)  # e.g. Retry-After

    def json(self) -> bytes:
        return self.content if self.content is not None else orjson.dumps(self.body)


def error_response(
    status: int, code: str, message: str, field_errors: dict[str, Any] | None = None
) -> IngestResponse:
    return IngestResponse(
        status, {"status": status, "code": code, "message": message, "field_errors": field_errors or {}}
    )


@dataclass(slots=True)
class EventOutcome:
    """What happened to one event of a delivery."""

    index: int
    event_id: str | None
    status: str = ACCEPTED
    code: str = ""
    message: str = ""
    row: dict[str, Any] = field(default_factory=dict)
    canonical: bytes = b""  # the event's canonical JSON, for the PostgreSQL insert

    def reject(self, code: str, message: str) -> None:
        self.status, self.code, self.message = REJECTED, code, message

    def as_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {"index": self.index, "id": self.event_id, "status": self.status}
        if self.code:
            result.update(code=self.code, message=self.message)
        return result


def summary(outcomes: list[EventOutcome], webhook_id: str) -> dict[str, Any]:
    counts = {ACCEPTED: 0, DUPLICATE: 0, REJECTED: 0}
    for outcome in outcomes:
        counts[outcome.status] += 1
    return {
        "webhook_id": webhook_id,
        "accepted": counts[ACCEPTED],
        "duplicates": counts[DUPLICATE],
        "rejected": counts[REJECTED],
        "results": [o.as_json() for o in outcomes],
    }


# The event field at fault, for refusals other than invalid_event (whose message starts with it).
CODE_FIELD = {"natural_key_mismatch": "natural_key"}


def single_event_error_response(outcome: EventOutcome) -> IngestResponse:
    path = (
        outcome.message.split(":", 1)[0] if outcome.code == "invalid_event" else CODE_FIELD.get(outcome.code)
    )
    return error_response(
        EVENT_CODE_STATUS[outcome.code],
        outcome.code,
        outcome.message,
        {path: [{"code": outcome.code, "message": outcome.message}]} if path else None,
    )


def all_rejected_response(outcomes: list[EventOutcome], webhook_id: str) -> IngestResponse:
    """The 422 of a batch none of whose events was accepted (nothing stored)."""
    return IngestResponse(
        422,
        {
            "status": 422,
            "code": "all_events_rejected",
            "message": "No event of the batch was accepted; nothing was stored.",
            "field_errors": {},
            **summary(outcomes, webhook_id),
        },
    )

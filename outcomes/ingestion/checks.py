"""Is a request's content acceptable? Its webhook-id, its body, and each of its events.

Per-event work is a compiled schema check and one canonical serialization (hashed, and stored as
the payload); the contracts cited are read once for the whole batch (outcomes.ingestion.contract_facts).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from typing import Any

import orjson

from contracts.models import ContractStatus
from contracts.selectors import WebhookSourceFacts
from outcomes.events import (
    CONTROL_CHARACTERS,
    EARLIEST_OCCURRED_AT,
    MAX_BATCH_EVENTS,
    event_problem,
    nul_problem,
)
from outcomes.ingestion.contract_facts import ContractFacts, NaturalKeyFields, contracts_of
from outcomes.ingestion.responses import DUPLICATE, EventOutcome, IngestResponse, error_response
from outcomes.models import Delivery, RawEvent

CLOCK_SKEW = dt.timedelta(minutes=5)
MAX_WEBHOOK_ID_CHARS: int = Delivery._meta.get_field("webhook_id").max_length  # type: ignore[assignment]
MAX_NATURAL_KEY_CHARS: int = RawEvent._meta.get_field("natural_key").max_length  # type: ignore[assignment]
_CONTROL_CHARACTER = re.compile(f"[{CONTROL_CHARACTERS}]")


def webhook_id_problem(webhook_id: str) -> IngestResponse | None:
    """None for a webhook-id we can store as sent, else the 400 to send: never cut one short, where
    two deliveries would then share an id."""
    if len(webhook_id) > MAX_WEBHOOK_ID_CHARS:
        code, message = "max_length", f"webhook-id holds at most {MAX_WEBHOOK_ID_CHARS} characters."
    elif _CONTROL_CHARACTER.search(webhook_id):
        code, message = "control_characters", "webhook-id must not hold control characters."
    else:
        return None
    return error_response(
        400, "invalid_webhook_id", message, {"webhook-id": [{"code": code, "message": message}]}
    )


def parse_body(body: bytes) -> tuple[list[Any], bool] | IngestResponse:
    """The events of a request and whether it was a batch, or the 400 to send."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return error_response(400, "malformed_json", f"The body is not valid JSON: {exc}.")
    if isinstance(document, dict) and "events" in document:
        events = document["events"]
        if set(document) != {"events"}:
            return error_response(400, "invalid_batch", "A batch is an object with only an `events` array.")
        if not isinstance(events, list) or not events:
            return error_response(400, "invalid_batch", "`events` must be a non-empty array.")
        if len(events) > MAX_BATCH_EVENTS:
            return error_response(413, "too_many_events", f"A batch holds at most {MAX_BATCH_EVENTS} events.")
        return events, True
    if isinstance(document, dict):
        return [document], False
    return error_response(400, "invalid_body", 'Send one event object or {"events": [...]}.')


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(event: Mapping[str, Any]) -> bytes:
    # Key order and whitespace do not make a different event: this is what is hashed, and (on
    # PostgreSQL, whose jsonb keeps no key order either) what is stored as the payload.
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)


def _natural_key(
    event: dict[str, Any], fields: NaturalKeyFields, occurred_at: dt.datetime
) -> str | tuple[str, str]:
    """The event's natural key, or the (code, message) refusing it.

    The key is the event's `natural_key`, else the top-level evidence field the outcome type names
    in `natural_key_field` (of the version in force when the event occurred), a string or an
    integer; when both are sent they must agree. A null in evidence counts as absent.
    """
    field_name = fields[0][1]
    for effective_from, later_name in fields[1:]:
        if effective_from > occurred_at:
            break
        field_name = later_name
    evidence = event.get("evidence")
    held = evidence.get(field_name) if evidence else None
    given = event.get("natural_key")
    if held is None:
        if given is None:
            return (
                "invalid_event",
                f"natural_key: is required (or evidence.{field_name}, the outcome type's natural_key_field)",
            )
        return given
    if type(held) is int:
        held = str(held)
    elif not isinstance(held, str) or not 0 < len(held) <= MAX_NATURAL_KEY_CHARS:
        return (
            "invalid_event",
            f"evidence.{field_name}: the natural key must be a non-empty string of at most "
            f"{MAX_NATURAL_KEY_CHARS} characters or an integer",
        )
    if given is not None and given != held:
        return (
            "natural_key_mismatch",
            f"natural_key {given!r} differs from evidence.{field_name} {held!r}, "
            "the outcome type's natural_key_field.",
        )
    return held


# An event that passed the checks of its own content, waiting for those against its contract.
Screened = tuple[EventOutcome, dict[str, Any], dt.datetime, bytes]


def check_events(source: WebhookSourceFacts, events: list[Any], now: dt.datetime) -> list[EventOutcome]:
    """Each event's result: accepted (with the row to store), a duplicate within the request, or refused.

    First each event's own content, then, with the contracts cited read once for them all, each
    event against its contract.
    """
    outcomes = [
        EventOutcome(
            index, event.get("id") if isinstance(event, dict) and isinstance(event.get("id"), str) else None
        )
        for index, event in enumerate(events)
    ]
    screened, wanted = _screen_events(outcomes, events)
    contracts = contracts_of(source, wanted) if wanted else {}
    _check_against_contracts(screened, contracts, now)
    return outcomes


def _screen_events(
    outcomes: list[EventOutcome], events: list[Any]
) -> tuple[list[Screened], dict[str, set[str]]]:
    """Refuse the events whose content is at fault; the others, and the contracts they cite
    (reference -> outcome types cited)."""
    screened: list[Screened] = []
    wanted: dict[str, set[str]] = {}
    for outcome, event in zip(outcomes, events, strict=True):
        problem = event_problem(event)
        if problem:
            outcome.reject("invalid_event", problem)
            continue
        try:
            occurred_at = dt.datetime.fromisoformat(event["occurred_at"])
            # Comparing also overflows near year 1 (0001-01-01T00:00+23:59), and fails on a naive time.
            too_early = occurred_at < EARLIEST_OCCURRED_AT
        except (ValueError, OverflowError, TypeError):
            outcome.reject("invalid_event", "occurred_at: is not a valid RFC 3339 date-time")
            continue
        if too_early:
            outcome.reject("invalid_event", "occurred_at: must not be before 1970-01-01T00:00:00Z")
            continue
        try:
            canonical = _canonical(event)
        except orjson.JSONEncodeError:  # orjson writes at most 254 levels, where it reads 1,024
            outcome.reject("invalid_event", "evidence: is nested too deeply")
            continue
        problem = nul_problem(event, canonical)
        if problem:
            outcome.reject("invalid_event", problem)
            continue
        screened.append((outcome, event, occurred_at, canonical))
        wanted.setdefault(event["contract"], set()).add(event["outcome_type"])
    return screened, wanted


def _check_against_contracts(
    screened: list[Screened], contracts: Mapping[str, ContractFacts], now: dt.datetime
) -> None:
    """Refuse the events their contract does not take, mark repeats within the request as duplicates,
    and give each accepted event its row."""
    seen: dict[str, str] = {}
    latest = now + CLOCK_SKEW
    for outcome, event, occurred_at, canonical in screened:
        facts = contracts.get(event["contract"])
        value = event.get("value")
        body_sha256 = sha256(canonical)
        if facts is None:
            outcome.reject(
                "unknown_contract", f"No contract {event['contract']!r} for this source's customer."
            )
        elif facts.status == ContractStatus.DRAFT:
            outcome.reject("contract_draft", f"Contract {event['contract']!r} is still a draft.")
        elif event["outcome_type"] not in facts.outcome_type_keys:
            outcome.reject(
                "unknown_outcome_type",
                f"Contract {event['contract']!r} has no outcome type {event['outcome_type']!r}.",
            )
        elif occurred_at > latest:
            outcome.reject("occurred_in_future", "occurred_at is in the future.")
        elif value and value["currency"] != facts.currency:
            outcome.reject(
                "currency_mismatch",
                f"value.currency {value['currency']} is not the contract's {facts.currency}.",
            )
        elif event["id"] in seen:
            if seen[event["id"]] == body_sha256:
                outcome.status = DUPLICATE
            else:
                outcome.reject(
                    "event_id_conflict", f"Event id {event['id']!r} appears twice with different bodies."
                )
        else:
            natural_key = _natural_key(event, facts.natural_key_fields[event["outcome_type"]], occurred_at)
            if isinstance(natural_key, tuple):
                outcome.reject(*natural_key)
                continue
            seen[event["id"]] = body_sha256
            outcome.row = {
                "event_id": event["id"],
                "body_sha256": body_sha256,
                "payload": event,
                "kind": event["kind"],
                "contract_id": facts.id,
                "outcome_type_key": event["outcome_type"],
                "natural_key": natural_key,
                "occurred_at": occurred_at,
            }
            outcome.canonical = canonical

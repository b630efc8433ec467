"""Webhook ingestion: verify, validate, store raw and deduplicate in one transaction, then enqueue.

The request path does only this; outcomes are built by workers. Idempotency is the database's job:
unique (source, webhook id) for deliveries and (source, event id) for events, written with
INSERT … ON CONFLICT DO NOTHING so concurrent resends cannot both count.

The path is built for throughput (docs/performance.md): a source's secrets and a contract's facts
come from a per-process cache of a few seconds; per-event work is a compiled schema check and one
canonical serialization (hashed, and stored as the payload); on PostgreSQL a delivery, its events
and its answer are written by one statement (the events as unnest() of binary arrays, with
server-side parameters); the answer is serialized once, for the client and for replays; and the
build task is enqueued off the request's path, one message per burst (BuildQueue).
"""

from __future__ import annotations

import atexit
import binascii
import datetime as dt
import hashlib
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import orjson
import psycopg
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from contracts.models import Contract, ContractStatus, OutcomeType
from contracts.selectors import WebhookSourceFacts, webhook_source_facts
from outcomes.events import (
    CONTROL_CHARACTERS,
    EARLIEST_OCCURRED_AT,
    MAX_BATCH_EVENTS,
    event_problem,
    nul_problem,
)
from outcomes.models import Delivery, DeliveryResult, RawEvent, TamperEvidence

logger = logging.getLogger(__name__)

CLOCK_SKEW = dt.timedelta(minutes=5)
STORED_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "user-agent")

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


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(event: Mapping[str, Any]) -> bytes:
    # Key order and whitespace do not make a different event: this is what is hashed, and (on
    # PostgreSQL, whose jsonb keeps no key order either) what is stored as the payload.
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)


# --- authenticity ---------------------------------------------------------------------------


def _verify_signature(
    secrets: Sequence[str], body: bytes, headers: Mapping[str, str]
) -> IngestResponse | None:
    """None when any live secret verifies the Standard Webhooks signature, else the 401 to send."""
    if not all(headers.get(name) for name in ("webhook-id", "webhook-timestamp", "webhook-signature")):
        return error_response(
            401, "missing_signature_headers", "Send webhook-id, webhook-timestamp and webhook-signature."
        )
    if not secrets:
        return error_response(
            401, "invalid_signature", "The signature does not match any current secret of this source."
        )
    for secret in secrets:
        try:
            Webhook(secret).verify(body, dict(headers), json_parse=False)
            return None
        except WebhookVerificationError as exc:
            text = str(exc)
            if "too old" in text:
                return error_response(
                    401, "timestamp_too_old", "webhook-timestamp is more than 5 minutes in the past."
                )
            if "too new" in text:
                return error_response(
                    401, "timestamp_too_new", "webhook-timestamp is more than 5 minutes in the future."
                )
            if "Invalid Signature Headers" in text:
                return error_response(
                    401, "invalid_timestamp", "webhook-timestamp must be integer seconds since the epoch."
                )
        except (ValueError, TypeError, binascii.Error):
            # The library raises plain ValueError on a malformed signature header or a non-UTF-8 body.
            return error_response(401, "invalid_signature", "The webhook-signature header is malformed.")
    return error_response(
        401, "invalid_signature", "The signature does not match any current secret of this source."
    )


# --- validation -----------------------------------------------------------------------------

MAX_WEBHOOK_ID_CHARS: int = Delivery._meta.get_field("webhook_id").max_length  # type: ignore[assignment]
MAX_NATURAL_KEY_CHARS: int = RawEvent._meta.get_field("natural_key").max_length  # type: ignore[assignment]
_CONTROL_CHARACTER = re.compile(f"[{CONTROL_CHARACTERS}]")


def _webhook_id_problem(webhook_id: str) -> IngestResponse | None:
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


def _parse_body(body: bytes) -> tuple[list[Any], bool] | IngestResponse:
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


# An outcome type's natural_key_field over the contract's versions: (effective_from, field) from the
# first version, with an entry only where a later version renames it (usually one entry).
NaturalKeyFields = tuple[tuple[dt.datetime, str], ...]


@dataclass(frozen=True)
class ContractFacts:
    id: uuid.UUID
    currency: str
    status: str
    outcome_type_keys: frozenset[str]
    natural_key_fields: Mapping[str, NaturalKeyFields]  # by outcome type key


# A contract's facts, per (vendor, customer, reference), for CONTRACT_CACHE_SECONDS. Only contracts
# past draft are kept: their currency no longer changes and their outcome types only grow (an
# amendment adds a version), and an outcome type missing from a kept copy is looked up afresh;
# so the copy answers exactly as the database would. (One exception, for those seconds: an amendment
# effective at once that renames a natural_key_field is not yet seen by events that name no natural_key.)
CONTRACT_CACHE_SECONDS = 5.0
_CONTRACT_CACHE_MAX = 10_000
_contract_cache: dict[tuple[uuid.UUID, uuid.UUID, str], tuple[float, ContractFacts]] = {}


def _fetch_contracts(source: WebhookSourceFacts, references: set[str]) -> dict[str, ContractFacts]:
    """The source customer's contracts by reference: two queries for the whole batch."""
    rows = list(
        Contract.objects.filter(
            vendor_id=source.vendor_id, customer_id=source.customer_id, reference__in=references
        ).values_list("id", "reference", "currency", "status")
    )
    fields: dict[uuid.UUID, dict[str, NaturalKeyFields]] = {row[0]: {} for row in rows}
    if fields:
        for contract_id, key, effective_from, natural_key_field in (
            OutcomeType.objects.filter(version__contract_id__in=fields)
            .order_by("version__effective_from")
            .values_list("version__contract_id", "key", "version__effective_from", "natural_key_field")
        ):
            known = fields[contract_id].get(key, ())
            if not known or known[-1][1] != natural_key_field:
                fields[contract_id][key] = (*known, (effective_from, natural_key_field))
    return {
        reference: ContractFacts(
            contract_id, currency, status, frozenset(fields[contract_id]), fields[contract_id]
        )
        for contract_id, reference, currency, status in rows
    }


def _contracts_of(source: WebhookSourceFacts, wanted: dict[str, set[str]]) -> dict[str, ContractFacts]:
    """Facts of the contracts events cite (reference -> outcome types cited), cached when safe."""
    now = time.monotonic()
    found: dict[str, ContractFacts] = {}
    missing: set[str] = set()
    for reference, outcome_types in wanted.items():
        cached = _contract_cache.get((source.vendor_id, source.customer_id, reference))
        if cached is not None and cached[0] > now and outcome_types <= cached[1].outcome_type_keys:
            found[reference] = cached[1]
        else:
            missing.add(reference)
    if missing:
        fetched = _fetch_contracts(source, missing)
        if len(_contract_cache) >= _CONTRACT_CACHE_MAX:
            _contract_cache.clear()
        for reference, facts in fetched.items():
            if facts.status != ContractStatus.DRAFT:
                _contract_cache[(source.vendor_id, source.customer_id, reference)] = (
                    now + CONTRACT_CACHE_SECONDS,
                    facts,
                )
        found.update(fetched)
    return found


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


def _check_events(source: WebhookSourceFacts, events: list[Any], now: dt.datetime) -> list[EventOutcome]:
    outcomes = [
        EventOutcome(
            index, event.get("id") if isinstance(event, dict) and isinstance(event.get("id"), str) else None
        )
        for index, event in enumerate(events)
    ]
    valid: list[tuple[EventOutcome, dict[str, Any], dt.datetime, bytes]] = []
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
        valid.append((outcome, event, occurred_at, canonical))
        wanted.setdefault(event["contract"], set()).add(event["outcome_type"])
    contracts = _contracts_of(source, wanted) if wanted else {}
    seen: dict[str, str] = {}
    latest = now + CLOCK_SKEW
    for outcome, event, occurred_at, canonical in valid:
        facts = contracts.get(event["contract"])
        value = event.get("value")
        body_sha256 = _sha256(canonical)
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
    return outcomes


# --- storage --------------------------------------------------------------------------------


def _insert_returning(
    model: type[Model], rows: Sequence[Mapping[str, Any]], conflict: Sequence[str], returning: str
) -> list[Any]:
    """INSERT … ON CONFLICT (…) DO NOTHING RETURNING …: one round trip, the winners' keys back.

    Written by hand because Django's bulk_create(ignore_conflicts=True) cannot tell which rows won.
    """
    if not rows:
        return []
    columns = list(rows[0])
    fields = [model._meta.get_field(name) for name in columns]  # get_field accepts attnames (source_id)
    db_columns = [str(f.column) for f in fields]  # type: ignore[union-attr]
    values_sql = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(rows))
    params: list[Any] = []
    for row in rows:
        for name, model_field in zip(columns, fields, strict=True):
            params.append(model_field.get_db_prep_save(row[name], connection))  # type: ignore[union-attr]
    qn = connection.ops.quote_name
    sql = (
        f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(c) for c in db_columns)}) VALUES {values_sql} "  # noqa: S608
        f"ON CONFLICT ({', '.join(qn(c) for c in conflict)}) DO NOTHING RETURNING {qn(returning)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


# One statement stores a delivery, its new events and (when every event was new, the common case)
# the answer: ON CONFLICT keeps the first delivery of a webhook-id and the first copy of an event id.
# The events come as unnest() of binary arrays, or as one VALUES row for a lone event.
_PG_INSERT_TEMPLATE = f"""
WITH delivery AS (
    INSERT INTO {Delivery._meta.db_table}
        (source_id, webhook_id, received_at, body, body_sha256, headers, event_count)
    VALUES (%(source_id)s, %(webhook_id)s, %(now)s, %(body)b, %(body_sha256)s, %(headers)s::jsonb, %(event_count)s)
    ON CONFLICT (source_id, webhook_id) DO NOTHING
    RETURNING id
), event AS (
    INSERT INTO {RawEvent._meta.db_table}
        (source_id, delivery_id, event_id, body_sha256, payload, kind, contract_id, outcome_type_key,
         natural_key, occurred_at, received_at)
    SELECT %(source_id)s, delivery.id, u.event_id, u.body_sha256, u.payload::jsonb, u.kind, u.contract_id,
           u.outcome_type_key, u.natural_key, u.occurred_at, %(now)s
    FROM delivery CROSS JOIN EVENTS
        AS u(event_id, body_sha256, payload, kind, contract_id, outcome_type_key, natural_key, occurred_at)
    ON CONFLICT (source_id, event_id) DO NOTHING
    RETURNING event_id
), result AS (
    INSERT INTO {DeliveryResult._meta.db_table} (delivery_id, status, body)
    SELECT delivery.id, %(status)s, %(result)s::jsonb FROM delivery
    WHERE (SELECT count(*) FROM event) = %(fresh_count)s
    RETURNING delivery_id
)
SELECT delivery.id, ARRAY(SELECT event_id FROM event), EXISTS (SELECT FROM result) FROM delivery
"""  # noqa: S608
_PG_INSERT_MANY = _PG_INSERT_TEMPLATE.replace(
    "EVENTS",
    """unnest(
        %(event_ids)b::text[], %(body_sha256s)b::text[], %(payloads)b::text[], %(kinds)b::text[],
        %(contract_ids)b::uuid[], %(outcome_type_keys)b::text[], %(natural_keys)b::text[],
        %(occurred_ats)b::timestamptz[]
    )""",
)
_PG_INSERT_ONE = _PG_INSERT_TEMPLATE.replace(
    "EVENTS",
    """(VALUES (
        %(event_ids)s::text, %(body_sha256s)s::text, %(payloads)s::text, %(kinds)s::text,
        %(contract_ids)s::uuid, %(outcome_type_keys)s::text, %(natural_keys)s::text,
        %(occurred_ats)s::timestamptz
    ))""",
)
_PG_INSERT_RESULT = (
    f"INSERT INTO {DeliveryResult._meta.db_table} (delivery_id, status, body) VALUES (%s, %s, %s::jsonb)"  # noqa: S608
)


def _pg_execute(sql: str, params: Any, *, fetch: bool) -> list[Any]:
    """Run one statement with server-side (binary) parameters on Django's connection, in its transaction.

    Django's own cursors bind on the client, which means quoting every value into the SQL text
    (1,000 events: 8,000 values). Errors are still Django's (and mark the connection as they would).
    """
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if fetch else []


def _on_postgres() -> bool:
    connection.ensure_connection()
    return isinstance(connection.connection, psycopg.Connection)


@dataclass
class Stored:
    delivery_id: int
    inserted: set[str]  # ids of the events inserted; the others were stored before
    result_stored: bool  # the optimistic answer (every event new) was stored with them


def _insert_delivery(
    source: WebhookSourceFacts,
    delivery: dict[str, Any],
    fresh: list[EventOutcome],
    now: dt.datetime,
    optimistic: IngestResponse,
) -> Stored | None:
    """Insert the delivery and its new events; None when the webhook-id is taken (a resend).

    On PostgreSQL the `optimistic` answer is stored too, by the same statement, if every event was new.
    """
    if _on_postgres():
        columns: dict[str, Any] = {
            "event_ids": [o.row["event_id"] for o in fresh],
            "body_sha256s": [o.row["body_sha256"] for o in fresh],
            "payloads": [o.canonical.decode() for o in fresh],
            "kinds": [o.row["kind"] for o in fresh],
            "contract_ids": [o.row["contract_id"] for o in fresh],
            "outcome_type_keys": [o.row["outcome_type_key"] for o in fresh],
            "natural_keys": [o.row["natural_key"] for o in fresh],
            "occurred_ats": [o.row["occurred_at"] for o in fresh],
        }
        if len(fresh) == 1:
            columns = {name: values[0] for name, values in columns.items()}
        rows = _pg_execute(
            _PG_INSERT_ONE if len(fresh) == 1 else _PG_INSERT_MANY,
            {
                **delivery,
                **columns,
                "headers": orjson.dumps(delivery["headers"]).decode(),
                "now": now,
                "status": optimistic.status,
                "result": optimistic.json().decode(),
                "fresh_count": len(fresh),
            },
            fetch=True,
        )
        return Stored(rows[0][0], set(rows[0][1]), rows[0][2]) if rows else None
    delivery_ids = _insert_returning(
        Delivery, [{**delivery, "received_at": now}], ("source_id", "webhook_id"), "id"
    )
    if not delivery_ids:
        return None
    rows = [
        {"source_id": source.id, "delivery_id": delivery_ids[0], **o.row, "received_at": now} for o in fresh
    ]
    inserted = set(_insert_returning(RawEvent, rows, ("source_id", "event_id"), "event_id"))
    return Stored(delivery_ids[0], inserted, result_stored=False)


def _settle_lost_events(
    source: WebhookSourceFacts, fresh: list[EventOutcome], inserted: set[str], now: dt.datetime
) -> list[TamperEvidence]:
    """Mark events that were not inserted as duplicates (same body) or conflicts (reused id).

    Returns the (unsaved) evidence of reused ids, for the caller to keep whatever else it keeps.
    """
    lost = [o for o in fresh if o.event_id not in inserted]
    if not lost:
        return []
    existing = dict(
        RawEvent.objects.filter(
            source_id=source.id, event_id__in=[o.row["event_id"] for o in lost]
        ).values_list("event_id", "body_sha256")
    )
    evidence = []
    for outcome in lost:
        original = existing[outcome.row["event_id"]]
        if original == outcome.row["body_sha256"]:
            outcome.status = DUPLICATE
            continue
        outcome.reject("event_id_conflict", "This event id was already used with a different body.")
        evidence.append(
            TamperEvidence(
                source_id=source.id,
                kind=TamperEvidence.Kind.EVENT,
                reused_id=str(outcome.event_id),
                received_at=now,
                body=orjson.dumps(outcome.row["payload"]),
                body_sha256=outcome.row["body_sha256"],
                original_sha256=original,
            )
        )
    return evidence


def _store_result(delivery_id: int, response: IngestResponse) -> None:
    if _on_postgres():
        _pg_execute(_PG_INSERT_RESULT, [delivery_id, response.status, response.json().decode()], fetch=False)
    else:
        DeliveryResult.objects.create(delivery_id=delivery_id, status=response.status, body=response.body)


def _summary(outcomes: list[EventOutcome], webhook_id: str) -> dict[str, Any]:
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


def _single_eventerror_response(outcome: EventOutcome) -> IngestResponse:
    path = (
        outcome.message.split(":", 1)[0] if outcome.code == "invalid_event" else CODE_FIELD.get(outcome.code)
    )
    return error_response(
        EVENT_CODE_STATUS[outcome.code],
        outcome.code,
        outcome.message,
        {path: [{"code": outcome.code, "message": outcome.message}]} if path else None,
    )


def _replay(
    delivery: Delivery,
    body_sha256: str,
    source: WebhookSourceFacts,
    body: bytes,
    headers: dict[str, str],
    now: dt.datetime,
) -> IngestResponse:
    """A delivery id seen before: the original answer for the same body, a conflict for another."""
    if delivery.body_sha256 == body_sha256:
        result = DeliveryResult.objects.get(delivery=delivery)
        return IngestResponse(result.status, result.body)
    TamperEvidence.objects.create(
        source_id=source.id,
        kind=TamperEvidence.Kind.DELIVERY,
        reused_id=delivery.webhook_id,
        received_at=now,
        body=body,
        body_sha256=body_sha256,
        original_sha256=delivery.body_sha256,
        headers=headers,
    )
    return error_response(
        409, "webhook_id_conflict", "This webhook-id was already delivered with a different body."
    )


def _authenticate(
    source_id: str, body: bytes, headers: Mapping[str, str], now: dt.datetime
) -> WebhookSourceFacts | IngestResponse:
    """The source whose live secret signed the request, or the 401/404 to send."""
    try:
        parsed_id = uuid.UUID(source_id)
    except ValueError:
        parsed_id = None
    # Outside the try: a ValueError reading the source (a bad FIELD_ENCRYPTION_KEYS) is a 500, not a 404.
    source = webhook_source_facts(source_id=parsed_id) if parsed_id is not None else None
    for attempt in ("cached", "fresh"):
        if source is None:
            return error_response(404, "unknown_source", "No such webhook source.")
        if source.revoked_at is not None:
            return error_response(401, "source_revoked", "This webhook source is revoked.")
        rejected = _verify_signature(source.live_secrets(now), body, headers)
        if rejected is None:
            return source
        if attempt == "fresh" or rejected.body["code"] != "invalid_signature":
            return rejected
        # The cached secrets may predate a rotation done by another process: read them again.
        source = webhook_source_facts(source_id=source.id, fresh=True)
    raise AssertionError("unreachable")


def delivery_receive(
    *,
    source_id: str,
    body: bytes,
    headers: Mapping[str, str],
    admit: Callable[[], IngestResponse | None] | None = None,
) -> IngestResponse:
    """Authenticate, validate and durably store one webhook request; answer only after commit.

    `admit`, called once the request is known to be the source's own (signed with its secret):
    None to go on, or the answer to send instead (the source's rate limit). Counting only signed
    requests means nobody but the source can spend its budget.
    """
    now = timezone.now()
    lowered = {k.lower(): v for k, v in headers.items()}
    source = _authenticate(source_id, body, lowered, now)
    if isinstance(source, IngestResponse):
        return source
    refusal = admit() if admit is not None else None
    if refusal is not None:
        return refusal
    webhook_id = lowered["webhook-id"]
    problem = _webhook_id_problem(webhook_id)
    if problem is not None:
        return problem
    stored_headers = {name: lowered[name] for name in STORED_HEADERS if name in lowered}
    body_sha256 = _sha256(body)

    def refused(response: IngestResponse) -> IngestResponse:
        # A resend of a delivery id answers as the first delivery did, whatever this body is; the
        # accepting path learns of it from the insert (no lookup), the refusing ones look here.
        earlier = Delivery.objects.filter(source_id=source.id, webhook_id=webhook_id).first()
        if earlier is None:
            return response
        with transaction.atomic():
            return _replay(earlier, body_sha256, source, body, stored_headers, now)

    parsed = _parse_body(body)
    if isinstance(parsed, IngestResponse):
        return refused(parsed)
    events, is_batch = parsed
    outcomes = _check_events(source, events, now)
    if not is_batch and outcomes[0].status == REJECTED:
        return refused(_single_eventerror_response(outcomes[0]))
    if all(o.status == REJECTED for o in outcomes):
        return refused(
            IngestResponse(
                422,
                {
                    "status": 422,
                    "code": "all_events_rejected",
                    "message": "No event of the batch was accepted; nothing was stored.",
                    "field_errors": {},
                    **_summary(outcomes, webhook_id),
                },
            )
        )

    fresh = [o for o in outcomes if o.status == ACCEPTED]
    delivery = {
        "source_id": source.id,
        "webhook_id": webhook_id,
        "body": body,
        "body_sha256": body_sha256,
        "headers": stored_headers,
        "event_count": len(events),
    }
    with transaction.atomic():
        summary = _summary(outcomes, webhook_id)  # the answer if every event is new, as is usual
        optimistic = IngestResponse(200, summary, orjson.dumps(summary))
        stored = _insert_delivery(source, delivery, fresh, now, optimistic)
        if stored is None:
            # This webhook-id was delivered before (or a concurrent copy committed first): a resend.
            return _replay(
                Delivery.objects.get(source_id=source.id, webhook_id=webhook_id),
                body_sha256,
                source,
                body,
                stored_headers,
                now,
            )
        delivery_id = stored.delivery_id
        if stored.result_stored:
            transaction.on_commit(lambda: build_queue.submit(delivery_id), robust=True)
            return optimistic
        evidence = _settle_lost_events(source, fresh, stored.inserted, now)
        if not is_batch and outcomes[0].status == REJECTED:
            # A lone event reusing an id: store nothing of the delivery, only the evidence (below).
            transaction.set_rollback(True)
        else:
            if evidence:
                TamperEvidence.objects.bulk_create(evidence)
            summary = _summary(outcomes, webhook_id)
            response = IngestResponse(200, summary, orjson.dumps(summary))
            _store_result(delivery_id, response)
            if any(o.status == ACCEPTED for o in outcomes):
                transaction.on_commit(lambda: build_queue.submit(delivery_id), robust=True)
            return response
    TamperEvidence.objects.bulk_create(evidence)
    return _single_eventerror_response(outcomes[0])


@cache
def _build_task() -> Any:
    from outcomes.tasks import build_outcomes_for_delivery  # tasks import this module

    return build_outcomes_for_delivery


class BuildQueue:
    """Enqueues outcome building for committed deliveries, off the request's path.

    A web process hands delivery ids to one background thread, which sends what accumulated over
    GATHER_SECONDS (and while it was sending the previous message) as one task: one broker round
    trip per burst instead of one per request (a Celery publish costs more CPU than the rest of a
    single-event request). If a message is lost (broker down, process killed with ids still
    pending), the events stay unlinked and the periodic sweep builds them. In eager mode (no
    broker: the embedded default and the tests) the build runs at once, in the caller.
    """

    GATHER_SECONDS = 0.2

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[int] = []
        self._wake = threading.Event()
        self._pid = 0

    def submit(self, delivery_id: int) -> None:
        task = _build_task()
        if task.app.conf.task_always_eager:
            task.delay(delivery_id)
            return
        with self._lock:
            self._pending.append(delivery_id)
            if self._pid != os.getpid():  # the first use in this process (threads do not survive a fork)
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="verity-build-queue", daemon=True).start()
        self._wake.set()

    def flush(self) -> None:
        from outcomes.tasks import build_outcomes_for_deliveries

        with self._lock:
            delivery_ids, self._pending = self._pending, []
        if not delivery_ids:
            return
        try:
            if len(delivery_ids) == 1:
                _build_task().delay(delivery_ids[0])
            else:
                build_outcomes_for_deliveries.delay(delivery_ids)
        except Exception:
            logger.exception("Could not enqueue deliveries %s; the sweep will build them.", delivery_ids)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(self.GATHER_SECONDS)  # let a burst gather: one message for all of it
            self._wake.clear()
            self.flush()


build_queue = BuildQueue()
atexit.register(build_queue.flush)

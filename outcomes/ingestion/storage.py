"""Storing a delivery: the delivery, its new events and its answer, deduplicated by the database.

Idempotency is the database's job: unique (source, webhook id) for deliveries and (source, event id)
for events, written with INSERT … ON CONFLICT DO NOTHING so concurrent resends cannot both count. On
PostgreSQL a delivery, its events and its answer are written by one prepared statement (the events as
unnest() of binary arrays, with server-side parameters), a lone event's as a transaction of its own;
elsewhere (SQLite) by its twin, one insert per table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from django.db import IntegrityError, connection
from django.db.models import Model

from contracts.selectors import WebhookSourceFacts
from outcomes.ingestion.responses import DUPLICATE, EventOutcome, IngestResponse
from outcomes.models import Delivery, DeliveryResult, RawEvent, TamperEvidence


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
        (source_id, webhook_id, received_at, body, body_sha256, headers, event_count, sender)
    VALUES (%(source_id)s, %(webhook_id)s, %(now)s, %(body)b, %(body_sha256)s, %(headers)s::jsonb, %(event_count)s,
            %(sender)s::inet)
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
# A lone event outside a transaction: the same statement, but an event id stored before aborts it
# (unique_violation) instead of being skipped, so it writes the delivery, its event and its answer, or
# nothing; the caller then takes the transactional path, which tells a duplicate from a conflict.
_PG_INSERT_ALONE = _PG_INSERT_ONE.replace("ON CONFLICT (source_id, event_id) DO NOTHING", "")
_EVENT_ID_UNIQUE = "raw_event_id_unique_per_source"  # RawEvent's unique (source, event id)
_PG_INSERT_RESULT = (
    f"INSERT INTO {DeliveryResult._meta.db_table} (delivery_id, status, body) VALUES (%s, %s, %s::jsonb)"  # noqa: S608
)


def _pg_execute(sql: str, params: Any, *, fetch: bool) -> list[Any]:
    """Run one statement with server-side (binary) parameters on Django's connection, in its transaction.

    Django's own cursors bind on the client, which means quoting every value into the SQL text
    (1,000 events: 8,000 values). Errors are still Django's (and mark the connection as they would).
    Prepared on the connection's first use when connections are kept (CONN_MAX_AGE) and the
    DATABASE_PREPARED_STATEMENTS setting allows: planning the statement cost as much PostgreSQL CPU as
    running it. A connection used for one request only would pay a round trip to prepare for nothing.
    """
    kept = connection.settings_dict["CONN_MAX_AGE"] != 0
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=kept)
        return cursor.fetchall() if fetch else []


def on_postgres() -> bool:
    connection.ensure_connection()
    return isinstance(connection.connection, psycopg.Connection)


@dataclass
class Stored:
    delivery_id: int
    inserted: set[str]  # ids of the events inserted; the others were stored before
    result_stored: bool  # the optimistic answer (every event new) was stored with them


class EventIdTaken(Exception):
    """The lone event's id was stored before: the statement wrote nothing."""


def _pg_insert_params(
    delivery: dict[str, Any], fresh: list[EventOutcome], now: dt.datetime, optimistic: IngestResponse
) -> dict[str, Any]:
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
    return {
        **delivery,
        **columns,
        "headers": orjson.dumps(delivery["headers"]).decode(),
        "now": now,
        "status": optimistic.status,
        "result": optimistic.json().decode(),
        "fresh_count": len(fresh),
    }


def insert_lone_event(
    delivery: dict[str, Any], event: EventOutcome, now: dt.datetime, answer: IngestResponse
) -> int | None:
    """PostgreSQL only, outside a transaction (or in a savepoint): store a delivery of one new event,
    the event and the `answer` by one statement, which is a transaction of its own; no BEGIN and
    COMMIT round trips. Returns the delivery's id, or None when the webhook-id is taken (a resend:
    nothing is written). Raises EventIdTaken when the event id is (nothing is written either)."""
    try:
        rows = _pg_execute(_PG_INSERT_ALONE, _pg_insert_params(delivery, [event], now, answer), fetch=True)
    except IntegrityError as exc:
        if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) == _EVENT_ID_UNIQUE:
            raise EventIdTaken from exc
        raise
    return int(rows[0][0]) if rows else None


def insert_delivery(
    source: WebhookSourceFacts,
    delivery: dict[str, Any],
    fresh: list[EventOutcome],
    now: dt.datetime,
    optimistic: IngestResponse,
) -> Stored | None:
    """Insert the delivery and its new events; None when the webhook-id is taken (a resend).

    On PostgreSQL the `optimistic` answer is stored too, by the same statement, if every event was new.
    """
    if on_postgres():
        rows = _pg_execute(
            _PG_INSERT_ONE if len(fresh) == 1 else _PG_INSERT_MANY,
            _pg_insert_params(delivery, fresh, now, optimistic),
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


def settle_lost_events(
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


def store_result(delivery_id: int, response: IngestResponse) -> None:
    if on_postgres():
        _pg_execute(_PG_INSERT_RESULT, [delivery_id, response.status, response.json().decode()], fetch=False)
    else:
        DeliveryResult.objects.create(delivery_id=delivery_id, status=response.status, body=response.body)

"""Webhook ingestion: verify, validate, store raw and deduplicate in one transaction, then enqueue.

The request path does only this; outcomes are built by workers. Idempotency is the database's job:
unique (source, webhook id) for deliveries and (source, event id) for events, written with
INSERT … ON CONFLICT DO NOTHING so concurrent resends cannot both count.
"""

from __future__ import annotations

import binascii
import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from contracts.models import Contract, ContractStatus, OutcomeType, WebhookSource
from contracts.selectors import webhook_source_live_secrets
from outcomes.events import MAX_BATCH_EVENTS, event_problem
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
    "event_id_conflict": 409,
}


@dataclass(frozen=True)
class IngestResponse:
    status: int
    body: dict[str, Any]


def error_response(
    status: int, code: str, message: str, field_errors: dict[str, Any] | None = None
) -> IngestResponse:
    return IngestResponse(
        status, {"status": status, "code": code, "message": message, "field_errors": field_errors or {}}
    )


@dataclass
class EventOutcome:
    """What happened to one event of a delivery."""

    index: int
    event_id: str | None
    status: str = ACCEPTED
    code: str = ""
    message: str = ""
    row: dict[str, Any] = field(default_factory=dict)

    def reject(self, code: str, message: str) -> None:
        self.status, self.code, self.message = REJECTED, code, message

    def as_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {"index": self.index, "id": self.event_id, "status": self.status}
        if self.code:
            result.update(code=self.code, message=self.message)
        return result


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical_hash(event: Mapping[str, Any]) -> str:
    # Key order and whitespace do not make a different event.
    return _sha256(orjson.dumps(event, option=orjson.OPT_SORT_KEYS))


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


@dataclass(frozen=True)
class ContractFacts:
    id: uuid.UUID
    currency: str
    status: str
    outcome_type_keys: frozenset[str]


def _contracts_of(source: WebhookSource, references: Iterable[str]) -> dict[str, ContractFacts]:
    """The source customer's contracts by reference: two queries for the whole batch."""
    rows = list(
        Contract.objects.filter(
            vendor_id=source.vendor_id, customer_id=source.customer_id, reference__in=set(references)
        ).values_list("id", "reference", "currency", "status")
    )
    keys: dict[uuid.UUID, set[str]] = {row[0]: set() for row in rows}
    for contract_id, key in OutcomeType.objects.filter(version__contract_id__in=keys).values_list(
        "version__contract_id", "key"
    ):
        keys[contract_id].add(key)
    return {
        reference: ContractFacts(contract_id, currency, status, frozenset(keys[contract_id]))
        for contract_id, reference, currency, status in rows
    }


def _check_events(source: WebhookSource, events: list[Any], now: dt.datetime) -> list[EventOutcome]:
    outcomes = [
        EventOutcome(
            index, event.get("id") if isinstance(event, dict) and isinstance(event.get("id"), str) else None
        )
        for index, event in enumerate(events)
    ]
    valid: list[tuple[EventOutcome, dict[str, Any], dt.datetime]] = []
    for outcome, event in zip(outcomes, events, strict=True):
        problem = event_problem(event)
        if problem:
            outcome.reject("invalid_event", problem)
            continue
        try:
            occurred_at = dt.datetime.fromisoformat(event["occurred_at"])
        except ValueError:
            outcome.reject("invalid_event", "occurred_at: is not a valid RFC 3339 date-time")
            continue
        valid.append((outcome, event, occurred_at))
    contracts = _contracts_of(source, {event["contract"] for _, event, _ in valid})
    seen: dict[str, str] = {}
    for outcome, event, occurred_at in valid:
        facts = contracts.get(event["contract"])
        value = event.get("value")
        body_sha256 = _canonical_hash(event)
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
        elif occurred_at > now + CLOCK_SKEW:
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
            seen[event["id"]] = body_sha256
            outcome.row = {
                "event_id": event["id"],
                "body_sha256": body_sha256,
                "payload": event,
                "kind": event["kind"],
                "contract_id": facts.id,
                "outcome_type_key": event["outcome_type"],
                "natural_key": event["natural_key"],
                "occurred_at": occurred_at,
            }
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


def _store_events(
    source: WebhookSource, delivery_id: int, outcomes: list[EventOutcome], now: dt.datetime
) -> list[TamperEvidence]:
    """Insert the new events; mark resends as duplicates and reused ids with other bodies as conflicts.

    Returns the (unsaved) evidence of reused ids, for the caller to keep whatever else it keeps.
    """
    fresh = [o for o in outcomes if o.status == ACCEPTED]
    rows = [{"source_id": source.pk, "delivery_id": delivery_id, **o.row, "received_at": now} for o in fresh]
    inserted = set(_insert_returning(RawEvent, rows, ("source_id", "event_id"), "event_id"))
    lost = [o for o in fresh if o.event_id not in inserted]
    if not lost:
        return []
    existing = dict(
        RawEvent.objects.filter(source=source, event_id__in=[o.row["event_id"] for o in lost]).values_list(
            "event_id", "body_sha256"
        )
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
                source=source,
                kind=TamperEvidence.Kind.EVENT,
                reused_id=str(outcome.event_id),
                received_at=now,
                body=orjson.dumps(outcome.row["payload"]),
                body_sha256=outcome.row["body_sha256"],
                original_sha256=original,
            )
        )
    return evidence


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


def _single_eventerror_response(outcome: EventOutcome) -> IngestResponse:
    path = outcome.message.split(":", 1)[0] if outcome.code == "invalid_event" else outcome.code
    return error_response(
        EVENT_CODE_STATUS[outcome.code],
        outcome.code,
        outcome.message,
        {path: [{"code": outcome.code, "message": outcome.message}]}
        if outcome.code == "invalid_event"
        else None,
    )


def _replay(
    delivery: Delivery,
    body_sha256: str,
    source: WebhookSource,
    body: bytes,
    headers: dict[str, str],
    now: dt.datetime,
) -> IngestResponse:
    """A delivery id seen before: the original answer for the same body, a conflict for another."""
    if delivery.body_sha256 == body_sha256:
        result = DeliveryResult.objects.get(delivery=delivery)
        return IngestResponse(result.status, result.body)
    TamperEvidence.objects.create(
        source=source,
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


def delivery_receive(*, source_id: str, body: bytes, headers: Mapping[str, str]) -> IngestResponse:
    """Authenticate, validate and durably store one webhook request; answer only after commit."""
    now = timezone.now()
    try:
        source = WebhookSource.objects.get(pk=uuid.UUID(source_id))
    except (ValueError, WebhookSource.DoesNotExist):
        return error_response(404, "unknown_source", "No such webhook source.")
    if source.revoked_at is not None:
        return error_response(401, "source_revoked", "This webhook source is revoked.")
    lowered = {k.lower(): v for k, v in headers.items()}
    rejected = _verify_signature(webhook_source_live_secrets(source=source, at=now), body, lowered)
    if rejected:
        return rejected
    webhook_id = lowered["webhook-id"][:255]
    stored_headers = {name: lowered[name] for name in STORED_HEADERS if name in lowered}
    body_sha256 = _sha256(body)

    earlier = Delivery.objects.filter(source=source, webhook_id=webhook_id).first()
    if earlier is not None:
        with transaction.atomic():
            return _replay(earlier, body_sha256, source, body, stored_headers, now)

    parsed = _parse_body(body)
    if isinstance(parsed, IngestResponse):
        return parsed
    events, is_batch = parsed
    outcomes = _check_events(source, events, now)
    if not is_batch and outcomes[0].status == REJECTED:
        return _single_eventerror_response(outcomes[0])
    if all(o.status == REJECTED for o in outcomes):
        return IngestResponse(
            422,
            {
                "status": 422,
                "code": "all_events_rejected",
                "message": "No event of the batch was accepted; nothing was stored.",
                "field_errors": {},
                **_summary(outcomes, webhook_id),
            },
        )

    with transaction.atomic():
        delivery_ids = _insert_returning(
            Delivery,
            [
                {
                    "source_id": source.pk,
                    "webhook_id": webhook_id,
                    "received_at": now,
                    "body": body,
                    "body_sha256": body_sha256,
                    "headers": stored_headers,
                    "event_count": len(events),
                }
            ],
            ("source_id", "webhook_id"),
            "id",
        )
        if not delivery_ids:
            # A concurrent request with the same webhook-id committed first: answer as a resend.
            return _replay(
                Delivery.objects.get(source=source, webhook_id=webhook_id),
                body_sha256,
                source,
                body,
                stored_headers,
                now,
            )
        delivery_id = delivery_ids[0]
        evidence = _store_events(source, delivery_id, outcomes, now)
        if not is_batch and outcomes[0].status == REJECTED:
            # A lone event reusing an id: store nothing of the delivery, only the evidence (below).
            transaction.set_rollback(True)
        else:
            TamperEvidence.objects.bulk_create(evidence)
            response = IngestResponse(200, _summary(outcomes, webhook_id))
            DeliveryResult.objects.create(delivery_id=delivery_id, status=response.status, body=response.body)
            if any(o.status == ACCEPTED for o in outcomes):
                transaction.on_commit(lambda: _enqueue_build(delivery_id), robust=True)
            return response
    TamperEvidence.objects.bulk_create(evidence)
    return _single_eventerror_response(outcomes[0])


def _enqueue_build(delivery_id: int) -> None:
    from outcomes.tasks import build_outcomes_for_delivery

    build_outcomes_for_delivery.delay(delivery_id)

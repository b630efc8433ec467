"""Receiving one webhook request: authenticate, check, store raw and deduplicate in one transaction, enqueue.

The request path does only this; outcomes are built by workers. The path is built for throughput
(docs/performance.md): a source's secrets and a contract's facts come from a per-process cache of a
few seconds (outcomes.ingestion.contract_facts); each event is checked once (checks); a delivery, its
events and its answer are stored by one statement (storage); the answer is serialized once, for the
client and for replays (replay); and the build task is enqueued off the request's path, one message
per burst (build_queue).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from django.db import connection, transaction
from django.utils import timezone

from contracts.selectors import WebhookSourceFacts
from outcomes.ingestion.authenticity import authenticate
from outcomes.ingestion.build_queue import build_queue
from outcomes.ingestion.checks import check_events, parse_body, sha256, webhook_id_problem
from outcomes.ingestion.replay import refusal_or_replay, replay
from outcomes.ingestion.responses import (
    ACCEPTED,
    REJECTED,
    EventOutcome,
    IngestResponse,
    all_rejected_response,
    single_event_error_response,
    summary,
)
from outcomes.ingestion.storage import (
    EventIdTaken,
    insert_delivery,
    insert_lone_event,
    on_postgres,
    settle_lost_events,
    store_result,
)
from outcomes.models import Delivery, TamperEvidence

STORED_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "user-agent")


def delivery_receive(
    *,
    source_id: str,
    body: bytes,
    headers: Mapping[str, str],
    sender: str | None = None,
    admit: Callable[[], IngestResponse | None] | None = None,
) -> IngestResponse:
    """Authenticate, validate and durably store one webhook request; answer only after commit.

    `sender`: the address the request came from (core.networks.sender_address), stored with it.

    `admit`, called once the request is known to be the source's own (signed with its secret):
    None to go on, or the answer to send instead (the source's rate limit). Counting only signed
    requests means nobody but the source can spend its budget.
    """
    now = timezone.now()
    lowered = {k.lower(): v for k, v in headers.items()}
    source = authenticate(source_id, body, lowered, now)
    if isinstance(source, IngestResponse):
        return source
    refusal = admit() if admit is not None else None
    if refusal is not None:
        return refusal
    webhook_id = lowered["webhook-id"]
    problem = webhook_id_problem(webhook_id)
    if problem is not None:
        return problem
    stored_headers = {name: lowered[name] for name in STORED_HEADERS if name in lowered}
    return _receive_events(source, webhook_id, body, stored_headers, sender, now)


def _receive_events(
    source: WebhookSourceFacts,
    webhook_id: str,
    body: bytes,
    headers: dict[str, str],
    sender: str | None,
    now: dt.datetime,
) -> IngestResponse:
    """Check the events of a signed request and store those accepted, or answer why none is."""
    body_sha256 = sha256(body)

    def refused(response: IngestResponse) -> IngestResponse:
        return refusal_or_replay(
            response,
            source=source,
            webhook_id=webhook_id,
            body_sha256=body_sha256,
            body=body,
            headers=headers,
            now=now,
        )

    parsed = parse_body(body)
    if isinstance(parsed, IngestResponse):
        return refused(parsed)
    events, is_batch = parsed
    outcomes = check_events(source, events, now)
    if not is_batch and outcomes[0].status == REJECTED:
        return refused(single_event_error_response(outcomes[0]))
    if all(o.status == REJECTED for o in outcomes):
        return refused(all_rejected_response(outcomes, webhook_id))
    delivery = {
        "source_id": source.id,
        "webhook_id": webhook_id,
        "body": body,
        "body_sha256": body_sha256,
        "headers": headers,
        "event_count": len(events),
        "sender": sender,
    }
    return _store(source, delivery, outcomes, is_batch=is_batch, now=now)


def _store(
    source: WebhookSourceFacts,
    delivery: dict[str, Any],
    outcomes: list[EventOutcome],
    *,
    is_batch: bool,
    now: dt.datetime,
) -> IngestResponse:
    """Store the delivery and its accepted events in one transaction, with the answer; enqueue the
    build on commit. A resend of the webhook-id replays instead; a lone event reusing an event id
    stores only the evidence of it."""
    webhook_id = delivery["webhook_id"]
    fresh = [o for o in outcomes if o.status == ACCEPTED]
    result = summary(outcomes, webhook_id)  # the answer if every event is new, as is usual
    optimistic = IngestResponse(200, result, orjson.dumps(result))
    if not is_batch and on_postgres():
        # The usual lone event: one statement, its own transaction (a savepoint inside a caller's).
        try:
            with transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext():
                lone_id = insert_lone_event(delivery, fresh[0], now, optimistic)
        except EventIdTaken:
            pass  # stored before, by this or a concurrent delivery: the path below tells which
        else:
            if lone_id is None:
                return _resend(source, delivery, now)
            transaction.on_commit(lambda: build_queue.submit(lone_id), robust=True)
            return optimistic
    with transaction.atomic():
        stored = insert_delivery(source, delivery, fresh, now, optimistic)
        if stored is None:
            return _resend(source, delivery, now)
        delivery_id = stored.delivery_id
        if stored.result_stored:
            transaction.on_commit(lambda: build_queue.submit(delivery_id), robust=True)
            return optimistic
        evidence = settle_lost_events(source, fresh, stored.inserted, now)
        if not is_batch and outcomes[0].status == REJECTED:
            # A lone event reusing an id: store nothing of the delivery, only the evidence (below).
            transaction.set_rollback(True)
        else:
            if evidence:
                TamperEvidence.objects.bulk_create(evidence)
            result = summary(outcomes, webhook_id)
            response = IngestResponse(200, result, orjson.dumps(result))
            store_result(delivery_id, response)
            if any(o.status == ACCEPTED for o in outcomes):
                transaction.on_commit(lambda: build_queue.submit(delivery_id), robust=True)
            return response
    TamperEvidence.objects.bulk_create(evidence)
    return single_event_error_response(outcomes[0])


def _resend(source: WebhookSourceFacts, delivery: dict[str, Any], now: dt.datetime) -> IngestResponse:
    """This webhook-id was delivered before (or a concurrent copy committed first): the replay."""
    return replay(
        Delivery.objects.get(source_id=source.id, webhook_id=delivery["webhook_id"]),
        delivery["body_sha256"],
        source,
        delivery["body"],
        delivery["headers"],
        now,
    )

"""Merge stored raw events into outcomes: one per (contract, outcome type, natural key), then verify them.

Runs in workers. Idempotent: a raw event is linked to its outcome at most once (unique link), so
processing a delivery twice, or a sweep racing a task, changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from outcomes import counters
from outcomes.models import Outcome, OutcomeEvent, OutcomeState, OutcomeTransition, RawEvent
from outcomes.services.verification import outcomes_evaluate

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = "system:ingestion"
# How long a stored event is left to the task enqueued for it before the sweep takes it (default 60 s).
SWEEP_GRACE = dt.timedelta(seconds=settings.OUTCOMES_SWEEP_GRACE_SECONDS)

OutcomeKey = tuple[Any, str, str]


def _key(event: RawEvent) -> OutcomeKey:
    return (event.contract_id, event.outcome_type_key, event.natural_key)


def _build(events: list[RawEvent], now: dt.datetime) -> tuple[int, list[int]]:
    """Create missing outcomes, link events, and move new outcomes received → pending. Assumes a transaction.

    Returns how many outcomes are new and the ids of every outcome the events touched.
    """
    if not events:
        return 0, []
    first_by_key: dict[OutcomeKey, RawEvent] = {}
    for event in sorted(events, key=lambda e: (e.occurred_at, e.id)):
        first_by_key.setdefault(_key(event), event)
    _create_missing(first_by_key, now)
    outcomes = _lock(first_by_key)
    OutcomeEvent.objects.bulk_create(
        [OutcomeEvent(outcome=outcomes[_key(event)], raw_event=event, linked_at=now) for event in events],
        ignore_conflicts=True,
    )
    fresh = [o for key, o in outcomes.items() if key in first_by_key and o.state == OutcomeState.RECEIVED]
    deltas = counters.Deltas()
    _record_fresh(fresh, first_by_key, deltas, now)
    # The counters last: a transaction holding them waits for nothing more (see outcomes.counters).
    counters.apply(deltas)
    # The outcomes the events joined, and those sharing their natural key under another outcome type: the
    # customer's record of it under one type is a disagreement with the vendor's claim of another
    # (outcomes.rules.system_of_record), judged again whichever arrived first. (When it occurred, its value
    # and task are settled by the verification below, from all its events, whatever their arrival order.)
    named = {(event.contract_id, event.natural_key) for event in events}
    touched = {
        o.pk for (contract_id, _, natural_key), o in outcomes.items() if (contract_id, natural_key) in named
    }
    # Due for evaluation now, committed with the links: if the worker dies before the evaluation
    # below runs, the beat's evaluate_due_outcomes finds them (the links hide the events from a rerun).
    Outcome.objects.filter(Q(hold_until__isnull=True) | Q(hold_until__gt=now), pk__in=touched).update(
        hold_until=now
    )
    return len(fresh), sorted(touched)


def _create_missing(first_by_key: dict[OutcomeKey, RawEvent], now: dt.datetime) -> None:
    """An outcome, as received, for each key that has none yet (from the key's first event)."""
    Outcome.objects.bulk_create(
        [
            Outcome(
                vendor_id=event.source.vendor_id,
                contract_id=event.contract_id,
                outcome_type_key=event.outcome_type_key,
                natural_key=event.natural_key,
                parent_key=event.payload.get("parent_key") or "",
                source_id=event.source_id,
                occurred_at=event.occurred_at,
                value_minor=(event.payload.get("value") or {}).get("amount_minor"),
                state=OutcomeState.RECEIVED,
                created_at=now,
                updated_at=now,
            )
            for event in first_by_key.values()
        ],
        ignore_conflicts=True,
    )


def _lock(first_by_key: dict[OutcomeKey, RawEvent]) -> dict[OutcomeKey, Outcome]:
    """The outcomes of the keys (and any sharing their contract and natural key), locked, by key."""
    # Lock the outcomes in id order, so two workers merging into the same ones wait, never deadlock.
    candidates = (
        Outcome.objects.select_for_update()
        .filter(
            contract_id__in={k[0] for k in first_by_key},
            natural_key__in={k[2] for k in first_by_key},
        )
        .order_by("id")
    )
    return {(o.contract_id, o.outcome_type_key, o.natural_key): o for o in candidates}


def _record_fresh(
    fresh: list[Outcome], first_by_key: dict[OutcomeKey, RawEvent], deltas: counters.Deltas, now: dt.datetime
) -> None:
    """The new outcomes' first transitions (received, then pending, as their events are recorded)."""
    transitions = []
    for outcome in fresh:
        first = first_by_key[(outcome.contract_id, outcome.outcome_type_key, outcome.natural_key)]
        actor = f"source:{first.source_id}"
        transitions += [
            OutcomeTransition(
                outcome=outcome,
                from_state="",
                to_state=OutcomeState.RECEIVED,
                at=now,
                actor=actor,
                reason="first_event",
                details={"event_id": first.event_id, "kind": first.kind},
            ),
            OutcomeTransition(
                outcome=outcome,
                from_state=OutcomeState.RECEIVED,
                to_state=OutcomeState.PENDING,
                at=now,
                actor=SYSTEM_ACTOR,
                reason="events_recorded",
                details={},
            ),
        ]
    OutcomeTransition.objects.bulk_create(transitions)
    Outcome.objects.filter(pk__in=[o.pk for o in fresh], state=OutcomeState.RECEIVED).update(
        state=OutcomeState.PENDING, updated_at=now
    )
    for outcome in fresh:
        outcome.state = OutcomeState.PENDING  # as the update above left it, and as counted
        deltas.created(outcome)


def outcomes_build_for_delivery(*, delivery_id: int) -> int:
    """Merge a delivery's not-yet-linked events into outcomes; returns how many outcomes were new."""
    return outcomes_build_for_deliveries(delivery_ids=[delivery_id])


def outcomes_build_for_deliveries(*, delivery_ids: list[int]) -> int:
    """Merge the not-yet-linked events of several deliveries in one pass (one merge, one verification
    batch): what a worker does with the burst a busy web process enqueues. Returns the new outcomes."""
    now = timezone.now()
    with transaction.atomic():
        events = list(
            RawEvent.objects.select_related("source")
            .filter(delivery_id__in=delivery_ids, outcome_link__isnull=True)
            .order_by("id")
        )
        fresh, touched = _build(events, now)
    # Verify in a transaction of its own: the merge above stays committed whatever happens next.
    outcomes_evaluate(outcome_ids=touched)
    return fresh


def outcomes_build_sweep(*, limit: int = 5000) -> int:
    """Merge events that no task has linked (a lost enqueue, Redis down): the backlog's safety net.

    One pass over up to `limit` events; if it fails for a reason other than a transient database
    error, their deliveries are built one by one, so an event that cannot be built holds back only
    its own delivery (logged, and left for a person)."""
    now = timezone.now()
    events: list[RawEvent] = []
    try:
        with transaction.atomic():
            events = list(
                RawEvent.objects.select_related("source")
                .filter(outcome_link__isnull=True, received_at__lte=now - SWEEP_GRACE)
                .order_by("id")[:limit]
            )
            fresh, touched = _build(events, now)
    except OperationalError:
        raise
    except Exception:
        deliveries = sorted({event.delivery_id for event in events})
        logger.exception(
            "The sweep's pass over %d deliveries failed; building them one by one", len(deliveries)
        )
        fresh = 0
        for delivery_id in deliveries:
            try:
                fresh += outcomes_build_for_deliveries(delivery_ids=[delivery_id])
            except OperationalError:
                raise
            except Exception:
                logger.exception("Delivery %s could not be built into outcomes", delivery_id)
        return fresh
    outcomes_evaluate(outcome_ids=touched)
    return fresh

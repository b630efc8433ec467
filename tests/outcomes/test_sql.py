"""core.db.bulk: the COPY / unnest writes store exactly what bulk_create / bulk_update (their fallback
elsewhere than PostgreSQL) store."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from core.db.bulk import insert_rows, update_rows
from outcomes.models import Decision, Outcome, OutcomeState, OutcomeVerdict
from tests.support.ingest import Ingest

pytestmark = pytest.mark.django_db

COLUMNS = ("outcome_id", "rule", "decision", "reason", "facts", "hold_until", "at")


def outcomes(ingest: Ingest, count: int) -> list[Outcome]:
    now = timezone.now()
    return [
        Outcome.objects.create(
            vendor=ingest.contract.vendor,
            contract=ingest.contract,
            outcome_type_key="ticket.resolved",
            natural_key=f"SQL-{index}",
            state=OutcomeState.PENDING,
            occurred_at=now - dt.timedelta(minutes=index),
            created_at=now,
            updated_at=now,
        )
        for index in range(count)
    ]


def stored(ids: list[int]) -> list[tuple[Any, ...]]:
    return list(
        OutcomeVerdict.objects.filter(pk__in=ids)
        .order_by("id")
        .values_list("outcome_id", "rule", "decision", "reason", "facts", "hold_until", "at")
    )


@pytest.mark.parametrize("vendor", ["postgresql", "elsewhere"])
def test_insert_rows_stores_the_rows_in_their_order(
    ingest: Ingest, vendor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    targets = outcomes(ingest, 2)
    now = timezone.now()
    facts = {
        "text": 'tab\there, "quoted", back\\slash, newline\n, é',
        "n": 1.5,
        "none": None,
        "list": [1, "a"],
    }
    rows = [
        (targets[0].pk, "event_time", Decision.ACCEPT, "in_force", json.dumps(facts), None, now),
        (targets[1].pk, "maturation", "hold", "maturing", "{}", now + dt.timedelta(hours=1), now),
        (targets[0].pk, "caps", "accept", "within_cap", json.dumps({"position": 3}), None, now),
    ]
    if vendor != "postgresql":
        monkeypatch.setattr(connection, "vendor", "sqlite")
    before = OutcomeVerdict.objects.order_by("-id").values_list("id", flat=True).first() or 0

    insert_rows(OutcomeVerdict, COLUMNS, rows)

    ids = list(OutcomeVerdict.objects.filter(pk__gt=before).order_by("id").values_list("id", flat=True))
    assert stored(ids) == [(*row[:4], json.loads(row[4]), *row[5:]) for row in rows]


@pytest.mark.parametrize("vendor", ["postgresql", "elsewhere"])
def test_update_rows_writes_only_the_given_columns(
    ingest: Ingest, vendor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    targets = outcomes(ingest, 3)
    untouched = {o.pk: (o.natural_key, o.occurred_at, o.created_at) for o in targets}
    now = timezone.now()
    for index, outcome in enumerate(targets):
        outcome.state = [OutcomeState.MATURING, OutcomeState.BILLABLE, OutcomeState.REJECTED][index]
        outcome.hold_until = now + dt.timedelta(hours=index) if index != 1 else None
        outcome.price_percent = 50 + index
        outcome.natural_key = "changed in memory only"
    if vendor != "postgresql":
        monkeypatch.setattr(connection, "vendor", "sqlite")

    update_rows(Outcome, targets[:2], ("state", "hold_until", "price_percent"))

    stored_rows = {o.pk: o for o in Outcome.objects.filter(pk__in=untouched)}
    first, second, third = (stored_rows[o.pk] for o in targets)
    assert (first.state, first.hold_until, first.price_percent) == (OutcomeState.MATURING, now, 50)
    assert (second.state, second.hold_until, second.price_percent) == (OutcomeState.BILLABLE, None, 51)
    assert (third.state, third.hold_until, third.price_percent) == (OutcomeState.PENDING, None, 100)
    assert all((o.natural_key, o.occurred_at, o.created_at) == untouched[o.pk] for o in stored_rows.values())

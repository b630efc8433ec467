"""The daily counters behind the window statistics (outcomes.counters): kept in the transactions that
change what they count, equal at every step to a recount from the outcomes themselves."""

from __future__ import annotations

import datetime as dt

import pytest

from outcomes import counters
from outcomes.models import OutcomeDayCount, OutcomeState, SourceDayCount
from tests.support.rule_stories import DAY, HOUR, T0, make_story

pytestmark = pytest.mark.django_db


def consistent() -> tuple[dict[counters.DayKey, tuple[int, int]], dict[counters.SourceKey, tuple[int, int]]]:
    stored = counters.stored()
    assert stored == counters.recount()
    return stored


def test_counters_follow_creation_confirmation_rejection_and_an_earlier_occurrence() -> None:
    story = make_story({"anomaly": {"velocity_enabled": False}})
    story.claim(T0, "A")  # the agent's claim: confirmed later
    story.claim(T0, "B")  # never confirmed: rejected once its window closes
    story.claim(T0 + HOUR, "C")  # the customer's record says it happened two days earlier
    story.evaluate(T0 + 2 * HOUR)
    days, sources = consistent()
    contract, key = story.contract.pk, "ticket.resolved"
    assert days == {(contract, key, T0.date()): (3, 0)}
    agent = story.outcome("A").source_id
    assert sources == {(agent, (T0 + 2 * HOUR).date()): (3, 0)}

    story.confirm(T0 + 3 * HOUR, "A")
    story.confirm(T0 + 3 * HOUR, "C", occurred_at=T0 - 2 * DAY)
    story.evaluate(T0 + 4 * HOUR)
    days, _ = consistent()
    assert days == {(contract, key, T0.date()): (2, 1), (contract, key, (T0 - 2 * DAY).date()): (1, 1)}

    story.evaluate(T0 + 4 * DAY)
    assert story.state("B") == OutcomeState.REJECTED
    _, sources = consistent()
    assert sources == {(agent, (T0 + 2 * HOUR).date()): (3, 1)}


def test_apply_adds_to_what_is_stored_and_rebuild_recounts() -> None:
    story = make_story()
    story.claim(T0, "A")
    story.evaluate(T0 + HOUR)
    outcome = story.outcome("A")
    deltas = counters.Deltas()
    deltas.created(outcome)
    counters.apply(deltas)
    counters.apply(deltas)
    day = OutcomeDayCount.objects.get(contract=story.contract, day=T0.date())
    assert (day.outcomes, day.confirmed) == (3, 0)
    assert SourceDayCount.objects.get(source_id=outcome.source_id).outcomes == 3
    assert counters.stored() != counters.recount()

    counters.rebuild()

    consistent()
    assert OutcomeDayCount.objects.get(contract=story.contract, day=T0.date()).outcomes == 1


def test_utc_day_is_the_day_in_utc() -> None:
    paris = dt.timezone(dt.timedelta(hours=2))
    assert counters.utc_day(dt.datetime(2026, 6, 2, 1, 0, tzinfo=paris)) == dt.date(2026, 6, 1)

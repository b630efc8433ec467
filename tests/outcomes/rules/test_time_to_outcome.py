"""Rule 5: from task start (an evidence field) to outcome, a minimum and a maximum duration."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from outcomes.models import OutcomeState
from outcomes.rules.time_to_outcome import parse_instant
from tests.support.rule_stories import DAY, SECOND, T0, make_story

pytestmark = pytest.mark.django_db

BOUNDS = {"enabled": True, "min_seconds": 60, "max_seconds": 3600}
POLICY = {"time_to_outcome": BOUNDS, "confirmation": {"required": False}}


@pytest.mark.parametrize(
    ("seconds", "reason"),
    [
        (59, "too_fast"),
        (60, "duration_plausible"),
        (3600, "duration_plausible"),
        (3601, "too_slow"),
    ],
)
def test_duration_bounds_are_inclusive(seconds: int, reason: str) -> None:
    story = make_story(POLICY)
    started_at = T0 - seconds * SECOND
    story.claim(T0, "T-1", evidence={"started_at": started_at.isoformat()})

    story.evaluate(T0 + DAY)

    verdict = story.verdict("T-1", "time_to_outcome")
    assert verdict.reason == reason
    assert verdict.facts == {"seconds": seconds, "min_seconds": 60, "max_seconds": 3600}
    if reason == "duration_plausible":
        assert verdict.decision == "accept"
        assert story.state("T-1") == OutcomeState.BILLABLE
    else:
        assert verdict.decision == "reject"
        assert story.state("T-1") == OutcomeState.REJECTED


@pytest.mark.parametrize(
    "evidence",
    [
        {},
        {"started_at": "2026-06-01T11:00:00"},  # no offset: not an instant
        {"started_at": "yesterday"},
        {"started_at": 1780311600},
    ],
    ids=["absent", "naive", "not-a-date", "epoch-number"],
)
def test_a_missing_or_unreadable_task_start_is_rejected(evidence: dict[str, Any]) -> None:
    story = make_story(POLICY)
    story.claim(T0, "T-1", evidence=evidence)

    story.evaluate(T0 + DAY)

    verdict = story.verdict("T-1", "time_to_outcome")
    assert (verdict.decision, verdict.reason, verdict.facts) == (
        "reject",
        "task_start_missing",
        {"field": "started_at"},
    )
    assert story.state("T-1") == OutcomeState.REJECTED


def test_the_start_field_is_named_by_the_policy() -> None:
    story = make_story({**POLICY, "time_to_outcome": {**BOUNDS, "started_at_field": "review_opened_at"}})
    story.claim(T0, "T-1", evidence={"review_opened_at": (T0 - 120 * SECOND).isoformat()})
    story.claim(T0, "T-2", evidence={"started_at": (T0 - 120 * SECOND).isoformat()})

    story.evaluate(T0 + DAY)

    assert story.decided("T-1", "time_to_outcome") == ("accept", "duration_plausible")
    assert story.decided("T-2", "time_to_outcome") == ("reject", "task_start_missing")
    assert story.verdict("T-2", "time_to_outcome").facts == {"field": "review_opened_at"}


def test_a_later_event_cannot_move_the_task_start() -> None:
    story = make_story({"time_to_outcome": BOUNDS})
    story.claim(T0, "T-1", evidence={"started_at": (T0 - 2 * SECOND).isoformat()})
    # The customer's confirmation reports another start: the earliest event's field stands.
    story.confirm(T0 + SECOND, "T-1", evidence={"started_at": (T0 - 600 * SECOND).isoformat()})

    story.evaluate(T0 + 2 * DAY)

    assert story.decided("T-1", "time_to_outcome") == ("reject", "too_fast")
    assert story.verdict("T-1", "time_to_outcome").facts["seconds"] == 2


def test_disabled_by_default_records_nothing() -> None:
    story = make_story({"confirmation": {"required": False}})
    story.claim(T0, "T-1", evidence={"started_at": (T0 - SECOND).isoformat()})

    story.evaluate(T0 + DAY)

    assert "time_to_outcome" not in story.rules("T-1")
    assert story.state("T-1") == OutcomeState.BILLABLE


def test_parse_instant_accepts_only_strings_with_an_offset() -> None:
    assert parse_instant("2026-06-01T12:00:00+02:00") == dt.datetime(2026, 6, 1, 10, tzinfo=dt.UTC)
    assert parse_instant("2026-06-01T12:00:00Z") == dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
    assert parse_instant("2026-06-01T12:00:00") is None
    assert parse_instant("2026-06-01") is None
    assert parse_instant("not a date") is None
    assert parse_instant(None) is None
    assert parse_instant(1780311600) is None

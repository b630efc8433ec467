"""Rule 16: with a baseline of N units per period, the first N outcomes of each period (by occurrence,
then natural key) are what the customer's own process would have achieved and are not billed."""

from __future__ import annotations

import datetime as dt

import pytest

from outcomes.models import OutcomeState
from tests.support.rule_stories import DAY, HOUR, SECOND, T0, make_story

pytestmark = pytest.mark.django_db

# June's period in the contract's zone (America/New_York, anchored on the 1st) starts at 04:00 UTC.
JUNE = dt.datetime(2026, 6, 1, 4, tzinfo=dt.UTC)
MAY = dt.datetime(2026, 5, 1, 4, tzinfo=dt.UTC)


def baseline_policy(units: int) -> dict[str, object]:
    return {
        "baseline_lift": {"enabled": True, "baseline_units_per_period": units},
        "confirmation": {"required": False},
    }


def test_the_first_units_of_the_period_are_the_baseline() -> None:
    story = make_story(baseline_policy(2))
    for offset, key in enumerate(["T-3", "T-1", "T-2"]):
        story.claim(T0 + offset * HOUR, key)

    story.evaluate(T0 + 2 * DAY)

    details = {"baseline_units_per_period": 2, "period_start": JUNE.isoformat()}
    for key in ("T-3", "T-1"):
        verdict = story.verdict(key, "baseline_lift")
        assert (verdict.decision, verdict.reason, verdict.facts) == ("reject", "within_baseline", details)
        assert story.state(key) == OutcomeState.REJECTED
    verdict = story.verdict("T-2", "baseline_lift")
    assert (verdict.decision, verdict.reason, verdict.facts) == ("accept", "above_baseline", details)
    assert story.state("T-2") == OutcomeState.BILLABLE


def test_the_baseline_is_stable_under_re_evaluation() -> None:
    story = make_story(baseline_policy(1))
    story.claim(T0, "T-1")
    story.claim(T0 + HOUR, "T-2")
    story.evaluate(T0 + 2 * HOUR)
    assert (story.state("T-1"), story.state("T-2")) == (OutcomeState.REJECTED, OutcomeState.MATURING)

    again = story.evaluate(T0 + 2 * HOUR)
    later = story.evaluate(T0 + 2 * DAY)  # T-2 matures

    assert (again.verdicts, again.transitions) == (0, 0)
    assert story.decided("T-1", "baseline_lift") == ("reject", "within_baseline")
    assert story.decided("T-2", "baseline_lift") == ("accept", "above_baseline")
    assert (story.state("T-1"), story.state("T-2")) == (OutcomeState.REJECTED, OutcomeState.BILLABLE)
    assert later.transitions == 1


def test_ties_in_time_are_broken_by_natural_key() -> None:
    story = make_story(baseline_policy(1))
    story.claim(T0, "T-b")
    story.claim(T0, "T-a")

    story.evaluate(T0 + 2 * DAY)

    assert story.decided("T-a", "baseline_lift") == ("reject", "within_baseline")
    assert story.decided("T-b", "baseline_lift") == ("accept", "above_baseline")


def test_each_period_has_its_own_baseline_from_its_first_instant() -> None:
    story = make_story(baseline_policy(1))
    story.claim(JUNE + HOUR, "T-may", occurred_at=JUNE - SECOND)
    story.claim(JUNE + HOUR, "T-june", occurred_at=JUNE)
    story.claim(JUNE + HOUR, "T-june-2", occurred_at=JUNE + SECOND)

    story.evaluate(JUNE + 2 * DAY)

    assert story.decided("T-may", "baseline_lift") == ("reject", "within_baseline")
    assert story.verdict("T-may", "baseline_lift").facts["period_start"] == MAY.isoformat()
    assert story.decided("T-june", "baseline_lift") == ("reject", "within_baseline")
    assert story.decided("T-june-2", "baseline_lift") == ("accept", "above_baseline")


def test_outcomes_rejected_by_another_rule_do_not_use_the_baseline() -> None:
    story = make_story({**baseline_policy(1), "evidence": {"required_fields": {"ticket_status": "string"}}})
    story.claim(T0, "T-junk", evidence={})
    story.evaluate(T0 + HOUR)
    assert story.decided("T-junk", "evidence") == ("reject", "evidence_missing")
    story.claim(T0 + 2 * HOUR, "T-1")
    story.claim(T0 + 3 * HOUR, "T-2")

    story.evaluate(T0 + 2 * DAY)

    assert story.decided("T-1", "baseline_lift") == ("reject", "within_baseline")
    assert story.decided("T-2", "baseline_lift") == ("accept", "above_baseline")
    assert story.state("T-2") == OutcomeState.BILLABLE


def test_unconfirmed_claims_do_not_use_the_baseline() -> None:
    """Claims the customer never confirms are refused for another reason: they cannot fill the
    baseline so that the vendor's later, confirmed outcomes bill."""
    story = make_story({**baseline_policy(1), "confirmation": {"match_window_hours": 1}})
    story.claim(T0, "T-junk")
    story.claim(T0 + HOUR, "T-1")
    story.confirm(T0 + HOUR, "T-1")
    story.evaluate(T0 + 3 * HOUR)
    assert story.decided("T-junk", "confirmation") == ("reject", "unconfirmed")

    story.evaluate(T0 + 3 * HOUR + SECOND)
    story.evaluate(T0 + 2 * DAY)

    assert story.decided("T-1", "baseline_lift") == ("reject", "within_baseline")
    assert story.state("T-1") == OutcomeState.REJECTED


def test_a_zero_baseline_bills_everything() -> None:
    story = make_story(baseline_policy(0))
    story.claim(T0, "T-1")

    story.evaluate(T0 + DAY)

    assert story.decided("T-1", "baseline_lift") == ("accept", "above_baseline")
    assert story.state("T-1") == OutcomeState.BILLABLE


def test_disabled_by_default_records_nothing() -> None:
    story = make_story({"confirmation": {"required": False}})
    story.claim(T0, "T-1")

    story.evaluate(T0 + DAY)

    assert "baseline_lift" not in story.rules("T-1")
    assert story.state("T-1") == OutcomeState.BILLABLE

"""Rule 5 on in-memory facts: the time from task start to outcome within bounds."""

from __future__ import annotations

from outcomes.rules.base import accept, reject
from outcomes.rules.time_to_outcome import TimeToOutcome
from tests.support.facts import SECOND, T0, fact, outcome_facts, policy

RULE = TimeToOutcome()
BOUNDS = {"enabled": True, "min_seconds": 60, "max_seconds": 3600}


def started(seconds_before: int) -> dict[str, str]:
    return {"started_at": (T0 - seconds_before * SECOND).isoformat()}


def test_disabled_by_default_it_records_nothing() -> None:
    assert RULE.evaluate(outcome_facts(fact(evidence=started(1))), {}, T0) is None


def test_without_a_well_formed_start_it_is_rejected() -> None:
    rules = policy(time_to_outcome=BOUNDS)
    naive = {"started_at": "2026-06-01T11:00:00"}

    for evidence in ({}, naive, {"started_at": 17}):
        facts = outcome_facts(fact(evidence=evidence), rules=rules)
        assert RULE.evaluate(facts, {}, T0) == reject("task_start_missing", field="started_at")


def test_too_fast_and_too_slow_are_rejected_and_the_bounds_themselves_accepted() -> None:
    rules = policy(time_to_outcome=BOUNDS)

    def verdict(seconds: int) -> object:
        return RULE.evaluate(outcome_facts(fact(evidence=started(seconds)), rules=rules), {}, T0)

    bounds = {"min_seconds": 60, "max_seconds": 3600}
    assert verdict(59) == reject("too_fast", seconds=59.0, **bounds)
    assert verdict(60) == accept("duration_plausible", seconds=60.0, **bounds)
    assert verdict(3600) == accept("duration_plausible", seconds=3600.0, **bounds)
    assert verdict(3601) == reject("too_slow", seconds=3601.0, **bounds)

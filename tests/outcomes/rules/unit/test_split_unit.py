"""Rule 10 on in-memory facts: outcomes sharing a parent key within the window are billed once (the
siblings come from `prepare`, given here as it would return them)."""

from __future__ import annotations

from typing import Any

from outcomes.rules.base import accept, reject
from outcomes.rules.split import SplitDetection
from tests.support.facts import CONTRACT_ID, HOUR, T0, outcome_facts, policy

RULE = SplitDetection()
ENABLED = policy(split_detection={"enabled": True, "window_hours": 24})
# One conversation: T-1 at T0 and T-2 an hour later (one window), T-3 a day and two hours later (a new one).
SIBLINGS = [(T0, "T-1", 1), (T0 + HOUR, "T-2", 2), (T0 + 26 * HOUR, "T-3", 3)]
PREPARED: dict[str, Any] = {"split_detection": {(CONTRACT_ID, "ticket.resolved", "conv-1"): SIBLINGS}}


def evaluate(outcome_id: int, rules: Any = ENABLED, parent_key: str = "conv-1") -> Any:
    facts = outcome_facts(rules=rules, outcome={"id": outcome_id, "parent_key": parent_key})
    return RULE.evaluate(facts, PREPARED, T0 + 30 * HOUR)


def test_disabled_or_without_a_parent_key_it_records_nothing() -> None:
    assert evaluate(2, rules=policy()) is None
    assert evaluate(2, parent_key="") is None


def test_the_first_of_a_window_is_kept_and_a_later_one_in_it_merged_into_it() -> None:
    kept = {"parent_key": "conv-1", "window_hours": 24}

    assert evaluate(1) == accept("first_of_parent", **kept)
    assert evaluate(2) == reject("split_merged", kept_outcome_id=1, kept_natural_key="T-1", **kept)
    assert evaluate(3) == accept("first_of_parent", **kept)

"""Rule 16 on in-memory facts: the period's first N outcomes (chosen by `prepare`, given here) are what
the customer would have achieved anyway and are not billed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from outcomes.rules.base import accept, iso, reject
from outcomes.rules.baseline import WITHIN_BASELINE, BaselineLift
from tests.support.facts import CONTRACT_ID, T0, outcome_facts, policy

RULE = BaselineLift()
JUNE = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)  # the monthly period of T0 in a UTC contract
ENABLED = policy(baseline_lift={"enabled": True, "baseline_units_per_period": 2})
PREPARED: dict[str, Any] = {"baseline_lift": {(CONTRACT_ID, "ticket.resolved", JUNE): {1, 2}}}


def test_disabled_by_default_it_records_nothing() -> None:
    assert RULE.evaluate(outcome_facts(outcome={"id": 1}), PREPARED, T0) is None


def test_an_outcome_within_the_baseline_is_rejected_and_one_above_it_accepted() -> None:
    details = {"baseline_units_per_period": 2, "period_start": iso(JUNE)}
    within = outcome_facts(rules=ENABLED, outcome={"id": 2})
    above = outcome_facts(rules=ENABLED, outcome={"id": 3})

    assert RULE.evaluate(within, PREPARED, T0) == reject(WITHIN_BASELINE, **details)
    assert RULE.evaluate(above, PREPARED, T0) == accept("above_baseline", **details)

"""Rule 12 on in-memory facts: the day's count against its own baseline (daily counts from `prepare`,
given here), and a source whose outcomes are mostly rejected."""

from __future__ import annotations

import datetime as dt
from typing import Any

from outcomes.models import EventKind, OutcomeState
from outcomes.rules.anomaly import RATE_HOLD, Anomaly
from outcomes.rules.base import accept, flag, hold
from tests.support.facts import CONTRACT_ID, DAY, HOUR, SOURCE_ID, T0, fact, outcome_facts

RULE = Anomaly()
TODAY = T0.date()


def prepared(
    today: int, *, history_days: int = 28, rates: dict[Any, tuple[int, int]] | None = None
) -> dict[str, Any]:
    """Three outcomes a day over `history_days` days before today, and `today` today."""
    counts = {TODAY - dt.timedelta(days=d): 3 for d in range(1, history_days + 1)} | {TODAY: today}
    return {"anomaly": {"velocity": {(CONTRACT_ID, "ticket.resolved"): counts}, "rates": rates or {}}}


def test_a_day_far_above_its_baseline_is_flagged_unless_the_customer_confirmed_the_outcome() -> None:
    burst = {"day": TODAY.isoformat(), "count": 60, "baseline_median": 3, "z": None, "z_threshold": 3.5}
    confirmed = outcome_facts(fact(), fact(EventKind.OUTCOME_CONFIRMED, T0 + HOUR, from_customer=True))

    assert RULE.evaluate(outcome_facts(), prepared(60), T0) == flag("velocity_anomaly", **burst)
    assert RULE.evaluate(confirmed, prepared(60), T0) == accept("velocity_confirmed_by_customer", **burst)


def test_a_usual_day_is_normal() -> None:
    assert RULE.evaluate(outcome_facts(), prepared(3), T0) == accept(
        "velocity_normal", day=TODAY.isoformat(), count=3, baseline_median=3, z=0.0, z_threshold=3.5
    )


def test_with_less_history_than_required_or_once_billed_it_records_nothing() -> None:
    billed = outcome_facts(outcome={"billed_at": T0, "state": OutcomeState.BILLED})

    assert RULE.evaluate(outcome_facts(), prepared(60, history_days=13), T0) is None
    assert RULE.evaluate(billed, prepared(60), T0) is None


def test_a_source_whose_outcomes_are_mostly_rejected_has_its_new_ones_held() -> None:
    mostly_rejected = prepared(3, history_days=0, rates={SOURCE_ID: (10, 20)})
    too_few = prepared(3, history_days=0, rates={SOURCE_ID: (19, 19)})

    assert RULE.evaluate(outcome_facts(), mostly_rejected, T0) == hold(
        T0 + RATE_HOLD, "source_rejection_rate", rejected=10, total=20, threshold=0.5
    )
    assert RULE.evaluate(outcome_facts(), too_few, T0 + DAY) is None

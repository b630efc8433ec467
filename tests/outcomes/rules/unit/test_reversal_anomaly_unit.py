"""Rule 9a on in-memory facts: the customer's reversal rate in the window (daily counts from `prepare`,
given here) against its floors, its minimum count and its own baseline, with the lower floor close to
the lock date; each threshold on both sides."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from outcomes.models import EventKind, OutcomeState, ReviewDecision
from outcomes.rules.base import Verdict, accept, flag, reject
from outcomes.rules.reversal_anomaly import ReversalAnomaly
from tests.support.facts import CONTRACT_ID, DAY, SECOND, SOURCE_ID, T0, fact, outcome_facts, policy

RULE = ReversalAnomaly()
TODAY = T0.date()


def prepared(window: int, *, per_day: int = 20, baseline: int = 0) -> dict[str, Any]:
    """`per_day` outcomes on each of the 63 days up to today; `window` reversals today and `baseline`
    reversals spread over the baseline days (all from the one customer source)."""
    outcomes = {TODAY - dt.timedelta(days=d): per_day for d in range(63)}
    reversals = {TODAY: window} | {TODAY - dt.timedelta(days=7 + d): 0 for d in range(56)}
    reversals[TODAY - dt.timedelta(days=30)] = baseline
    return {
        "reversal_anomaly": {
            "reversals": {(CONTRACT_ID, None): reversals, (CONTRACT_ID, SOURCE_ID): reversals},
            "outcomes": {CONTRACT_ID: outcomes},
        }
    }


def reversed_facts(
    *, lock_in: dt.timedelta, from_customer: bool = True, rules: Any = None, **kwargs: Any
) -> Any:
    """A billed outcome (30-day clawback window) the customer reverses at T0, its lock date `lock_in` later."""
    billed_at = T0 + lock_in - 30 * DAY
    return outcome_facts(
        fact(at=billed_at - DAY),
        fact(EventKind.OUTCOME_REVERSED, T0, from_customer=from_customer, evidence={"reason": "reopened"}),
        outcome={"billed_at": billed_at, "state": OutcomeState.BILLED},
        rules=rules,
        **kwargs,
    )


FAR = 20 * DAY  # far from the lock date: the 25 % floor
NEAR = 2 * DAY  # within 3 days of it: the 10 % floor


def judged(facts: Any, prepared_: Any) -> Verdict:
    """The rule's verdict where it must give one."""
    verdict = RULE.evaluate(facts, prepared_, T0)
    assert verdict is not None
    return verdict


def decision_of(verdict: Any) -> tuple[str, str, list[str]]:
    return verdict.decision, verdict.reason, verdict.facts["anomalous"]


@pytest.mark.parametrize(
    ("reversals", "expected"),
    [
        (35, ("accept", "reversal_rate_normal", [])),  # 35 / 140 = 25 %: not above the floor
        (36, ("flag", "reversal_anomaly", ["contract", "source"])),
    ],
)
def test_far_from_the_lock_date_the_floor_is_the_rate_threshold(reversals: int, expected: Any) -> None:
    assert decision_of(RULE.evaluate(reversed_facts(lock_in=FAR), prepared(reversals), T0)) == expected


@pytest.mark.parametrize(
    ("reversals", "expected"),
    [
        (14, ("accept", "reversal_rate_normal", [])),  # 14 / 140 = 10 %
        (15, ("flag", "reversal_anomaly", ["contract", "source"])),
    ],
)
def test_close_to_the_lock_date_the_lower_floor_applies(reversals: int, expected: Any) -> None:
    assert decision_of(RULE.evaluate(reversed_facts(lock_in=NEAR), prepared(reversals), T0)) == expected
    # The same count far from the lock date is within the usual floor.
    far = judged(reversed_facts(lock_in=FAR), prepared(reversals))
    assert decision_of(far) == ("accept", "reversal_rate_normal", [])


@pytest.mark.parametrize(("lock_in", "near"), [(3 * DAY, True), (3 * DAY + SECOND, False)])
def test_lock_days_ends_to_the_second(lock_in: dt.timedelta, near: bool) -> None:
    verdict = judged(reversed_facts(lock_in=lock_in), prepared(15))
    assert (verdict.facts["near_lock"], verdict.decision) == (near, "flag" if near else "accept")


@pytest.mark.parametrize(("minimum", "decision"), [(16, "accept"), (15, "flag")])
def test_too_few_reversals_never_flag(minimum: int, decision: str) -> None:
    rules = policy(reversal_anomaly={"min_reversals": minimum})
    verdict = judged(reversed_facts(lock_in=NEAR, rules=rules), prepared(15))
    assert verdict.decision == decision


@pytest.mark.parametrize(("reversals", "decision"), [(42, "accept"), (43, "flag")])
def test_the_rate_must_also_exceed_a_multiple_of_its_own_baseline(reversals: int, decision: str) -> None:
    # 112 reversals over 56 baseline days of 20 outcomes: a usual rate of 10 %, so three times 10 % is 30 %.
    verdict = judged(reversed_facts(lock_in=FAR), prepared(reversals, baseline=112))
    assert verdict.decision == decision
    assert verdict.facts["contract"] == {
        "reversals": reversals,
        "expected_outcomes": 140.0,
        "rate": round(reversals / 140, 4),
        "baseline_reversals": 112,
        "baseline_rate": 0.1,
        "threshold": 0.3,
    }


def test_the_trail_carries_the_statistic_and_the_lock_date() -> None:
    verdict = judged(reversed_facts(lock_in=NEAR), prepared(15))
    stat = {
        "reversals": 15,
        "expected_outcomes": 140.0,
        "rate": 0.1071,
        "baseline_reversals": 0,
        "baseline_rate": 0.0,
        "threshold": 0.1,
    }
    assert verdict == flag(
        "reversal_anomaly",
        event_id=verdict.facts["event_id"],
        day=TODAY.isoformat(),
        window_days=7,
        baseline_days=56,
        min_reversals=10,
        lock_date=(T0 + NEAR).isoformat(),
        days_to_lock=2.0,
        near_lock=True,
        contract=stat,
        source=stat,
        anomalous=["contract", "source"],
    )


def test_what_moves_no_money_or_is_not_the_customers_is_not_watched() -> None:
    burst = prepared(100)
    after_lock = reversed_facts(lock_in=-SECOND)
    by_vendor = reversed_facts(lock_in=NEAR, from_customer=False)
    disabled = reversed_facts(lock_in=NEAR, rules=policy(reversal_anomaly={"enabled": False}))
    not_disqualifying = outcome_facts(
        fact(), fact(EventKind.OUTCOME_REVERSED, T0, from_customer=True, evidence={"reason": "typo"})
    )
    for facts in (after_lock, by_vendor, disabled, not_disqualifying, outcome_facts()):
        assert RULE.evaluate(facts, burst, T0) is None


def test_a_reversal_before_billing_is_watched_without_a_lock_date() -> None:
    unbilled = outcome_facts(
        fact(at=T0 - DAY),
        fact(EventKind.OUTCOME_REVERSED, T0, from_customer=True, evidence={"reason": "reopened"}),
    )
    verdict = judged(unbilled, prepared(36))
    assert (verdict.decision, verdict.facts["lock_date"], verdict.facts["near_lock"]) == ("flag", None, False)
    assert judged(unbilled, prepared(35)).decision == "accept"


def test_a_decided_flag_stays_raised_for_its_decision_even_when_the_rate_is_now_usual() -> None:
    decided = reversed_facts(lock_in=NEAR, decisions={"reversal_anomaly": ReviewDecision()})
    assert judged(decided, prepared(1)).decision == "flag"


def test_it_holds_the_reversal_while_flagged_and_once_cleared_but_not_once_rejected() -> None:
    assert RULE.holds_reversal(flag("reversal_anomaly"))
    assert RULE.holds_reversal(accept("reversal_anomaly_cleared"))
    assert not RULE.holds_reversal(reject("reversal_anomaly_rejected_on_review"))
    assert not RULE.holds_reversal(accept("reversal_rate_normal"))

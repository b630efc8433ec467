"""Rule 12: a day's count far above the contract's own history (robust z-score over the previous
`baseline_days`, once there are `min_history_days` of history) is flagged unless the customer
confirmed the outcome; a source whose recent outcomes are mostly rejected has its new ones held."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
import time_machine

from outcomes.models import OutcomeState, Party, ReviewDecision
from outcomes.rules.anomaly import robust_z
from outcomes.services.review import review_decide
from tests.support.rule_stories import DAY, HOUR, SECOND, T0, Story, make_story

# --- robust_z -----------------------------------------------------------------------------------


def test_robust_z_is_0_6745_times_the_distance_from_the_median_in_mads() -> None:
    history = [1, 2, 3, 4, 5]  # median 3, MAD 1
    assert robust_z(3, history) == 0
    assert robust_z(10, history) == pytest.approx(0.6745 * 7)
    assert robust_z(1, history) == pytest.approx(-0.6745 * 2)


def test_robust_z_uses_the_median_of_an_even_history() -> None:
    history = [1, 2, 1, 2]  # median 1.5, MAD 0.5
    assert robust_z(4, history) == pytest.approx(0.6745 * 2.5 / 0.5)
    assert robust_z(1.5, history) == 0


def test_robust_z_ignores_an_outlier_in_the_history() -> None:
    steady = [100, 90, 110, 100, 95, 105, 100]
    assert robust_z(150, [*steady, 10_000]) == pytest.approx(robust_z(150, [*steady, 111]))


def test_robust_z_with_a_constant_history_is_infinite_only_above_it() -> None:
    assert robust_z(6, [5, 5, 5]) == math.inf
    assert robust_z(5, [5, 5, 5]) == 0
    assert robust_z(0, [5, 5, 5]) == 0
    assert robust_z(1, [0, 0, 0, 0]) == math.inf


def test_robust_z_docs_example() -> None:
    # A median of 100 and a MAD of 10: 152 is the first count above 3.5 (docs/verification.md).
    history = [90] * 5 + [100] * 5 + [110] * 5
    assert robust_z(151, history) == pytest.approx(3.44, abs=0.005)
    assert robust_z(152, history) == pytest.approx(3.51, abs=0.005)


# --- velocity -----------------------------------------------------------------------------------

DAY0 = dt.datetime(2026, 6, 20, tzinfo=dt.UTC)  # the day under test (UTC days)
ALTERNATING = [1, 2] * 7  # 14 days of history: median 1.5, MAD 0.5


def busy_day(
    today: int, *, history: list[int] = ALTERNATING, policy: dict[str, object] | None = None
) -> Story:
    """`history[k]` claims on each of the days before DAY0 (the last one the day before), `today`
    claims on DAY0 (T-0 … at one-hour steps from 01:00)."""
    story = make_story({"confirmation": {"required": False}, **(policy or {})})
    events = [
        story.event(key=f"H-{k}-{i}", at=DAY0 - (len(history) - k) * DAY + (i + 1) * HOUR)
        for k, count in enumerate(history)
        for i in range(count)
    ]
    events += [story.event(key=f"T-{i}", at=DAY0 + (i + 1) * HOUR) for i in range(today)]
    story.send(DAY0 + 12 * HOUR, {"events": events}, as_agent=True)
    return story


def velocity_facts(count: int, history: list[int], threshold: float = 3.5) -> dict[str, object]:
    z = robust_z(count, history)
    return {
        "day": DAY0.date().isoformat(),
        "count": count,
        "baseline_median": 1.5,
        "z": round(z, 3),
        "z_threshold": threshold,
    }


@pytest.mark.django_db
def test_a_normal_day_is_accepted() -> None:
    story = busy_day(4)

    story.evaluate(DAY0 + 2 * DAY)

    verdict = story.verdict("T-0", "anomaly")
    assert (verdict.decision, verdict.reason, verdict.facts) == (
        "accept",
        "velocity_normal",
        velocity_facts(4, ALTERNATING),
    )
    assert story.state("T-0") == OutcomeState.BILLABLE


@pytest.mark.django_db
def test_a_day_above_the_threshold_is_flagged() -> None:
    story = busy_day(5)

    story.evaluate(DAY0 + 2 * DAY)

    verdict = story.verdict("T-4", "anomaly")
    assert (verdict.decision, verdict.reason, verdict.facts) == (
        "flag",
        "velocity_anomaly",
        velocity_facts(5, ALTERNATING),
    )
    outcome = story.outcome("T-4")
    # Flagged until a person decides, or its deadline (outcomes.rules.flag_deadlines) passes.
    assert (outcome.state, outcome.hold_until) == (OutcomeState.FLAGGED, DAY0 + 16 * DAY)
    # The history's own days had too little history before them to be judged.
    assert "anomaly" not in story.rules("H-13-0")


@pytest.mark.django_db
def test_a_z_exactly_at_the_threshold_is_not_anomalous() -> None:
    threshold = robust_z(4, ALTERNATING)
    story = busy_day(4, policy={"anomaly": {"z_threshold": threshold}})

    story.evaluate(DAY0 + 2 * DAY)

    verdict = story.verdict("T-0", "anomaly")
    assert (verdict.reason, verdict.facts["z_threshold"]) == ("velocity_normal", threshold)


@pytest.mark.django_db
def test_a_constant_history_flags_any_excess_with_an_infinite_z() -> None:
    story = busy_day(2, history=[1] * 14)

    story.evaluate(DAY0 + 2 * DAY)

    verdict = story.verdict("T-0", "anomaly")
    assert (verdict.decision, verdict.reason) == ("flag", "velocity_anomaly")
    assert verdict.facts == {
        "day": "2026-06-20",
        "count": 2,
        "baseline_median": 1,
        "z": None,
        "z_threshold": 3.5,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(("history_days", "applies"), [(14, True), (13, False)])
def test_velocity_needs_min_history_days(history_days: int, applies: bool) -> None:
    story = busy_day(5, history=ALTERNATING[-history_days:])

    story.evaluate(DAY0 + 2 * DAY)

    if applies:
        assert story.decided("T-0", "anomaly") == ("flag", "velocity_anomaly")
    else:
        assert "anomaly" not in story.rules("T-0")
        assert story.state("T-0") == OutcomeState.BILLABLE


@pytest.mark.django_db
def test_the_policys_min_history_days_replaces_the_default() -> None:
    # A week of history is too little by default (14 days, above) but enough when the policy says 7.
    story = busy_day(5, history=ALTERNATING[-7:], policy={"anomaly": {"min_history_days": 7}})

    story.evaluate(DAY0 + 2 * DAY)

    assert story.decided("T-0", "anomaly") == ("flag", "velocity_anomaly")


@pytest.mark.django_db
@pytest.mark.parametrize(("baseline_days", "decision"), [(7, "flag"), (28, "accept")])
def test_the_baseline_is_the_policys_baseline_days(baseline_days: int, decision: str) -> None:
    # A busy week then a quiet one: five claims are normal against both weeks, a burst against the last.
    history = [20] * 7 + [1, 2, 1, 2, 1, 2, 1]
    policy: dict[str, object] = {"anomaly": {"baseline_days": baseline_days, "min_history_days": 7}}
    story = busy_day(5, history=history, policy=policy)

    story.evaluate(DAY0 + 2 * DAY)

    assert story.verdict("T-0", "anomaly").decision == decision


@pytest.mark.django_db
def test_the_customers_confirmation_clears_an_anomalous_day() -> None:
    story = busy_day(5)
    story.confirm(DAY0 + 13 * HOUR, "T-1")

    story.evaluate(DAY0 + 2 * DAY)

    verdict = story.verdict("T-1", "anomaly")
    assert (verdict.decision, verdict.reason) == ("accept", "velocity_confirmed_by_customer")
    assert story.state("T-1") == OutcomeState.BILLABLE
    assert story.state("T-2") == OutcomeState.FLAGGED


@pytest.mark.django_db
def test_the_customer_decides_a_velocity_flag() -> None:
    story = busy_day(5)
    story.evaluate(DAY0 + 2 * DAY)

    with time_machine.travel(DAY0 + 2 * DAY + HOUR, tick=False):
        review_decide(
            outcome=story.outcome("T-0"),
            flag_reason="velocity_anomaly",
            verdict=ReviewDecision.Verdict.ACCEPT,
            party=Party.CUSTOMER,
            actor="customer:finance",
        )
        review_decide(
            outcome=story.outcome("T-1"),
            flag_reason="velocity_anomaly",
            verdict=ReviewDecision.Verdict.REJECT,
            party=Party.CUSTOMER,
            actor="customer:finance",
        )

    assert story.decided("T-0", "anomaly") == ("accept", "velocity_anomaly_cleared")
    assert story.decided("T-1", "anomaly") == ("reject", "velocity_anomaly_rejected_on_review")
    assert story.state("T-1") == OutcomeState.REJECTED
    # The customer's acceptance is its confirmation: the outcome matures from it.
    decided_at = DAY0 + 2 * DAY + HOUR
    outcome = story.outcome("T-0")
    assert (outcome.state, outcome.confirmed_at, outcome.hold_until) == (
        OutcomeState.MATURING,
        decided_at,
        decided_at + DAY,
    )
    story.evaluate(decided_at + DAY)
    assert story.state("T-0") == OutcomeState.BILLABLE


@pytest.mark.django_db
def test_velocity_disabled_records_nothing() -> None:
    story = busy_day(5, policy={"anomaly": {"velocity_enabled": False}})

    story.evaluate(DAY0 + 2 * DAY)

    assert "anomaly" not in story.rules("T-0")
    assert story.state("T-0") == OutcomeState.BILLABLE


# --- rejection rate -----------------------------------------------------------------------------

RATE_POLICY = {
    "confirmation": {"required": False},
    "evidence": {"required_fields": {"ticket_status": "string"}},
    # Velocity off: a month-old burst then a quiet month would flag the new claim (constant history).
    "anomaly": {"velocity_enabled": False, "rejection_rate_min_outcomes": 4, "rejection_rate_threshold": 0.5},
}


def with_earlier_claims(good: int, bad: int, policy: dict[str, Any] = RATE_POLICY) -> Story:
    """Earlier claims of the agent, built and verified at T0: `bad` of them without evidence."""
    story = make_story(policy)
    events = [story.event(key=f"G-{i}", at=T0 - HOUR) for i in range(good)]
    events += [story.event(key=f"B-{i}", at=T0 - HOUR, evidence={}) for i in range(bad)]
    story.send(T0 - HOUR, {"events": events}, as_agent=True)
    story.evaluate(T0)
    return story


@pytest.mark.django_db
def test_a_source_rejected_half_the_time_has_its_new_outcomes_held() -> None:
    story = with_earlier_claims(good=1, bad=2)
    story.claim(T0 + HOUR, "T-new")

    story.evaluate(T0 + 2 * HOUR)

    verdict = story.verdict("T-new", "anomaly")
    assert (verdict.decision, verdict.reason, verdict.hold_until, verdict.facts) == (
        "hold",
        "source_rejection_rate",
        T0 + 26 * HOUR,
        {"rejected": 2, "total": 4, "threshold": 0.5},
    )
    assert story.state("T-new") == OutcomeState.MATURING

    story.evaluate(T0 + 2 * DAY)  # rechecked a day later, still held
    assert story.decided("T-new", "anomaly") == ("hold", "source_rejection_rate")
    assert story.outcome("T-new").hold_until == T0 + 3 * DAY


@pytest.mark.django_db
@pytest.mark.parametrize(("good", "bad"), [(2, 1), (0, 2)], ids=["below-threshold", "too-few-outcomes"])
def test_the_rejection_rate_needs_its_threshold_and_enough_outcomes(good: int, bad: int) -> None:
    story = with_earlier_claims(good=good, bad=bad)
    story.claim(T0 + HOUR, "T-new")

    story.evaluate(T0 + 2 * DAY)

    assert "anomaly" not in story.rules("T-new")
    assert story.state("T-new") == OutcomeState.BILLABLE


@pytest.mark.django_db
def test_the_policys_rejection_rate_threshold_replaces_the_default() -> None:
    # One rejected of four (the new claim counts) is below the default 0.5 (see above), not below 0.25.
    anomaly = {"velocity_enabled": False, "rejection_rate_min_outcomes": 4, "rejection_rate_threshold": 0.25}
    policy = {**RATE_POLICY, "anomaly": anomaly}
    story = with_earlier_claims(good=2, bad=1, policy=policy)
    story.claim(T0 + HOUR, "T-new")

    story.evaluate(T0 + 2 * HOUR)

    verdict = story.verdict("T-new", "anomaly")
    assert (verdict.decision, verdict.reason, verdict.facts) == (
        "hold",
        "source_rejection_rate",
        {"rejected": 1, "total": 4, "threshold": 0.25},
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("age", "held"), [(30 * DAY, True), (30 * DAY + 12 * HOUR - SECOND, True), (30 * DAY + 12 * HOUR, False)]
)
def test_the_rejection_rate_counts_outcomes_created_since_the_utc_day_30_days_ago(
    age: dt.timedelta, held: bool
) -> None:
    # The earlier claims were created at T0, noon: they count until the day after T0's is 30 days ago.
    story = with_earlier_claims(good=1, bad=2)
    story.claim(T0 + age - HOUR, "T-new")

    story.evaluate(T0 + age)

    if held:
        assert story.decided("T-new", "anomaly") == ("hold", "source_rejection_rate")
    else:
        assert "anomaly" not in story.rules("T-new")

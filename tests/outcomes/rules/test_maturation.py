"""Rules 8 and 9: an outcome matures over a hold window (from the later of claim and confirmation); a
disqualifying reversal voids it before billing, claws it back until the lock date after billing, and
after the lock date is recorded without moving money."""

from __future__ import annotations

import datetime as dt

import pytest

from outcomes.models import OutcomeState, OutcomeTransition
from outcomes.verdict_trail import verdicts_recorded
from tests.support.rule_stories import DAY, HOUR, SECOND, T0, make_story

pytestmark = pytest.mark.django_db


# --- maturation ---------------------------------------------------------------------------------


def test_hold_window_runs_from_the_confirmation_and_ends_to_the_second() -> None:
    story = make_story()
    story.claim(T0, "T-1")
    story.confirm(T0 + HOUR, "T-1")
    matures_at = T0 + HOUR + 24 * HOUR

    story.evaluate(matures_at - SECOND)
    verdict = story.verdict("T-1", "maturation")
    assert (verdict.decision, verdict.reason, verdict.hold_until, verdict.facts) == (
        "hold",
        "maturing",
        matures_at,
        {"hold_hours": 24, "matures_at": matures_at.isoformat()},
    )
    outcome = story.outcome("T-1")
    assert (outcome.state, outcome.hold_until, outcome.billable_at) == (
        OutcomeState.MATURING,
        matures_at,
        None,
    )

    story.evaluate(matures_at)
    verdict = story.verdict("T-1", "maturation")
    assert (verdict.decision, verdict.reason, verdict.hold_until, verdict.facts) == (
        "accept",
        "matured",
        None,
        {"hold_hours": 24, "matured_at": matures_at.isoformat()},
    )
    outcome.refresh_from_db()
    assert (outcome.state, outcome.hold_until, outcome.billable_at) == (
        OutcomeState.BILLABLE,
        None,
        matures_at,
    )


def test_a_confirmation_before_the_claim_does_not_start_the_hold_earlier() -> None:
    story = make_story()
    story.confirm(T0 - HOUR, "T-1")
    story.claim(T0, "T-1")

    story.evaluate(T0 + 24 * HOUR - SECOND)
    assert story.decided("T-1", "maturation") == ("hold", "maturing")
    assert story.outcome("T-1").hold_until == T0 + 24 * HOUR

    story.evaluate(T0 + 24 * HOUR)
    assert story.decided("T-1", "maturation") == ("accept", "matured")
    assert story.state("T-1") == OutcomeState.BILLABLE


@pytest.mark.parametrize("hold_hours", [0, 72, 90 * 24])
def test_policy_hold_hours(hold_hours: int) -> None:
    story = make_story({"maturation": {"hold_hours": hold_hours}, "confirmation": {"required": False}})
    story.claim(T0, "T-1")
    matures_at = T0 + hold_hours * HOUR

    if hold_hours:
        story.evaluate(matures_at - SECOND)
        assert story.decided("T-1", "maturation") == ("hold", "maturing")
        assert story.state("T-1") == OutcomeState.MATURING

    story.evaluate(matures_at)
    assert story.decided("T-1", "maturation") == ("accept", "matured")
    assert story.state("T-1") == OutcomeState.BILLABLE


def test_billable_is_reached_only_through_maturing() -> None:
    story = make_story({"maturation": {"hold_hours": 0}, "confirmation": {"required": False}})
    story.claim(T0, "T-1")

    story.evaluate(T0)

    transitions = OutcomeTransition.objects.filter(outcome=story.outcome("T-1")).order_by("id")
    assert [(t.from_state, t.to_state, t.reason) for t in transitions] == [
        ("", "received", "first_event"),
        ("received", "pending", "events_recorded"),
        ("pending", "maturing", "maturation_started"),
        ("maturing", "billable", "all_rules_accept"),
    ]


def test_a_billed_outcome_gets_no_new_maturation_verdict() -> None:
    story = make_story()
    story.claim(T0, "T-1")
    story.confirm(T0, "T-1")
    story.evaluate(T0 + DAY)
    story.mark_billed("T-1", T0 + 2 * DAY)

    def maturation_verdicts() -> int:
        return len(
            [v for v in verdicts_recorded(outcome_ids=[story.outcome("T-1").pk]) if v.rule == "maturation"]
        )

    verdicts = maturation_verdicts()

    summary = story.evaluate(T0 + 3 * DAY)

    assert maturation_verdicts() == verdicts
    assert (summary.verdicts, summary.transitions) == (0, 0)
    assert story.state("T-1") == OutcomeState.BILLED


def test_a_per_task_type_bills_on_completion_without_maturing_and_a_per_outcome_type_waits() -> None:
    """billing_basis has an effect: a task is billed whatever its result, so there is nothing to wait for."""
    per_task = make_story(billing_basis="per_task")
    per_task.claim(T0, "T-1")
    per_task.confirm(T0, "T-1")
    per_task.evaluate(T0 + SECOND)
    assert per_task.state("T-1") == OutcomeState.BILLABLE
    assert "maturation" not in per_task.rules("T-1")

    per_outcome = make_story(billing_basis="per_outcome")
    per_outcome.claim(T0, "T-1")
    per_outcome.confirm(T0, "T-1")
    per_outcome.evaluate(T0 + SECOND)
    assert per_outcome.state("T-1") == OutcomeState.MATURING
    assert per_outcome.decided("T-1", "maturation") == ("hold", "maturing")


def test_a_per_task_outcome_is_still_voided_by_a_disqualifying_reversal() -> None:
    story = make_story(billing_basis="per_task")
    story.claim(T0, "T-1")
    story.confirm(T0, "T-1")
    story.reverse(T0 + HOUR, "T-1", reason="reopened")
    story.evaluate(T0 + 2 * HOUR)
    assert story.decided("T-1", "reversal") == ("reject", "reversed")


# --- reversal -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reason", ["reopened", "escalated_to_human", "human_reply", "negative_feedback", None]
)
def test_a_disqualifier_before_billing_voids_the_outcome(reason: str | None) -> None:
    story = make_story()
    story.claim(T0, "T-1")
    story.confirm(T0, "T-1")
    story.evaluate(T0 + HOUR)
    story.reverse(T0 + 2 * HOUR, "T-1", reason)

    story.evaluate(T0 + 2 * HOUR)

    verdict = story.verdict("T-1", "reversal")
    assert verdict.decision == "reject"
    assert verdict.reason == "reversed"
    assert verdict.facts["disqualifier"] == reason
    assert verdict.facts["reversed_at"] == (T0 + 2 * HOUR).isoformat()
    outcome = story.outcome("T-1")
    assert (outcome.state, outcome.hold_until) == (OutcomeState.REVERSED, None)
    last = OutcomeTransition.objects.filter(outcome=outcome).order_by("id").last()
    assert last is not None
    assert (last.from_state, last.to_state, last.reason) == ("maturing", "reversed", "reversed")


def test_a_disqualifier_after_the_hold_but_before_billing_still_voids() -> None:
    story = make_story()
    story.claim(T0, "T-1")
    story.confirm(T0, "T-1")
    story.evaluate(T0 + DAY)
    assert story.state("T-1") == OutcomeState.BILLABLE
    story.reverse(T0 + 2 * DAY, "T-1", "reopened")

    story.evaluate(T0 + 2 * DAY)

    assert story.decided("T-1", "reversal") == ("reject", "reversed")
    assert story.state("T-1") == OutcomeState.REVERSED


def test_a_reversal_whose_reason_is_not_a_disqualifier_changes_nothing() -> None:
    story = make_story()
    story.claim(T0, "T-1")
    story.confirm(T0, "T-1")
    story.reverse(T0 + HOUR, "T-1", "customer_said_thanks")

    story.evaluate(T0 + DAY)

    verdict = story.verdict("T-1", "reversal")
    assert (verdict.decision, verdict.reason, verdict.facts) == (
        "accept",
        "reversal_not_disqualifying",
        {"reasons": ["customer_said_thanks"]},
    )
    assert story.state("T-1") == OutcomeState.BILLABLE


def test_policy_disqualifiers_replace_the_defaults() -> None:
    story = make_story({"maturation": {"disqualifiers": ["no_show"]}})
    for key, reason in (("T-1", "no_show"), ("T-2", "reopened")):
        story.claim(T0, key)
        story.confirm(T0, key)
        story.reverse(T0 + HOUR, key, reason)

    story.evaluate(T0 + DAY)

    assert story.decided("T-1", "reversal") == ("reject", "reversed")
    assert story.state("T-1") == OutcomeState.REVERSED
    assert story.decided("T-2", "reversal") == ("accept", "reversal_not_disqualifying")
    assert story.state("T-2") == OutcomeState.BILLABLE


@pytest.mark.parametrize(
    ("after_lock", "reason", "state"),
    [
        (-SECOND, "clawed_back", OutcomeState.REVERSED),
        (0 * SECOND, "clawed_back", OutcomeState.REVERSED),
        (SECOND, "reversal_after_lock", OutcomeState.BILLED),
    ],
    ids=["before-lock-date", "at-lock-date", "one-second-after-lock-date"],
)
def test_after_billing_a_disqualifier_claws_back_until_the_lock_date(
    after_lock: dt.timedelta, reason: str, state: str
) -> None:
    story = make_story({"reversal": {"clawback_window_days": 30}})
    story.claim(T0, "T-1")
    story.confirm(T0, "T-1")
    story.evaluate(T0 + DAY)
    billed_at = T0 + 2 * DAY
    story.mark_billed("T-1", billed_at)
    lock_date = billed_at + 30 * DAY
    reversed_at = lock_date + after_lock
    story.reverse(reversed_at, "T-1", "reopened")

    story.evaluate(reversed_at + HOUR)

    verdict = story.verdict("T-1", "reversal")
    assert verdict.reason == reason
    assert verdict.decision == ("reject" if reason == "clawed_back" else "accept")
    assert verdict.facts["billed_at"] == billed_at.isoformat()
    assert verdict.facts["lock_date"] == lock_date.isoformat()
    assert story.state("T-1") == state


def test_no_reversal_records_no_reversal_verdict() -> None:
    story = make_story()
    story.claim(T0, "T-1")
    story.confirm(T0, "T-1")

    story.evaluate(T0 + DAY)

    assert "reversal" not in story.rules("T-1")
    assert "maturation" in story.rules("T-1")


# --- reporting windows --------------------------------------------------------------------------


def test_a_no_show_reported_after_its_window_is_recorded_and_billed_anyway_one_in_time_voids() -> None:
    story = make_story(
        {"maturation": {"disqualifiers": ["no_show"], "reporting_windows_hours": {"no_show": 24}}}
    )
    for key in ("late", "in-time"):
        story.claim(T0, key)
        story.confirm(T0, key)
    # The late report backdates itself to an hour after the meeting: what counts is when it arrived.
    story.reverse(T0 + 30 * HOUR, "late", "no_show", occurred_at=T0 + HOUR)
    story.reverse(T0 + 20 * HOUR, "in-time", "no_show")

    story.evaluate(T0 + 31 * HOUR)

    late = story.verdict("late", "reversal")
    assert (late.decision, late.reason) == ("accept", "disqualifier_reported_late")
    assert late.facts["window_hours"] == 24
    assert late.facts["occurred_at"] == T0.isoformat()
    assert late.facts["deadline"] == (T0 + 24 * HOUR).isoformat()
    assert late.facts["reported_at"] == (T0 + 30 * HOUR).isoformat()
    assert late.facts["reversed_at"] == (T0 + HOUR).isoformat()
    assert story.state("late") == OutcomeState.BILLABLE
    assert story.decided("in-time", "reversal") == ("reject", "reversed")
    assert story.state("in-time") == OutcomeState.REVERSED

    story.mark_billed("late", T0 + 2 * DAY)
    story.evaluate(T0 + 3 * DAY)

    assert story.decided("late", "reversal") == ("accept", "disqualifier_reported_late")
    assert story.state("late") == OutcomeState.BILLED
    assert not OutcomeTransition.objects.filter(outcome=story.outcome("late"), to_state="reversed").exists()

"""Flags have a deadline (outcomes.rules.flag_deadlines): a flag no one decides within `response_days` of
first being raised is decided against the party it suspects, so silence never pays the suspected side;
`keep_open` waits for a person for ever; a person's decision always wins."""

from __future__ import annotations

import datetime as dt

import pytest

from outcomes.models import OutcomeState, Party, ReviewDecision
from outcomes.rules import FLAGS, reason_text
from outcomes.rules.base import Verdict, flag
from outcomes.rules.flag_deadlines import FlagDeadlines, flag_raised_since
from outcomes.services.verification import outcomes_evaluate_due
from outcomes.verdict_trail import verdicts_recorded
from tests.outcomes.rules.test_anomaly import ALTERNATING, DAY0, busy_day, velocity_facts
from tests.outcomes.rules.test_suppression import NOW as SUPPRESSION_NOW
from tests.outcomes.rules.test_suppression import suppressed
from tests.support.facts import DAY, SECOND, T0, outcome_facts, policy

RULE = FlagDeadlines()
RAISED = T0
DEADLINE = T0 + 14 * DAY


def decided(
    reason: str,
    now: dt.datetime,
    *,
    raised_at: dt.datetime | None = RAISED,
    decisions: dict[str, ReviewDecision] | None = None,
    **params: object,
) -> Verdict:
    facts = outcome_facts(rules=policy(flag_deadlines=params), decisions=decisions)
    return RULE.flag_decided(flag(reason, ratio=0.1), FLAGS[reason], facts, raised_at, now)


def test_before_its_deadline_a_flag_stands_and_carries_the_deadline() -> None:
    verdict = decided("velocity_anomaly", DEADLINE - SECOND)
    assert (verdict.decision, verdict.reason, verdict.hold_until) == ("flag", "velocity_anomaly", DEADLINE)


def test_a_flag_raised_now_is_due_response_days_from_now() -> None:
    verdict = decided("suppression_suspected", T0, raised_at=None, response_days=3)
    assert verdict.hold_until == T0 + 3 * DAY


def test_at_its_deadline_a_suspected_inflation_is_rejected_the_vendor_gets_nothing_by_silence() -> None:
    verdict = decided("velocity_anomaly", DEADLINE)
    assert (verdict.decision, verdict.reason) == ("reject", "velocity_anomaly_rejected_on_silence")
    assert verdict.facts == {
        "flag_facts": {"ratio": 0.1},
        "raised_at": RAISED.isoformat(),
        "deadline": DEADLINE.isoformat(),
        "response_days": 14,
        "decided_against": "vendor",
    }


@pytest.mark.parametrize("reason", ["suppression_suspected", "reversal_anomaly"])
def test_at_its_deadline_a_flag_against_the_customer_is_accepted_silence_bills_it(reason: str) -> None:
    verdict = decided(reason, DEADLINE)
    assert (verdict.decision, verdict.reason) == ("accept", f"{reason}_accepted_on_silence")
    assert verdict.facts["decided_against"] == "customer"
    assert reason_text(verdict.reason).startswith("Accepted at its deadline")


def test_keep_open_has_no_deadline() -> None:
    verdict = decided("velocity_anomaly", DEADLINE + 365 * DAY, on_silence="keep_open")
    assert (verdict.decision, verdict.hold_until) == ("flag", None)


def test_a_persons_decision_wins_even_after_the_deadline() -> None:
    decision = ReviewDecision(
        flag_reason="velocity_anomaly",
        verdict=ReviewDecision.Verdict.ACCEPT,
        party=Party.CUSTOMER,
        actor="customer:key",
        at=DEADLINE + DAY,
    )
    verdict = decided("velocity_anomaly", DEADLINE + 2 * DAY, decisions={"velocity_anomaly": decision})
    assert (verdict.decision, verdict.reason) == ("accept", "velocity_anomaly_cleared")


def test_a_verdict_that_is_no_flag_passes_through() -> None:
    verdict = Verdict("accept", "velocity_normal")
    assert RULE.flag_decided(verdict, None, outcome_facts(), None, T0) is verdict


def test_a_flag_keeps_the_instant_it_was_first_raised_through_new_facts_and_its_silent_decision() -> None:
    first = flag_raised_since(None, "flag", "velocity_anomaly", T0)
    assert first == ("velocity_anomaly", T0)
    again = flag_raised_since(first, "flag", "velocity_anomaly", T0 + DAY)  # new facts, same flag
    assert again == first
    silent = flag_raised_since(again, "reject", "velocity_anomaly_rejected_on_silence", DEADLINE)
    assert silent == first  # re-evaluated after the deadline: the same decision, not a new flag
    assert flag_raised_since(silent, "flag", "suppression_suspected", T0 + 2 * DAY) == (
        "suppression_suspected",
        T0 + 2 * DAY,
    )
    assert flag_raised_since(first, "accept", "velocity_normal", T0 + DAY) is None


@pytest.mark.django_db
def test_a_velocity_flag_no_one_decides_is_rejected_at_its_deadline_through_the_due_sweep() -> None:
    story = busy_day(5)
    story.evaluate(DAY0 + 2 * DAY)
    deadline = DAY0 + 16 * DAY
    assert story.outcome("T-4").hold_until == deadline

    outcomes_evaluate_due(now=deadline - SECOND)
    assert story.state("T-4") == OutcomeState.FLAGGED

    outcomes_evaluate_due(now=deadline)
    verdict = story.verdict("T-4", "anomaly")
    assert (verdict.decision, verdict.reason) == ("reject", "velocity_anomaly_rejected_on_silence")
    assert verdict.facts["flag_facts"] == velocity_facts(5, ALTERNATING)
    assert verdict.facts["deadline"] == deadline.isoformat()
    assert story.outcome("T-4").state == OutcomeState.REJECTED

    def subject() -> int:
        return len(
            [v for v in verdicts_recorded(outcome_ids=[story.outcome("T-4").pk]) if v.rule == "anomaly"]
        )

    rows = subject()
    story.evaluate(deadline + 30 * DAY)  # later looks decide the same: no new flag, no new deadline
    assert story.state("T-4") == OutcomeState.REJECTED
    assert subject() == rows


@pytest.mark.django_db
def test_a_customer_silent_on_a_suppression_flag_is_billed_after_the_deadline() -> None:
    story = suppressed()
    story.evaluate(SUPPRESSION_NOW)
    assert story.state("T-subject") == OutcomeState.FLAGGED

    story.evaluate(SUPPRESSION_NOW + 14 * DAY - SECOND)
    assert story.state("T-subject") == OutcomeState.FLAGGED

    story.evaluate(SUPPRESSION_NOW + 14 * DAY)
    verdict = story.verdict("T-subject", "confirmation")
    assert (verdict.decision, verdict.reason) == ("accept", "suppression_suspected_accepted_on_silence")
    assert story.state("T-subject") == OutcomeState.BILLABLE  # matured long ago: billed on the next close

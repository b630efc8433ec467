"""Rule 4: the outcome happened while a version covering its type was in force, not in the future
(beyond the clock skew) and was reported within the late-arrival window; a suspended contract holds."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from contracts.services.contracts import contract_amend, contract_resume, contract_suspend, contract_terminate
from contracts.terms import Amendment, parse
from outcomes.models import OutcomeState
from tests.factories import amendment_payload, outcome_type_terms
from tests.support.rule_stories import DAY, HOUR, SECOND, T0, make_story

pytestmark = pytest.mark.django_db

# The confirmation rule would reject these lone claims at the window end; it is not under test here.
NO_CONFIRMATION = {"confirmation": {"required": False}}


def test_an_outcome_inside_the_contract_is_in_force() -> None:
    story = make_story(NO_CONFIRMATION)
    story.claim(T0, "T-1")

    story.evaluate(T0 + DAY)

    verdict = story.verdict("T-1", "event_time")
    assert (verdict.decision, verdict.reason, verdict.facts) == (
        "accept",
        "in_force",
        {"version": 1, "occurred_at": T0.isoformat()},
    )
    assert story.state("T-1") == OutcomeState.BILLABLE


@pytest.mark.parametrize(("ahead", "in_force"), [(60 * SECOND, True), (61 * SECOND, False)])
def test_clock_skew_allows_an_occurrence_just_ahead_of_arrival(ahead: dt.timedelta, in_force: bool) -> None:
    story = make_story({"event_time": {"max_clock_skew_seconds": 60}, **NO_CONFIRMATION})
    story.claim(T0, "T-1", occurred_at=T0 + ahead)

    story.evaluate(T0 + 2 * DAY)

    verdict = story.verdict("T-1", "event_time")
    if in_force:
        assert (verdict.decision, verdict.reason) == ("accept", "in_force")
        assert story.state("T-1") == OutcomeState.BILLABLE
    else:
        assert (verdict.decision, verdict.reason, verdict.facts) == (
            "reject",
            "occurred_in_future",
            {"occurred_at": (T0 + ahead).isoformat(), "received_at": T0.isoformat()},
        )
        assert story.state("T-1") == OutcomeState.REJECTED


def test_default_clock_skew_is_five_minutes() -> None:
    story = make_story(NO_CONFIRMATION)
    story.claim(T0, "T-1", occurred_at=T0 + 300 * SECOND)
    # One second more is refused at the door, before any rule (ingestion allows the same 5 minutes).
    with time_machine.travel(T0, tick=False):
        response = story.ingest.post(story.event(key="T-2", at=T0 + 301 * SECOND), as_agent=True)
    assert (response.status_code, response.json()["code"]) == (422, "occurred_in_future")

    story.evaluate(T0 + DAY)

    assert story.decided("T-1", "event_time") == ("accept", "in_force")
    assert not story.outcomes().filter(natural_key="T-2").exists()


@pytest.mark.parametrize(
    ("late_by", "reason"),
    [(35 * DAY, "in_force"), (35 * DAY + SECOND, "arrived_too_late")],
    ids=["at-late-arrival-window", "one-second-past-it"],
)
def test_late_arrival_window(late_by: dt.timedelta, reason: str) -> None:
    story = make_story(NO_CONFIRMATION)
    story.claim(T0, "T-1", occurred_at=T0 - late_by)

    story.evaluate(T0 + HOUR)

    verdict = story.verdict("T-1", "event_time")
    assert verdict.reason == reason
    if reason == "arrived_too_late":
        assert verdict.decision == "reject"
        assert verdict.facts == {
            "occurred_at": (T0 - late_by).isoformat(),
            "received_at": T0.isoformat(),
            "late_arrival_days": 35,
        }
        assert story.state("T-1") == OutcomeState.REJECTED
    else:
        assert story.state("T-1") == OutcomeState.BILLABLE


def test_policy_late_arrival_days() -> None:
    story = make_story({"event_time": {"late_arrival_days": 2}, **NO_CONFIRMATION})
    story.claim(T0, "T-in", occurred_at=T0 - 2 * DAY)
    story.claim(T0, "T-late", occurred_at=T0 - 2 * DAY - SECOND)

    story.evaluate(T0 + HOUR)

    assert story.decided("T-in", "event_time") == ("accept", "in_force")
    assert story.decided("T-late", "event_time") == ("reject", "arrived_too_late")
    assert story.verdict("T-late", "event_time").facts["late_arrival_days"] == 2


def test_lateness_counts_from_the_first_arrival_not_a_later_confirmation() -> None:
    story = make_story()
    story.claim(T0, "T-1")
    story.confirm(T0 + 40 * DAY, "T-1", occurred_at=T0 + HOUR)

    story.evaluate(T0 + 40 * DAY)

    assert story.decided("T-1", "event_time") == ("accept", "in_force")


def test_outcomes_before_the_contract_start_are_outside_it() -> None:
    story = make_story(NO_CONFIRMATION)
    starts_at = story.contract.starts_at  # local midnight of 2020-01-01 in New York
    assert starts_at == dt.datetime(2020, 1, 1, 5, tzinfo=dt.UTC)
    story.claim(starts_at + HOUR, "T-before", occurred_at=starts_at - SECOND)
    story.claim(starts_at + HOUR, "T-at", occurred_at=starts_at)

    story.evaluate(starts_at + DAY)

    verdict = story.verdict("T-before", "event_time")
    assert (verdict.decision, verdict.reason, verdict.facts) == (
        "reject",
        "outside_contract",
        {
            "occurred_at": (starts_at - SECOND).isoformat(),
            "contract_starts_at": starts_at.isoformat(),
            "contract_ends_at": None,
        },
    )
    assert story.state("T-before") == OutcomeState.REJECTED
    assert story.outcome("T-before").version_id is None
    assert story.decided("T-at", "event_time") == ("accept", "in_force")


def test_outcomes_at_or_after_termination_are_outside_the_contract() -> None:
    story = make_story(NO_CONFIRMATION)
    with time_machine.travel(T0, tick=False):
        contract_terminate(contract=story.contract, actor="test")
    story.claim(T0 + HOUR, "T-before", occurred_at=T0 - SECOND)
    story.claim(T0 + HOUR, "T-at", occurred_at=T0)

    story.evaluate(T0 + DAY)

    assert story.decided("T-before", "event_time") == ("accept", "in_force")
    assert story.decided("T-at", "event_time") == ("reject", "outside_contract")
    assert story.verdict("T-at", "event_time").facts["contract_ends_at"] == T0.isoformat()
    assert story.state("T-at") == OutcomeState.REJECTED


def test_a_version_that_dropped_the_outcome_type_rejects_outcomes_from_its_start() -> None:
    story = make_story(NO_CONFIRMATION)
    effective = T0 + HOUR
    with time_machine.travel(T0, tick=False):
        contract_amend(
            contract=story.contract,
            amendment=parse(
                Amendment,
                amendment_payload(
                    effective.isoformat(),
                    outcome_types=[outcome_type_terms(key="lead.qualified", natural_key_field="lead_id")],
                ),
            ),
            actor="test",
        )
    story.claim(T0 + 2 * HOUR, "T-before", occurred_at=effective - SECOND)
    story.claim(T0 + 2 * HOUR, "T-at", occurred_at=effective)

    story.evaluate(T0 + DAY)

    assert story.decided("T-before", "event_time") == ("accept", "in_force")
    verdict = story.verdict("T-at", "event_time")
    assert (verdict.decision, verdict.reason, verdict.facts) == (
        "reject",
        "type_not_in_version",
        {"version": 2, "outcome_type": "ticket.resolved"},
    )
    assert story.state("T-at") == OutcomeState.REJECTED


def test_a_suspended_contract_holds_its_outcomes_until_resumed() -> None:
    story = make_story(NO_CONFIRMATION)
    story.claim(T0, "T-1")
    with time_machine.travel(T0, tick=False):
        contract_suspend(contract=story.contract, actor="test")

    story.evaluate(T0 + DAY)

    verdict = story.verdict("T-1", "event_time")
    assert (verdict.decision, verdict.reason, verdict.hold_until, verdict.facts) == (
        "hold",
        "contract_suspended",
        T0 + 2 * DAY,
        {"contract": story.contract.reference},
    )
    outcome = story.outcome("T-1")
    assert (outcome.state, outcome.hold_until) == (OutcomeState.MATURING, T0 + 2 * DAY)

    with time_machine.travel(T0 + DAY, tick=False):
        story.ingest.contract = contract_resume(contract=story.contract, actor="test")
    story.evaluate(T0 + 2 * DAY)

    assert story.decided("T-1", "event_time") == ("accept", "in_force")
    assert story.state("T-1") == OutcomeState.BILLABLE


def test_an_earlier_event_arriving_later_moves_the_occurrence_back() -> None:
    """Regression: the outcome kept the occurrence of the event that arrived first, so whether it was
    too late depended on the arrival order."""
    story = make_story(NO_CONFIRMATION)
    story.claim(T0, "T-1", occurred_at=T0 - 10 * DAY)
    story.evaluate(T0 + HOUR)
    assert story.decided("T-1", "event_time") == ("accept", "in_force")

    story.claim(T0 + 2 * HOUR, "T-1", occurred_at=T0 - 40 * DAY)
    story.evaluate(T0 + 3 * HOUR)

    assert story.outcome("T-1").occurred_at == T0 - 40 * DAY
    assert story.decided("T-1", "event_time") == ("reject", "arrived_too_late")
    assert story.state("T-1") == OutcomeState.REJECTED


def test_a_billed_outcome_keeps_its_occurrence() -> None:
    story = make_story(NO_CONFIRMATION)
    story.claim(T0, "T-1")
    story.evaluate(T0 + DAY)
    story.mark_billed("T-1", T0 + 2 * DAY)

    story.post(T0 + 3 * DAY, "T-1", kind="outcome.confirmed", occurred_at=T0 - HOUR)
    story.evaluate(T0 + 3 * DAY)

    assert story.outcome("T-1").occurred_at == T0
    assert story.state("T-1") == OutcomeState.BILLED

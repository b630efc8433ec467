"""Rules 8 and 9 on in-memory facts: the hold window before billing, and what a reversal does before
billing, within the clawback window and after the lock date; a disqualifier's reporting window, to the second."""

from __future__ import annotations

import datetime as dt

from outcomes.models import EventKind, OutcomeState
from outcomes.rules.base import EventFact, accept, hold, iso, reject
from outcomes.rules.maturation import Maturation, Reversal, disqualifying_reversals, late_disqualifiers
from outcomes.rules.reversal_anomaly import ReversalAnomaly
from tests.support.facts import DAY, HOUR, T0, fact, outcome_facts, policy

MATURATION, REVERSAL = Maturation(), Reversal()


SECOND = dt.timedelta(seconds=1)


def reversed_at(at: dt.datetime, received_at: dt.datetime | None = None, **evidence: str) -> EventFact:
    return fact(
        EventKind.OUTCOME_REVERSED,
        at,
        received_at=received_at,
        from_customer=True,
        evidence=evidence,
        event_id="evt_rev",
    )


def test_an_outcome_is_held_for_the_hold_window_then_matures() -> None:
    facts = outcome_facts()
    matures_at = T0 + 24 * HOUR

    assert MATURATION.evaluate(facts, {}, matures_at - HOUR) == hold(
        matures_at, "maturing", hold_hours=24, matures_at=iso(matures_at)
    )
    assert MATURATION.evaluate(facts, {}, matures_at) == accept(
        "matured", hold_hours=24, matured_at=iso(matures_at)
    )


def test_the_hold_window_starts_at_a_later_confirmation() -> None:
    facts = outcome_facts(fact(), fact(EventKind.OUTCOME_CONFIRMED, T0 + 10 * HOUR, from_customer=True))

    assert MATURATION.evaluate(facts, {}, T0 + 24 * HOUR) == hold(
        T0 + 34 * HOUR, "maturing", hold_hours=24, matures_at=iso(T0 + 34 * HOUR)
    )


def test_billed_and_per_task_outcomes_do_not_mature() -> None:
    billed = outcome_facts(outcome={"billed_at": T0, "state": OutcomeState.BILLED})
    per_task = outcome_facts(billing_basis="per_task")

    assert MATURATION.evaluate(billed, {}, T0) is None
    assert MATURATION.evaluate(per_task, {}, T0) is None


def test_without_a_reversal_the_reversal_rule_records_nothing() -> None:
    assert REVERSAL.evaluate(outcome_facts(), {}, T0) is None


def test_a_reversal_for_a_reason_that_does_not_disqualify_changes_nothing() -> None:
    facts = outcome_facts(fact(), reversed_at(T0 + HOUR, reason="customer_thanked"))

    assert REVERSAL.evaluate(facts, {}, T0 + HOUR) == accept(
        "reversal_not_disqualifying", reasons=["customer_thanked"]
    )


def test_a_disqualifying_reversal_before_billing_voids_the_outcome_and_one_without_reason_too() -> None:
    with_reason = outcome_facts(fact(), reversed_at(T0 + HOUR, reason="reopened"))
    without = outcome_facts(fact(), reversed_at(T0 + HOUR))
    details = {"event_id": "evt_rev", "reversed_at": iso(T0 + HOUR)}

    assert REVERSAL.evaluate(with_reason, {}, T0 + HOUR) == reject(
        "reversed", disqualifier="reopened", **details
    )
    assert REVERSAL.evaluate(without, {}, T0 + HOUR) == reject("reversed", disqualifier=None, **details)


def test_after_billing_a_reversal_is_clawed_back_until_the_lock_date_then_only_recorded() -> None:
    billed_at, lock_date = T0 + DAY, T0 + 31 * DAY
    billed = {"billed_at": billed_at, "state": OutcomeState.BILLED}
    at_lock = outcome_facts(fact(), reversed_at(lock_date, reason="reopened"), outcome=billed)
    after = outcome_facts(fact(), reversed_at(lock_date + HOUR, reason="reopened"), outcome=billed)
    dates = {
        "billed_at": iso(billed_at),
        "lock_date": iso(lock_date),
        "event_id": "evt_rev",
        "disqualifier": "reopened",
    }

    assert REVERSAL.evaluate(at_lock, {}, lock_date) == reject(
        "clawed_back", reversed_at=iso(lock_date), **dates
    )
    assert REVERSAL.evaluate(after, {}, lock_date + HOUR) == accept(
        "reversal_after_lock", reversed_at=iso(lock_date + HOUR), reported_at=iso(lock_date + HOUR), **dates
    )


def test_the_lock_date_is_judged_by_when_the_reversal_was_received_not_the_date_it_gives() -> None:
    billed_at, lock_date = T0 + DAY, T0 + 31 * DAY
    billed = {"billed_at": billed_at, "state": OutcomeState.BILLED}
    backdated = fact(
        EventKind.OUTCOME_REVERSED,
        lock_date - DAY,
        received_at=lock_date + SECOND,
        from_customer=True,
        evidence={"reason": "reopened"},
        event_id="evt_rev",
    )
    on_time = fact(
        EventKind.OUTCOME_REVERSED,
        lock_date - DAY,
        received_at=lock_date,
        from_customer=True,
        evidence={"reason": "reopened"},
        event_id="evt_rev",
    )

    late = REVERSAL.evaluate(outcome_facts(fact(), backdated, outcome=billed), {}, lock_date + SECOND)
    assert late is not None
    assert (late.decision, late.reason, late.facts["reported_at"]) == (
        "accept",
        "reversal_after_lock",
        iso(lock_date + SECOND),
    )
    kept = REVERSAL.evaluate(outcome_facts(fact(), on_time, outcome=billed), {}, lock_date)
    assert kept is not None
    assert (kept.decision, kept.reason) == ("reject", "clawed_back")


def test_a_reversal_without_a_reason_has_the_strictest_reporting_window() -> None:
    rules = policy(
        maturation={
            "disqualifiers": ["reopened", "no_show"],
            "reporting_windows_hours": {"reopened": 72, "no_show": 24},
        }
    )
    in_time = fact(EventKind.OUTCOME_REVERSED, T0 + HOUR, received_at=T0 + 24 * HOUR, from_customer=True)
    late = fact(
        EventKind.OUTCOME_REVERSED, T0 + HOUR, received_at=T0 + 24 * HOUR + SECOND, from_customer=True
    )

    counted = REVERSAL.evaluate(outcome_facts(fact(), in_time, rules=rules), {}, T0 + 2 * DAY)
    assert counted is not None
    assert counted.reason == "reversed"
    verdict = REVERSAL.evaluate(outcome_facts(fact(), late, rules=rules), {}, T0 + 2 * DAY)
    assert verdict is not None
    assert (verdict.decision, verdict.reason, verdict.facts["window_hours"]) == (
        "accept",
        "disqualifier_reported_late",
        24,
    )


# --- reporting windows ----------------------------------------------------------------------------

NO_SHOW_IN_24_HOURS = policy(
    maturation={"disqualifiers": ["no_show", "reopened"], "reporting_windows_hours": {"no_show": 24}}
)


def test_a_disqualifier_received_exactly_at_its_deadline_counts() -> None:
    deadline = T0 + 24 * HOUR
    facts = outcome_facts(
        fact(), reversed_at(T0 + HOUR, deadline, reason="no_show"), rules=NO_SHOW_IN_24_HOURS
    )

    assert REVERSAL.evaluate(facts, {}, deadline) == reject(
        "reversed", event_id="evt_rev", disqualifier="no_show", reversed_at=iso(T0 + HOUR)
    )
    assert late_disqualifiers(facts) == []


def test_a_disqualifier_received_one_second_late_is_recorded_and_moves_no_money() -> None:
    # Backdated to an hour after the outcome: the time Verity received it is what counts.
    received = T0 + 24 * HOUR + SECOND
    reversal = reversed_at(T0 + HOUR, received, reason="no_show")
    facts = outcome_facts(fact(), reversal, rules=NO_SHOW_IN_24_HOURS)

    assert REVERSAL.evaluate(facts, {}, received) == accept(
        "disqualifier_reported_late",
        event_id="evt_rev",
        disqualifier="no_show",
        window_hours=24,
        occurred_at=iso(T0),
        deadline=iso(T0 + 24 * HOUR),
        reported_at=iso(received),
        reversed_at=iso(T0 + HOUR),
    )
    assert disqualifying_reversals(facts) == []
    assert late_disqualifiers(facts) == [(reversal, 24, T0 + 24 * HOUR)]


def test_a_late_disqualifier_after_billing_is_not_clawed_back_nor_watched_as_an_anomaly() -> None:
    billed = {"billed_at": T0 + DAY, "state": OutcomeState.BILLED}
    late = reversed_at(T0 + 2 * DAY, reason="no_show")
    facts = outcome_facts(fact(), late, outcome=billed, rules=NO_SHOW_IN_24_HOURS)

    verdict = REVERSAL.evaluate(facts, {}, T0 + 2 * DAY)
    assert verdict is not None
    assert (verdict.decision, verdict.reason) == ("accept", "disqualifier_reported_late")
    assert ReversalAnomaly().prepare([facts], T0 + 2 * DAY)["outcomes"] == {}


def test_a_disqualifier_without_a_window_has_no_deadline_one_without_reason_the_strictest_and_a_timely_one_wins() -> (
    None
):
    a_year_later = T0 + 366 * DAY
    reopened = outcome_facts(fact(), reversed_at(a_year_later, reason="reopened"), rules=NO_SHOW_IN_24_HOURS)
    no_reason = outcome_facts(fact(), reversed_at(a_year_later), rules=NO_SHOW_IN_24_HOURS)
    late_then_timely = outcome_facts(
        fact(),
        reversed_at(T0 + HOUR, T0 + 30 * HOUR, reason="no_show"),
        fact(EventKind.OUTCOME_REVERSED, T0 + 2 * HOUR, from_customer=True, evidence={"reason": "reopened"}),
        rules=NO_SHOW_IN_24_HOURS,
    )

    assert [e.event_id for e in disqualifying_reversals(reopened)] == ["evt_rev"]
    assert disqualifying_reversals(no_reason) == []  # the strictest window (no_show: 24 h) applies
    assert [e.event_id for e, *_ in late_disqualifiers(no_reason)] == ["evt_rev"]
    verdict = REVERSAL.evaluate(late_then_timely, {}, T0 + 30 * HOUR)
    assert verdict is not None
    assert (verdict.decision, verdict.reason, verdict.facts["disqualifier"]) == (
        "reject",
        "reversed",
        "reopened",
    )


def test_without_reporting_windows_a_disqualifier_counts_whenever_it_arrives() -> None:
    facts = outcome_facts(fact(), reversed_at(T0 + HOUR, T0 + 300 * DAY, reason="reopened"))

    assert REVERSAL.evaluate(facts, {}, T0 + 300 * DAY) == reject(
        "reversed", event_id="evt_rev", disqualifier="reopened", reversed_at=iso(T0 + HOUR)
    )
    assert late_disqualifiers(facts) == []

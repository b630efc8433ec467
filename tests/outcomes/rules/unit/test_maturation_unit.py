"""Rules 8 and 9 on in-memory facts: the hold window before billing, and what a reversal does before
billing, within the clawback window and after the lock date."""

from __future__ import annotations

import datetime as dt

from outcomes.models import EventKind, OutcomeState
from outcomes.rules.base import EventFact, accept, hold, iso, reject
from outcomes.rules.maturation import Maturation, Reversal
from tests.support.facts import DAY, HOUR, T0, fact, outcome_facts

MATURATION, REVERSAL = Maturation(), Reversal()


def reversed_at(at: dt.datetime, **evidence: str) -> EventFact:
    return fact(EventKind.OUTCOME_REVERSED, at, from_customer=True, evidence=evidence, event_id="evt_rev")


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
        "reversal_after_lock", reversed_at=iso(lock_date + HOUR), **dates
    )

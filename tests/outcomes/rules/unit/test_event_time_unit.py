"""Rule 4 on in-memory facts: in force, not in the future, not too late, held while suspended."""

from __future__ import annotations

import dataclasses

from contracts.models import ContractStatus
from outcomes.rules.base import accept, hold, iso, reject
from outcomes.rules.event_time import SUSPENSION_RECHECK, EventTime
from tests.support.facts import DAY, SECOND, T0, fact, outcome_facts

RULE = EventTime()


def test_an_outcome_no_version_covers_is_outside_the_contract() -> None:
    facts = outcome_facts(in_force=False)

    assert RULE.evaluate(facts, {}, T0) == reject(
        "outside_contract", occurred_at=iso(T0), contract_starts_at=iso(T0 - 365 * DAY), contract_ends_at=None
    )


def test_a_type_the_version_does_not_price_is_rejected() -> None:
    facts = dataclasses.replace(outcome_facts(), outcome_type=None)

    assert RULE.evaluate(facts, {}, T0) == reject(
        "type_not_in_version", version=1, outcome_type="ticket.resolved"
    )


def test_an_outcome_beyond_the_clock_skew_ahead_of_its_arrival_is_in_the_future() -> None:
    within = outcome_facts(fact(received_at=T0 - 300 * SECOND))
    beyond = outcome_facts(fact(received_at=T0 - 301 * SECOND))

    assert RULE.evaluate(within, {}, T0) == accept("in_force", version=1, occurred_at=iso(T0))
    assert RULE.evaluate(beyond, {}, T0) == reject(
        "occurred_in_future", occurred_at=iso(T0), received_at=iso(T0 - 301 * SECOND)
    )


def test_an_outcome_arriving_after_the_late_arrival_window_is_too_late() -> None:
    last_day = outcome_facts(fact(received_at=T0 + 35 * DAY))
    late = outcome_facts(fact(received_at=T0 + 35 * DAY + SECOND))

    assert RULE.evaluate(last_day, {}, T0) == accept("in_force", version=1, occurred_at=iso(T0))
    assert RULE.evaluate(late, {}, T0) == reject(
        "arrived_too_late", occurred_at=iso(T0), received_at=iso(T0 + 35 * DAY + SECOND), late_arrival_days=35
    )


def test_a_suspended_contract_holds_its_unbilled_outcomes_and_not_its_billed_ones() -> None:
    unbilled = outcome_facts(contract={"status": ContractStatus.SUSPENDED})
    billed = outcome_facts(contract={"status": ContractStatus.SUSPENDED}, outcome={"billed_at": T0})
    now = T0 + DAY

    assert RULE.evaluate(unbilled, {}, now) == hold(
        now + SUSPENSION_RECHECK, "contract_suspended", contract="CTR-unit"
    )
    assert RULE.evaluate(billed, {}, now) == accept("in_force", version=1, occurred_at=iso(T0))

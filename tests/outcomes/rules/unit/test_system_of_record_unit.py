"""Rule 4a on in-memory facts: which side's facts are billed, each tolerance on both sides of its
threshold, a billed outcome never moved, and the billed facts the same whatever order the events come in."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from outcomes.models import EventKind, OutcomeState
from outcomes.rules.base import EventFact
from outcomes.rules.system_of_record import FACTS_DISAGREE, BilledFacts, SystemOfRecord, settle
from outcomes.services.review import who_may
from tests.support.facts import HOUR, SECOND, T0, fact, outcome_facts, policy

RULE = SystemOfRecord()
CONFIRMED = EventKind.OUTCOME_CONFIRMED


def vendor(at: dt.datetime = T0, **fields: Any) -> EventFact:
    return fact(EventKind.OUTCOME_CLAIMED, at, **fields)


def customer(at: dt.datetime = T0, **fields: Any) -> EventFact:
    """The customer's system of record confirming it (dated when it confirmed)."""
    return fact(CONFIRMED, at, from_customer=True, **fields)


def recorded(at: dt.datetime = T0, **fields: Any) -> EventFact:
    """The customer's system of record reporting the outcome itself (dated when it happened)."""
    return fact(EventKind.OUTCOME_CLAIMED, at, from_customer=True, **fields)


def verdict(*events: EventFact, rules: dict[str, Any] | None = None, **facts: Any) -> Any:
    return RULE.evaluate(outcome_facts(*events, rules=policy(system_of_record=rules or {}), **facts), {}, T0)


def test_the_customers_record_is_billed_and_the_vendors_claim_only_when_the_customer_said_nothing() -> None:
    claim = vendor(T0, value_minor=12_000, parent_key="conv-1")
    record = recorded(T0 + 2 * HOUR, value_minor=10_000, parent_key="conv-2")

    assert settle(outcome_facts(claim, record)) == BilledFacts(T0 + 2 * HOUR, 10_000, "conv-2")
    assert settle(outcome_facts(claim)) == BilledFacts(T0, 12_000, "conv-1")
    # The customer's record without a value: the vendor's value is billed.
    assert settle(outcome_facts(claim, recorded(T0 + HOUR))) == BilledFacts(T0 + HOUR, 12_000, "conv-1")


def test_a_confirmation_says_it_had_happened_by_then_so_the_earlier_of_the_two_times_is_billed() -> None:
    assert settle(outcome_facts(vendor(T0), customer(T0 + 2 * HOUR))).occurred_at == T0
    assert settle(outcome_facts(vendor(T0 + 3 * HOUR), customer(T0 + 2 * HOUR))).occurred_at == T0 + 2 * HOUR
    # Its own claim dates the outcome, whatever its confirmations say.
    assert settle(outcome_facts(vendor(T0), customer(T0 + HOUR), recorded(T0 + 2 * HOUR))).occurred_at == (
        T0 + 2 * HOUR
    )


def test_the_policy_may_choose_the_earliest_event_and_the_rule_off_takes_every_fact_from_it() -> None:
    claim, record = vendor(T0, value_minor=12_000), recorded(T0 + 2 * HOUR, value_minor=10_000)
    earliest = policy(system_of_record={"occurred_at_from": "earliest_event", "value_from": "earliest_event"})
    off = policy(system_of_record={"enabled": False})

    assert settle(outcome_facts(claim, record, rules=earliest)) == BilledFacts(T0, 12_000, "")
    assert settle(outcome_facts(claim, record, rules=off)) == BilledFacts(T0, 12_000, "")
    assert RULE.evaluate(outcome_facts(claim, record, rules=off), {}, T0) is None


def test_times_apart_by_the_tolerance_agree_and_a_second_more_is_flagged_with_both_values() -> None:
    rules = {"occurred_at_tolerance_hours": 24}
    within = verdict(vendor(T0), recorded(T0 + 24 * HOUR), rules=rules)
    beyond = verdict(vendor(T0), recorded(T0 + 24 * HOUR + SECOND), rules=rules)
    earlier = verdict(vendor(T0 + 24 * HOUR + SECOND), recorded(T0), rules=rules)

    assert (within.decision, within.reason, within.facts["disagree"]) == ("accept", "facts_agree", [])
    assert (beyond.decision, beyond.reason, beyond.facts["disagree"]) == (
        "flag",
        "facts_disagree",
        ["occurred_at"],
    )
    assert beyond.facts["occurred_at"] == {
        "vendor": T0.isoformat(),
        "system_of_record": (T0 + 24 * HOUR + SECOND).isoformat(),
        "system_of_record_says": "happened_at",
        "tolerance_hours": 24,
    }
    assert earlier.reason == "facts_disagree"


def test_a_vendor_time_after_the_confirmation_by_the_tolerance_agrees_and_a_second_more_is_flagged() -> None:
    rules = {"occurred_at_tolerance_hours": 24}
    within = verdict(vendor(T0 + 24 * HOUR), customer(T0), rules=rules)
    beyond = verdict(vendor(T0 + 24 * HOUR + SECOND), customer(T0), rules=rules)
    # Claimed long before the confirmation: the confirmation rule's match window, not a disagreement.
    before = verdict(vendor(T0), customer(T0 + 48 * HOUR), rules=rules)

    assert (within.reason, within.facts["occurred_at"]["system_of_record_says"]) == (
        "facts_agree",
        "happened_by",
    )
    assert (beyond.reason, beyond.facts["disagree"]) == ("facts_disagree", ["occurred_at"])
    assert before.reason == "facts_agree"


def test_values_apart_by_the_percent_agree_and_a_minor_unit_more_is_flagged() -> None:
    rules = {"value_tolerance_percent": 1}
    within = verdict(vendor(value_minor=10_100), customer(value_minor=10_000), rules=rules)
    beyond = verdict(vendor(value_minor=10_101), customer(value_minor=10_000), rules=rules)
    below = verdict(vendor(value_minor=9_899), customer(value_minor=10_000), rules=rules)

    assert (within.reason, within.facts["disagree"]) == ("facts_agree", [])
    assert (beyond.reason, beyond.facts["disagree"]) == ("facts_disagree", ["value_minor"])
    assert beyond.facts["value_minor"] == {
        "vendor": 10_101,
        "system_of_record": 10_000,
        "tolerance_minor": 100,
    }
    assert below.reason == "facts_disagree"


def test_values_apart_by_the_absolute_tolerance_agree_and_a_minor_unit_more_is_flagged() -> None:
    rules = {"value_tolerance_percent": 0, "value_tolerance_minor": 500}
    assert (
        verdict(vendor(value_minor=1_500), customer(value_minor=1_000), rules=rules).reason == "facts_agree"
    )
    assert (
        verdict(vendor(value_minor=1_501), customer(value_minor=1_000), rules=rules).reason
        == "facts_disagree"
    )
    # A fractional percent of the value stays exact: 1 % of 10,050 is 100.5 minor units.
    exact = verdict(
        vendor(value_minor=10_150), customer(value_minor=10_050), rules={"value_tolerance_percent": 1}
    )
    assert (exact.reason, exact.facts["value_minor"]["tolerance_minor"]) == ("facts_agree", "100.5")
    assert verdict(vendor(value_minor=10_151), customer(value_minor=10_050)).reason == "facts_disagree"


def test_another_task_or_outcome_type_is_flagged_and_a_side_saying_nothing_is_no_disagreement() -> None:
    other_task = verdict(vendor(parent_key="conv-1"), customer(parent_key="conv-2"))
    silent = verdict(vendor(parent_key="conv-1"), customer())
    facts = outcome_facts(vendor())
    other_type = RULE.evaluate(facts, {"system_of_record": {facts.outcome.pk: ["ticket.escalated"]}}, T0)

    assert other_type is not None
    assert (other_task.reason, other_task.facts["disagree"]) == ("facts_disagree", ["parent_key"])
    assert (silent.reason, "parent_key" in silent.facts) == ("facts_agree", False)
    assert (other_type.reason, other_type.facts["outcome_type"]) == (
        "facts_disagree",
        {"vendor": "ticket.resolved", "system_of_record": ["ticket.escalated"]},
    )
    # A vendor's claim alone has nothing to compare: no verdict.
    assert verdict(vendor()) is None


def test_a_billed_outcome_keeps_its_facts_and_the_late_record_is_kept_in_the_trail() -> None:
    late = verdict(
        vendor(T0),
        customer(T0 - 5 * 24 * HOUR),
        outcome={"state": OutcomeState.BILLED, "billed_at": T0 + HOUR, "occurred_at": T0},
    )

    assert (late.decision, late.reason) == ("accept", "billed_facts_kept")
    assert late.facts["kept"] == {
        "occurred_at": {"billed": T0.isoformat(), "reported": (T0 - 5 * 24 * HOUR).isoformat()}
    }
    assert late.facts["disagree"] == ["occurred_at"]


def test_a_billable_outcome_whose_facts_moved_says_from_what_to_what() -> None:
    facts = outcome_facts(vendor(T0), customer(T0 + HOUR), outcome={"state": OutcomeState.BILLABLE})
    facts.moved = {"occurred_at": (T0, T0 + HOUR)}

    moved = RULE.evaluate(facts, {}, T0)

    assert moved is not None
    assert (moved.decision, moved.reason) == ("accept", "billed_facts_moved")
    assert moved.facts["moved"] == {"occurred_at": {"from": T0.isoformat(), "to": (T0 + HOUR).isoformat()}}


def test_accepting_the_flag_bills_the_customer_so_the_vendor_never_accepts_it_alone() -> None:
    assert FACTS_DISAGREE.on_accept == "bills_customer"
    assert who_may("facts_disagree", "accept") == ("customer", "operator")
    assert who_may("facts_disagree", "reject") == ("customer", "vendor_admin", "operator")


EVENTS = st.lists(
    st.tuples(
        st.sampled_from([vendor, customer, recorded]),  # who reported it, how
        st.integers(min_value=-100, max_value=100),  # hours from T0
        st.one_of(st.none(), st.integers(min_value=0, max_value=10**6)),
        st.sampled_from(["", "conv-1", "conv-2"]),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=40, deadline=None)
@given(EVENTS, st.randoms(use_true_random=False))
def test_the_order_the_events_arrive_in_never_changes_the_billed_facts(
    reported: list[tuple[Any, int, int | None, str]], shuffler: Any
) -> None:
    events = [
        report(T0 + hours * HOUR, value_minor=value, parent_key=parent)
        for report, hours, value, parent in reported
    ]
    arrived = list(events)
    shuffler.shuffle(arrived)

    first, second = outcome_facts(*events), outcome_facts(*arrived)

    assert settle(first) == settle(second)
    assert RULE.evaluate(first, {}, T0) == RULE.evaluate(second, {}, T0)

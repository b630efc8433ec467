"""Rule 7 on in-memory facts: a vendor's claim confirmed by the customer's system within the window, or
held, then rejected, billed unverified, accepted after silence, or flagged when suppression is in question."""

from __future__ import annotations

import datetime as dt

from outcomes.models import EventKind, Party, ReviewDecision
from outcomes.rules.base import EventFact, accept, flag, hold, iso, reject
from outcomes.rules.confirmation import Confirmation
from outcomes.rules.suppression import SUPPRESSION_SUSPECTED, SuppressionStats
from tests.support.facts import CONTRACT_ID, HOUR, T0, fact, outcome_facts, policy

RULE = Confirmation()
UNMATCHED = {"claimed_at": iso(T0), "match_window_hours": 72}


def confirmed(at: dt.datetime) -> EventFact:
    return fact(EventKind.OUTCOME_CONFIRMED, at, from_customer=True)


def test_when_not_required_it_records_nothing() -> None:
    facts = outcome_facts(rules=policy(confirmation={"required": False}))

    assert RULE.evaluate(facts, {}, T0) is None


def test_an_outcome_the_system_of_record_reported_itself_is_accepted() -> None:
    facts = outcome_facts(fact(from_customer=True))

    assert RULE.evaluate(facts, {}, T0) == accept("reported_by_system_of_record", confirmed_at=iso(T0))


def test_a_claim_confirmed_within_the_window_is_accepted_by_an_event_or_by_the_customer_accepting_it() -> (
    None
):
    by_event = outcome_facts(fact(), confirmed(T0 + 72 * HOUR))
    decision = ReviewDecision(party=Party.CUSTOMER, verdict=ReviewDecision.Verdict.ACCEPT, at=T0 + 2 * HOUR)
    by_decision = outcome_facts(fact(), decisions={"velocity_anomaly": decision})

    assert RULE.evaluate(by_event, {}, T0 + 72 * HOUR) == accept(
        "confirmed", claimed_at=iso(T0), confirmed_at=iso(T0 + 72 * HOUR), match_window_hours=72
    )
    assert RULE.evaluate(by_decision, {}, T0 + 2 * HOUR) == accept(
        "confirmed", claimed_at=iso(T0), confirmed_at=iso(T0 + 2 * HOUR), match_window_hours=72
    )


def test_an_unconfirmed_claim_is_held_for_the_window_then_rejected() -> None:
    facts = outcome_facts(fact())

    assert RULE.evaluate(facts, {}, T0 + 71 * HOUR) == hold(
        T0 + 72 * HOUR, "awaiting_confirmation", **UNMATCHED
    )
    assert RULE.evaluate(facts, {}, T0 + 72 * HOUR) == reject("unconfirmed", **UNMATCHED)


def test_a_confirmation_after_the_window_does_not_match() -> None:
    facts = outcome_facts(fact(), confirmed(T0 + 73 * HOUR))

    assert RULE.evaluate(facts, {}, T0 + 73 * HOUR) == reject(
        "unconfirmed", confirmed_at=iso(T0 + 73 * HOUR), **UNMATCHED
    )


def test_silence_is_consent_once_the_silence_window_has_passed() -> None:
    facts = outcome_facts(fact(), rules=policy(confirmation={"on_unmatched": "silence_is_consent"}))

    assert RULE.evaluate(facts, {}, T0 + 100 * HOUR) == hold(
        T0 + 168 * HOUR, "awaiting_silence", silence_window_hours=168, **UNMATCHED
    )
    assert RULE.evaluate(facts, {}, T0 + 168 * HOUR) == accept(
        "silence_is_consent", silence_window_hours=168, **UNMATCHED
    )


def test_an_unmatched_claim_may_be_billed_unverified_at_a_share_of_the_price() -> None:
    facts = outcome_facts(fact(), rules=policy(confirmation={"on_unmatched": "bill_unverified"}))

    assert RULE.evaluate(facts, {}, T0 + 72 * HOUR) == accept(
        "billed_unverified", price_percent=50, **UNMATCHED
    )


def test_with_suppression_suspected_an_unmatched_claim_is_flagged_instead_of_rejected() -> None:
    stats = {"suspected": True, "recent_confirmation_ratio": 0.1}
    prepared = {"suppression": SuppressionStats(contracts={CONTRACT_ID: stats}, flagged=frozenset())}

    verdict = RULE.evaluate(outcome_facts(fact()), prepared, T0 + 72 * HOUR)

    assert verdict == flag(SUPPRESSION_SUSPECTED, **UNMATCHED, **stats)

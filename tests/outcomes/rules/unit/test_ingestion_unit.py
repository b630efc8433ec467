"""Rules 1-3 on in-memory facts: what they record about the events ingestion already checked."""

from __future__ import annotations

from outcomes.models import EventKind
from outcomes.rules.base import accept
from outcomes.rules.ingestion import Authenticity, Idempotency, NaturalKeyUniqueness
from tests.support.facts import HOUR, SOURCE_ID, T0, fact, outcome_facts


def test_authenticity_records_the_sources_and_deliveries_that_verified() -> None:
    facts = outcome_facts(
        fact(event_id="evt_a"), fact(EventKind.OUTCOME_CONFIRMED, T0 + HOUR, event_id="evt_b")
    )

    assert Authenticity().evaluate(facts, {}, T0) == accept(
        "signature_verified", sources=[str(SOURCE_ID)], deliveries=2
    )


def test_idempotency_records_each_event_once_in_id_order() -> None:
    facts = outcome_facts(fact(event_id="evt_b"), fact(event_id="evt_a"))

    assert Idempotency().evaluate(facts, {}, T0) == accept("events_counted_once", events=["evt_a", "evt_b"])


def test_natural_key_is_unique_with_one_claim_and_merged_with_two() -> None:
    once = outcome_facts(fact())
    twice = outcome_facts(fact(), fact(at=T0 + HOUR))

    assert NaturalKeyUniqueness().evaluate(once, {}, T0) == accept(
        "unique_natural_key", natural_key="T-1", claims=1
    )
    assert NaturalKeyUniqueness().evaluate(twice, {}, T0) == accept(
        "merged_repeated_claims", natural_key="T-1", claims=2
    )

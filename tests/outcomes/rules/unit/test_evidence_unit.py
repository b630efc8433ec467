"""Rule 6 on in-memory facts: the required evidence fields present and well-formed."""

from __future__ import annotations

from outcomes.rules.base import accept, reject
from outcomes.rules.evidence import Evidence
from tests.support.facts import HOUR, T0, fact, outcome_facts, policy

RULE = Evidence()
DIGEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
REQUIRED = policy(evidence={"required_fields": {"transcript": "sha256", "ticket_url": "url"}})


def test_without_required_fields_it_records_nothing() -> None:
    assert RULE.evaluate(outcome_facts(), {}, T0) is None


def test_missing_fields_are_named() -> None:
    facts = outcome_facts(fact(evidence={"ticket_url": "https://desk.test/T-1"}), rules=REQUIRED)

    assert RULE.evaluate(facts, {}, T0) == reject("evidence_missing", missing=["transcript"])


def test_malformed_fields_are_named_with_their_kind() -> None:
    facts = outcome_facts(
        fact(evidence={"transcript": "not-a-digest", "ticket_url": "ftp://x"}), rules=REQUIRED
    )

    assert RULE.evaluate(facts, {}, T0) == reject(
        "evidence_malformed", malformed={"ticket_url": "url", "transcript": "sha256"}
    )


def test_complete_evidence_is_accepted_and_a_later_event_cannot_repair_an_earlier_field() -> None:
    good = {"transcript": DIGEST, "ticket_url": "https://desk.test/T-1"}
    complete = outcome_facts(fact(evidence=good), rules=REQUIRED)
    repaired = outcome_facts(
        fact(evidence={**good, "transcript": "bad"}), fact(at=T0 + HOUR, evidence=good), rules=REQUIRED
    )

    assert RULE.evaluate(complete, {}, T0) == accept("evidence_complete", fields=["ticket_url", "transcript"])
    assert RULE.evaluate(repaired, {}, T0) == reject("evidence_malformed", malformed={"transcript": "sha256"})

"""Rule 13 on in-memory facts: a sampled outcome (its sample from `prepare`, given here) waits for the
customer's attestation; a denial, or no answer by the deadline, is an error."""

from __future__ import annotations

from typing import Any

from outcomes.models import AuditSample
from outcomes.rules.base import accept, hold, iso, reject
from outcomes.rules.sampling import AuditSampling, AuditSamplingParams
from tests.support.facts import DAY, SECOND, T0, outcome_facts, policy

RULE = AuditSampling()
DEADLINE = T0 + 14 * DAY
DETAILS = {"selected_at": iso(T0), "deadline": iso(DEADLINE)}


def evaluate(now: Any, unanswered: str = "error", **answer: str) -> Any:
    rules = policy(audit_sampling={"enabled": True, "unanswered": unanswered})
    facts = outcome_facts(outcome={"id": 7}, rules=rules)
    sample = AuditSample(outcome=facts.outcome, selected_at=T0, deadline=DEADLINE, **answer)
    return RULE.evaluate(facts, {"audit_sampling": {7: sample}}, now)


def test_an_outcome_not_sampled_records_nothing() -> None:
    assert RULE.evaluate(outcome_facts(outcome={"id": 7}), {"audit_sampling": {}}, T0) is None


def test_a_sample_waits_for_its_answer_until_the_deadline_then_is_an_error() -> None:
    assert evaluate(DEADLINE - SECOND) == hold(DEADLINE, "awaiting_attestation", **DETAILS)
    assert evaluate(DEADLINE) == reject("audit_unanswered", **DETAILS)


def test_an_attested_sample_is_accepted_and_a_denied_one_rejected() -> None:
    attested = evaluate(T0 + DAY, answer=AuditSample.Answer.ATTESTED, answered_by="api_key:customer")
    denied = evaluate(
        T0 + DAY, answer=AuditSample.Answer.DENIED, answered_by="api_key:customer", note="never happened"
    )

    assert attested == accept("attested", answered_by="api_key:customer", **DETAILS)
    assert denied == reject("audit_denied", answered_by="api_key:customer", note="never happened", **DETAILS)


def test_silence_is_not_counted_when_the_contract_says_so_and_counts_only_past_the_deadline() -> None:
    assert evaluate(DEADLINE - SECOND, "not_counted") == hold(DEADLINE, "awaiting_attestation", **DETAILS)
    assert evaluate(DEADLINE, "not_counted") == accept("audit_unanswered_not_counted", **DETAILS)
    error, not_counted = AuditSamplingParams(), AuditSamplingParams(unanswered="not_counted")
    assert error.unanswered == "error"  # the default: the contract asked for the customer's word
    assert [error.counts(answered=False, deadline_passed=passed) for passed in (False, True)] == [False, True]
    assert [not_counted.counts(answered=False, deadline_passed=p) for p in (False, True)] == [False, False]
    assert not_counted.counts(answered=True, deadline_passed=False)

"""Rule 15 on in-memory facts: an open dispute (from `prepare`, given here) holds the outcome until its
deadline; upheld it is not billed, rejected by the vendor it is."""

from __future__ import annotations

from typing import Any

from outcomes.models import Dispute, EventKind
from outcomes.rules.base import accept, hold, iso, reject
from outcomes.rules.disputes import Disputes
from tests.support.facts import DAY, T0, fact, outcome_facts

RULE = Disputes()
DEADLINE = T0 + 14 * DAY
DETAILS = {"dispute_id": 5, "opened_at": iso(T0), "deadline": iso(DEADLINE)}


def evaluate(status: str, resolved_by: str = "") -> Any:
    facts = outcome_facts(outcome={"id": 9})
    dispute = Dispute(
        id=5, outcome=facts.outcome, opened_at=T0, deadline=DEADLINE, status=status, resolved_by=resolved_by
    )
    return RULE.evaluate(facts, {"disputes": {9: dispute}}, T0 + DAY)


def test_without_a_dispute_it_records_nothing_and_a_dispute_out_of_window_is_recorded_as_such() -> None:
    disputed_late = outcome_facts(fact(), fact(EventKind.OUTCOME_DISPUTED, T0 + 40 * DAY, from_customer=True))

    assert RULE.evaluate(outcome_facts(), {"disputes": {}}, T0) is None
    assert RULE.evaluate(disputed_late, {"disputes": {}}, T0 + 40 * DAY) == accept(
        "dispute_out_of_window", window_days=30
    )


def test_an_open_dispute_holds_the_outcome_until_its_deadline() -> None:
    assert evaluate(Dispute.Status.OPEN) == hold(DEADLINE, "dispute_open", **DETAILS)


def test_a_dispute_upheld_rejects_the_outcome_and_one_rejected_by_the_vendor_accepts_it() -> None:
    for status in (Dispute.Status.ACCEPTED, Dispute.Status.EXPIRED_CREDITED):
        assert evaluate(status, "system:deadline") == reject(
            "dispute_upheld", status=status, resolved_by="system:deadline", **DETAILS
        )
    for status in (Dispute.Status.REJECTED, Dispute.Status.EXPIRED_BILLED):
        assert evaluate(status, "user:owner") == accept(
            "dispute_rejected", status=status, resolved_by="user:owner", **DETAILS
        )

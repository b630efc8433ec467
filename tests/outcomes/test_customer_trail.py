"""The customer's view of an outcome's trail (outcomes.trail): one rule, read by the customer API and the
customer portal alike. It keeps what happened and why; it drops who at the vendor acted, the vendor's own
notes and evidence, and the facts that raised a flag."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine

from contracts.models import CustomerRole
from outcomes.models import (
    Decision,
    Dispute,
    Outcome,
    OutcomeTransition,
    OutcomeVerdict,
    Party,
    ReviewDecision,
)
from outcomes.trail import Trail, customer_view
from tests.outcomes.test_api_verification import SAMPLED, T0, VELOCITY, Scene, customer_key, terms
from tests.support.ingest import make_ingest
from tests.support.portal import make_customer_member, signed_in

pytestmark = pytest.mark.django_db

ADMIN_REJECTS = {
    "flag_reason": "velocity_anomaly",
    "verdict": "reject",
    "justification": "Duplicates of T-9: not billed.",
    "evidence": {"crm_export": "internal-export-77"},
}
CUSTOMER_ACCEPTS = {"flag_reason": "velocity_anomaly", "verdict": "accept", "evidence": {"our_ref": "R-1"}}


@pytest.fixture(autouse=True)
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def scene(db: None, django_capture_on_commit_callbacks: Any) -> Scene:
    return Scene(django_capture_on_commit_callbacks)


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (key path, value) of a JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}.{key}", item
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, f"{path}[]")


def test_the_customer_api_gives_none_of_the_vendors_own_and_the_portal_shows_the_same(
    scene: Scene, clock: Any
) -> None:
    ingest = make_ingest(terms=terms(**VELOCITY, **SAMPLED))
    by_admin, by_customer = scene.velocity_flagged(ingest)[:2]
    vendor, customer = ingest.api.client, customer_key(ingest)
    # A vendor admin rejects one flag, with a justification for the customer and its own evidence; the
    # customer accepts another with its evidence, disputes it, and the vendor rejects the dispute.
    assert vendor.post(f"/api/v1/outcomes/{by_admin}/review", ADMIN_REJECTS, format="json").status_code == 201
    accepted = customer.post(
        f"/api/v1/customer/outcomes/{by_customer}/review", CUSTOMER_ACCEPTS, format="json"
    )
    assert accepted.status_code == 201
    attested = customer.post(
        f"/api/v1/customer/outcomes/{by_customer}/attest", {"attested": True}, format="json"
    )
    assert attested.status_code == 200, attested.content
    dispute = customer.post(
        f"/api/v1/customer/outcomes/{by_customer}/dispute", {"reason": "Reopened next day."}, format="json"
    ).json()
    answer = {"accept": False, "response": "Closed for good on day 2.", "evidence": {"log": "closure-551"}}
    assert vendor.post(f"/api/v1/disputes/{dispute['id']}/respond", answer, format="json").status_code == 200
    vendor_actor = f"api_key:{ingest.api.api_key.prefix}"
    portal = signed_in(make_customer_member(customer=ingest.contract.customer, role=CustomerRole.VIEWER))

    for outcome_id in (by_admin, by_customer):
        vendor_trail = vendor.get(f"/api/v1/outcomes/{outcome_id}").json()
        theirs = customer.get(f"/api/v1/customer/outcomes/{outcome_id}").json()
        page = portal.get(f"/customer/outcomes/{outcome_id}/").content.decode()
        # The vendor's trail has what the customer's has not.
        assert vendor_actor in json.dumps(vendor_trail)
        assert any(v["facts"] for v in vendor_trail["verdicts"] if v["decision"] == "flag")
        # None of it in the customer's answer: no actor of any kind (but the customer's own, who opened a
        # dispute or answered a sample), no delivery, no flag facts, no vendor's people, no vendor's evidence.
        keys = {path.rsplit(".", 1)[-1] for path, _ in _walk(theirs)}
        assert not keys & {
            "actor",
            "delivery_id",
            "flag_facts",
            "decided_by",
            "resolved_by",
            "response_evidence",
        }
        text = json.dumps(theirs)
        for secret in (vendor_actor, "internal-export-77", "closure-551"):
            assert secret not in text
            assert secret not in page
        assert all(v["facts"] == {} for v in theirs["verdicts"] if v["decision"] == "flag")
        # What the customer keeps is the same in both: each decision's words and evidence, the answer.
        for decision in theirs["review_decisions"]:
            assert decision["party"] in ("vendor_admin", "customer")
            if decision["justification"]:
                assert decision["justification"] in page
        assert [v["reason"] for v in theirs["verdicts"]] == [v["reason"] for v in vendor_trail["verdicts"]]
        for verdict in theirs["verdicts"]:
            assert f"<code>{verdict['reason']}</code>" in page

    admin_decision = customer.get(f"/api/v1/customer/outcomes/{by_admin}").json()["review_decisions"]
    assert [(d["party"], d["justification"], d["evidence"]) for d in admin_decision] == [
        ("vendor_admin", "Duplicates of T-9: not billed.", {})
    ]
    own = customer.get(f"/api/v1/customer/outcomes/{by_customer}").json()
    assert [(d["party"], d["evidence"]) for d in own["review_decisions"]] == [
        ("customer", {"our_ref": "R-1"})
    ]
    assert (own["dispute"]["status"], own["dispute"]["response"]) == ("rejected", "Closed for good on day 2.")
    page = portal.get(f"/customer/outcomes/{by_customer}/").content.decode()
    assert "Closed for good on day 2." in page
    assert "R-1" in page  # its own evidence


def test_the_rule_on_rows_a_vendor_decision_keeps_neither_its_notes_nor_its_evidence() -> None:
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    outcome = Outcome(pk=1)
    flag = OutcomeVerdict(
        rule="suppression", decision=Decision.FLAG, reason="suppressed", facts={"n": 6}, at=now
    )
    cleared = OutcomeVerdict(
        rule="suppression",
        decision=Decision.ACCEPT,
        reason="suppression_cleared",
        facts={"flag_facts": {"n": 6}, "decided_by": "user:ops@vendor.test", "window_days": 7},
        at=now,
    )
    decisions = [
        ReviewDecision(
            party=party,
            actor=f"{party}:someone",
            justification=f"{party} note",
            evidence={"by": party},
            at=now,
        )
        for party in (Party.VENDOR, Party.VENDOR_ADMIN, Party.OPERATOR, Party.CUSTOMER)
    ]
    dispute = Dispute(
        reason="No.", response="Yes.", resolved_by="user:ops@vendor.test", response_evidence={"a": 1}
    )
    transition = OutcomeTransition(
        from_state="flagged", to_state="billable", actor="system:verification", at=now
    )
    trail = Trail(
        outcome=outcome,
        raw_events=[],
        verdicts=[flag, cleared],
        transitions=[transition],
        review_decisions=decisions,
        dispute=dispute,
        audit_sample=None,
    )

    view = customer_view(trail)

    assert [v.facts for v in view.verdicts] == [{}, {"window_days": 7}]
    assert [(d.party, d.actor, d.justification, d.evidence) for d in view.review_decisions] == [
        (Party.VENDOR, "", "", {}),
        (Party.VENDOR_ADMIN, "", "vendor_admin note", {}),
        (Party.OPERATOR, "", "operator note", {}),
        (Party.CUSTOMER, "", "customer note", {"by": "customer"}),
    ]
    assert view.dispute is not None
    assert (view.dispute.response, view.dispute.resolved_by, view.dispute.response_evidence) == (
        "Yes.",
        "",
        {},
    )
    assert [t.actor for t in view.transitions] == [""]
    # The rows read from the database are left as they were.
    assert cleared.facts["decided_by"] == "user:ops@vendor.test"
    assert decisions[0].justification == "vendor note"
    assert dispute.resolved_by == "user:ops@vendor.test"
    assert transition.actor == "system:verification"

"""The verification API: the review queue and decisions on flags, disputes, audit attestations and the
outcome's full trail, for the vendor's key and for a customer's key; and what neither key reaches."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from contracts.models import ApiKey, AuditEntry
from outcomes.models import (
    AuditSample,
    Dispute,
    Outcome,
    OutcomeTransition,
    OutcomeVerdict,
    ReviewDecision,
)
from tests.factories import field_error_codes, outcome_type_terms, version_terms
from tests.support.ingest import Ingest, event, make_ingest
from tests.support.vendors import make_vendor_api

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
# Tasks only the agent reports, billable as soon as verified: the velocity check is what stands guard.
VELOCITY = {"confirmation": {"required": False}, "maturation": {"hold_hours": 0}}
SAMPLED = {"audit_sampling": {"enabled": True, "rate": 1.0, "attestation_days": 14}}
INFLATION = {"flag_reason": "velocity_anomaly", "verdict": "accept", "justification": "Seasonal peak."}


@pytest.fixture(autouse=True)
def clock() -> Iterator[time_machine.Traveller]:
    # Autouse fixtures are set up first: contracts, keys and events all share this instant.
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def terms(**policy: Any) -> dict[str, Any]:
    return version_terms(outcome_types=[outcome_type_terms(verification_policy=policy)])


def ago(**delta: float) -> str:
    return (T0 - dt.timedelta(**delta)).isoformat()


def customer_key(ingest: Ingest, scope: str = "write") -> APIClient:
    """A key the vendor issues to the contract's customer, through the vendor API."""
    response = ingest.api.client.post(
        f"/api/v1/customers/{ingest.contract.customer_id}/api-keys",
        {"name": "Customer portal", "scope": scope},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["customer_id"] == str(ingest.contract.customer_id)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['key']}")
    return client


@dataclass
class Scene:
    """Builds outcomes in a given state through signed webhooks, verified as the workers would."""

    capture: Callable[..., AbstractContextManager[Any]]

    def deliver(self, ingest: Ingest, keys_at: list[tuple[str, str]], *, as_agent: bool = False) -> list[int]:
        events = [
            event(contract=ingest.contract.reference, natural_key=key, occurred_at=occurred_at)
            for key, occurred_at in keys_at
        ]
        with self.capture(execute=True):
            response = ingest.post(events[0] if len(events) == 1 else {"events": events}, as_agent=as_agent)
        assert response.status_code == 200, response.content
        assert response.json()["accepted"] == len(events)
        outcomes = Outcome.objects.filter(contract=ingest.contract, natural_key__in=[k for k, _ in keys_at])
        ids = dict(outcomes.values_list("natural_key", "id"))
        return [ids[key] for key, _ in keys_at]

    def billable(self, ingest: Ingest, *keys: str) -> list[int]:
        """Reported by the customer's own helpdesk two days ago: confirmed and matured on arrival."""
        return self.deliver(ingest, [(key, ago(days=2)) for key in keys])

    def rejected(self, ingest: Ingest, key: str) -> int:
        """Claimed by the agent four days ago and never confirmed: past the match window, rejected."""
        (outcome_id,) = self.deliver(ingest, [(key, ago(days=4))], as_agent=True)
        return outcome_id

    def velocity_flagged(self, ingest: Ingest, burst: int = 10) -> list[int]:
        """Two weeks of three a day (a VELOCITY contract), then `burst` today: all of them flagged."""
        history = [(f"H{day:02d}-{n}", ago(days=day, hours=1)) for day in range(1, 15) for n in range(3)]
        self.deliver(ingest, history, as_agent=True)
        return self.deliver(ingest, [(f"B-{n}", ago(minutes=5)) for n in range(burst)], as_agent=True)

    def suppression_flagged(self, ingest: Ingest) -> list[int]:
        """Twenty confirmed days, then a week of agent claims the helpdesk never confirms: flagged."""
        history = [(f"H{day:02d}-{n}", ago(days=day, hours=1)) for day in range(8, 28) for n in range(2)]
        self.deliver(ingest, history)
        return self.deliver(
            ingest, [(f"S-{n}", ago(days=4 + n % 3, hours=1)) for n in range(6)], as_agent=True
        )


@pytest.fixture
def scene(db: None, django_capture_on_commit_callbacks: Any) -> Scene:
    return Scene(django_capture_on_commit_callbacks)


def detail(client: APIClient, outcome_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/outcomes/{outcome_id}")
    assert response.status_code == 200, response.content
    return dict(response.json())


def latest_verdict(trail: dict[str, Any], rule: str) -> dict[str, Any]:
    return dict([v for v in trail["verdicts"] if v["rule"] == rule][-1])


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"]) == (status, code)
    assert body["message"]
    return body


def verification_rows() -> dict[str, list[Any]]:
    """Every row the verification endpoints may write: equal before and after a refused request."""
    rows: dict[str, list[Any]] = {
        model.__name__: list(model._default_manager.order_by("pk").values())
        for model in (Outcome, OutcomeVerdict, OutcomeTransition, ReviewDecision, Dispute, AuditSample)
    }
    rows["ApiKey"] = list(ApiKey.objects.order_by("pk").values("id", "customer_id", "scope", "revoked_at"))
    return rows


# --- the review queue and decisions ---------------------------------------------------------


def test_review_queue_lists_flagged_outcomes_with_their_facts_and_who_decides(scene: Scene) -> None:
    bursting = make_ingest(terms=terms(**VELOCITY))
    burst = scene.velocity_flagged(bursting)
    quiet = make_ingest(bursting.api, reference="CTR-quiet")
    suppressed = scene.suppression_flagged(quiet)

    response = bursting.api.client.get("/api/v1/review-queue", {"limit": 200})

    assert response.status_code == 200
    queue = {item["id"]: item for item in response.json()["results"]}
    assert set(queue) == {*burst, *suppressed}  # flagged only: no billable history among them
    assert {item["state"] for item in queue.values()} == {"flagged"}
    (velocity,) = queue[burst[0]]["open_flags"]
    assert velocity == {
        "flag_reason": "velocity_anomaly",
        "rule": "anomaly",
        "facts": {"day": "2026-06-01", "count": 10, "baseline_median": 3, "z": None, "z_threshold": 3.5},
        "raised_at": "2026-06-01T12:00:00Z",
        "deadline": "2026-06-15T12:00:00Z",  # raised_at + the default 14 days (flag_deadlines)
        "decided_by": ["customer", "operator", "vendor_admin"],
        "accepted_by": ["customer", "operator"],
        "rejected_by": ["customer", "operator", "vendor_admin"],
    }
    (suppression,) = queue[suppressed[0]]["open_flags"]
    assert (
        suppression["flag_reason"],
        suppression["decided_by"],
        suppression["accepted_by"],
        suppression["rejected_by"],
    ) == (
        "suppression_suspected",
        ["customer", "operator", "vendor"],
        ["customer", "operator"],
        ["operator", "vendor"],
    )
    assert suppression["facts"]["suspected"] is True
    assert (
        suppression["facts"]["baseline_confirmation_ratio"],
        suppression["facts"]["recent_confirmation_ratio"],
    ) == (1.0, 0.0)
    assert make_vendor_api().client.get("/api/v1/review-queue").json()["results"] == []


def test_a_vendor_admin_rejects_an_inflation_flag_only_with_a_justification_and_never_accepts_it(
    scene: Scene,
) -> None:
    ingest = make_ingest(terms=terms(**VELOCITY))
    outcome_id = scene.velocity_flagged(ingest)[0]
    url = f"/api/v1/outcomes/{outcome_id}/review"

    accepted = ingest.api.client.post(url, INFLATION, format="json")
    assert_error(accepted, 403, "decision_needs_other_party")
    for justification in (None, "", "   "):
        body = {"flag_reason": "velocity_anomaly", "verdict": "reject"}
        if justification is not None:
            body["justification"] = justification
        refused = ingest.api.client.post(url, body, format="json")
        assert field_error_codes(assert_error(refused, 400, "validation_error")) == {
            "justification": ["required"]
        }
    assert not ReviewDecision.objects.exists()
    assert detail(ingest.api.client, outcome_id)["state"] == "flagged"

    decided = ingest.api.client.post(url, {**INFLATION, "verdict": "reject"}, format="json")

    assert decided.status_code == 201, decided.content
    assert decided.json() == {
        "flag_reason": "velocity_anomaly",
        "verdict": "reject",
        "party": "vendor_admin",
        "actor": f"api_key:{ingest.api.api_key.prefix}",
        "justification": "Seasonal peak.",
        "evidence": {},
        "at": "2026-06-01T12:00:00Z",
    }
    trail = detail(ingest.api.client, outcome_id)
    assert trail["state"] == "rejected"
    assert latest_verdict(trail, "anomaly")["reason"] == "velocity_anomaly_rejected_on_review"


def test_the_customer_decides_an_inflation_flag_with_its_own_key(scene: Scene) -> None:
    ingest = make_ingest(terms=terms(**VELOCITY))
    confirmed, denied = scene.velocity_flagged(ingest)[:2]
    customer = customer_key(ingest)

    accept = customer.post(
        f"/api/v1/customer/outcomes/{confirmed}/review",
        {"flag_reason": "velocity_anomaly", "verdict": "accept"},
        format="json",
    )
    reject = customer.post(
        f"/api/v1/customer/outcomes/{denied}/review",
        {"flag_reason": "velocity_anomaly", "verdict": "reject", "justification": "Never happened."},
        format="json",
    )

    assert accept.status_code == 201, accept.content
    assert (accept.json()["party"], accept.json()["justification"]) == ("customer", "")
    assert accept.json()["actor"] == f"api_key:{ApiKey.objects.get(customer__isnull=False).prefix}"
    assert reject.status_code == 201, reject.content
    assert detail(ingest.api.client, confirmed)["state"] == "billable"
    trail = detail(ingest.api.client, denied)
    assert trail["state"] == "rejected"
    assert latest_verdict(trail, "anomaly")["reason"] == "velocity_anomaly_rejected_on_review"


def test_a_read_only_customer_key_cannot_decide(scene: Scene) -> None:
    ingest = make_ingest(terms=terms(**VELOCITY))
    outcome_id = scene.velocity_flagged(ingest)[0]
    reader = customer_key(ingest, scope="read")

    refused = reader.post(
        f"/api/v1/customer/outcomes/{outcome_id}/review",
        {"flag_reason": "velocity_anomaly", "verdict": "accept"},
        format="json",
    )

    assert_error(refused, 403, "permission_denied")
    assert reader.get(f"/api/v1/customer/outcomes/{outcome_id}").status_code == 200
    assert not ReviewDecision.objects.exists()


def test_a_suppression_flag_is_never_cleared_by_the_vendor_alone_nor_rejected_by_the_customer(
    scene: Scene,
) -> None:
    ingest = make_ingest()
    outcome_id = scene.suppression_flagged(ingest)[0]
    body = {"flag_reason": "suppression_suspected", "verdict": "reject"}
    customer = customer_key(ingest)
    customer_url = f"/api/v1/customer/outcomes/{outcome_id}/review"

    by_customer = customer.post(customer_url, body, format="json")
    assert_error(by_customer, 403, "decision_needs_other_party")
    url = f"/api/v1/outcomes/{outcome_id}/review"
    evidence = {"transcript_url": "https://agent.example/t/S-0"}
    by_vendor = ingest.api.client.post(
        url, {**body, "verdict": "accept", "evidence": evidence}, format="json"
    )
    assert_error(by_vendor, 403, "decision_needs_other_party")
    assert not ReviewDecision.objects.exists()
    assert detail(ingest.api.client, outcome_id)["state"] == "flagged"

    # The customer agreeing to pay needs no evidence.
    cleared = customer.post(customer_url, {**body, "verdict": "accept"}, format="json")

    assert cleared.status_code == 201, cleared.content
    assert (cleared.json()["party"], cleared.json()["evidence"]) == ("customer", {})
    trail = detail(ingest.api.client, outcome_id)
    # The customer's acceptance is its confirmation: the outcome matures from it, as any confirmed one.
    assert trail["state"] == "maturing"
    assert latest_verdict(trail, "confirmation")["reason"] == "suppression_suspected_cleared"
    assert latest_verdict(trail, "maturation")["reason"] == "maturing"


def test_deciding_a_flag_twice_is_409_already_decided(scene: Scene) -> None:
    ingest = make_ingest(terms=terms(**VELOCITY))
    outcome_id = scene.velocity_flagged(ingest)[0]
    customer = customer_key(ingest)
    body = {"flag_reason": "velocity_anomaly", "verdict": "reject"}
    assert (
        customer.post(f"/api/v1/customer/outcomes/{outcome_id}/review", body, format="json").status_code
        == 201
    )
    before = verification_rows()

    again = customer.post(
        f"/api/v1/customer/outcomes/{outcome_id}/review", {**body, "verdict": "accept"}, format="json"
    )
    by_vendor = ingest.api.client.post(f"/api/v1/outcomes/{outcome_id}/review", INFLATION, format="json")

    assert_error(again, 409, "already_decided")
    assert_error(by_vendor, 409, "already_decided")
    assert verification_rows() == before
    assert detail(ingest.api.client, outcome_id)["state"] == "rejected"


def test_a_decision_on_no_open_flag_is_409_no_such_flag(scene: Scene) -> None:
    ingest = make_ingest(terms=terms(**VELOCITY))
    flagged = scene.velocity_flagged(ingest)[0]
    (billable,) = scene.billable(ingest, "T-ok")
    client = ingest.api.client
    before = verification_rows()

    on_billable = client.post(f"/api/v1/outcomes/{billable}/review", INFLATION, format="json")
    wrong_flag = client.post(
        f"/api/v1/outcomes/{flagged}/review",
        {"flag_reason": "suppression_suspected", "verdict": "accept", "evidence": {"a": 1}},
        format="json",
    )
    bad_verdict = client.post(
        f"/api/v1/outcomes/{flagged}/review", {**INFLATION, "verdict": "maybe"}, format="json"
    )
    unknown = client.post("/api/v1/outcomes/999999999/review", INFLATION, format="json")

    assert field_error_codes(assert_error(on_billable, 409, "no_such_flag")) == {"flag_reason": ["not_open"]}
    assert_error(wrong_flag, 409, "no_such_flag")
    assert field_error_codes(assert_error(bad_verdict, 400, "validation_error")) == {
        "verdict": ["invalid_choice"]
    }
    assert_error(unknown, 404, "not_found")
    assert verification_rows() == before


# --- disputes ---------------------------------------------------------------------------------


def open_dispute(
    customer: APIClient, outcome_id: int, reason: str = "The ticket was reopened."
) -> dict[str, Any]:
    response = customer.post(
        f"/api/v1/customer/outcomes/{outcome_id}/dispute", {"reason": reason}, format="json"
    )
    assert response.status_code == 201, response.content
    return dict(response.json())


def test_disputes_are_listed_newest_first_and_filtered_by_status(scene: Scene, clock: Any) -> None:
    ingest = make_ingest()
    first, second = scene.billable(ingest, "T-1", "T-2")
    customer = customer_key(ingest)
    older = open_dispute(customer, first)
    clock.move_to(T0 + dt.timedelta(hours=1))
    newer = open_dispute(customer, second)
    answered = ingest.api.client.post(
        f"/api/v1/disputes/{older['id']}/respond", {"accept": True, "response": "Agreed."}, format="json"
    )
    assert answered.status_code == 200

    def listed(**query: str) -> list[tuple[int, str]]:
        response = ingest.api.client.get("/api/v1/disputes", query)
        assert response.status_code == 200, response.content
        return [(d["id"], d["status"]) for d in response.json()["results"]]

    assert listed() == [(newer["id"], "open"), (older["id"], "accepted")]
    assert listed(status="open") == [(newer["id"], "open")]
    assert listed(status="accepted") == [(older["id"], "accepted")]
    assert listed(status="expired_credited") == []
    bad = ingest.api.client.get("/api/v1/disputes", {"status": "lost"})
    assert field_error_codes(assert_error(bad, 400, "validation_error")) == {"status": ["invalid_choice"]}
    # The customer's answer is its view of the dispute (outcomes.trail): without who at the vendor
    # resolves it nor the vendor's evidence, which the vendor's list carries.
    assert newer == {
        "id": newer["id"],
        "outcome_id": second,
        "status": "open",
        "reason": "The ticket was reopened.",
        "opened_at": "2026-06-01T13:00:00Z",
        "opened_by": newer["opened_by"],
        "deadline": "2026-06-15T13:00:00Z",
        "response": "",
        "resolved_at": None,
    }
    vendor_row = ingest.api.client.get("/api/v1/disputes", {"status": "open"}).json()["results"][0]
    assert vendor_row == {**newer, "response_evidence": {}, "resolved_by": ""}
    assert newer["opened_by"].startswith("api_key:")
    assert make_vendor_api().client.get("/api/v1/disputes").json()["results"] == []


def test_the_vendor_accepts_a_dispute_and_the_outcome_is_not_billed(scene: Scene) -> None:
    ingest = make_ingest()
    (outcome_id,) = scene.billable(ingest, "T-1")
    dispute = open_dispute(customer_key(ingest), outcome_id)
    assert detail(ingest.api.client, outcome_id)["state"] == "disputed"
    # In the vendor's audit log, as the customer's key.
    [entry] = AuditEntry.objects.filter(action="dispute.opened")
    assert (entry.vendor_id, entry.object_type, entry.object_id) == (
        ingest.contract.vendor_id,
        "dispute",
        str(dispute["id"]),
    )
    assert entry.actor == dispute["opened_by"]
    assert entry.actor.startswith("api_key:")
    assert entry.details == {
        "outcome_id": outcome_id,
        "reason": "The ticket was reopened.",
        "deadline": "2026-06-15T12:00:00+00:00",
    }

    response = ingest.api.client.post(
        f"/api/v1/disputes/{dispute['id']}/respond",
        {"accept": True, "response": "Our mistake."},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert {k: response.json()[k] for k in ("status", "response", "resolved_at", "resolved_by")} == {
        "status": "accepted",
        "response": "Our mistake.",
        "resolved_at": "2026-06-01T12:00:00Z",
        "resolved_by": f"api_key:{ingest.api.api_key.prefix}",
    }
    [answered] = AuditEntry.objects.filter(action="dispute.accepted")
    assert (answered.object_id, answered.actor) == (
        str(dispute["id"]),
        f"api_key:{ingest.api.api_key.prefix}",
    )
    assert answered.details == {"outcome_id": outcome_id, "response": "Our mistake.", "with_evidence": False}
    trail = detail(ingest.api.client, outcome_id)
    assert (trail["state"], trail["transitions"][-1]["reason"]) == ("rejected", "dispute_upheld")


def test_rejecting_a_dispute_needs_evidence_then_bills_the_outcome(scene: Scene) -> None:
    ingest = make_ingest()
    (outcome_id,) = scene.billable(ingest, "T-1")
    dispute = open_dispute(customer_key(ingest), outcome_id)
    url = f"/api/v1/disputes/{dispute['id']}/respond"

    no_evidence = ingest.api.client.post(url, {"accept": False, "response": "It was solved."}, format="json")
    no_response = ingest.api.client.post(url, {"accept": False, "evidence": {"a": 1}}, format="json")
    assert field_error_codes(assert_error(no_evidence, 400, "validation_error")) == {"evidence": ["required"]}
    assert field_error_codes(assert_error(no_response, 400, "validation_error")) == {"response": ["required"]}
    assert Dispute.objects.get().status == "open"

    evidence = {"csat": 5, "closed_by_requester": True}
    rejected = ingest.api.client.post(
        url, {"accept": False, "response": "It was solved.", "evidence": evidence}, format="json"
    )

    assert rejected.status_code == 200, rejected.content
    assert (rejected.json()["status"], rejected.json()["response_evidence"]) == ("rejected", evidence)
    trail = detail(ingest.api.client, outcome_id)
    assert trail["state"] == "billable"
    assert latest_verdict(trail, "disputes")["reason"] == "dispute_rejected"


def test_a_dispute_answered_after_its_deadline_or_twice_is_409_dispute_closed(
    scene: Scene, clock: Any
) -> None:
    ingest = make_ingest()
    late_id, twice_id = scene.billable(ingest, "T-late", "T-twice")
    customer = customer_key(ingest)
    late, twice = open_dispute(customer, late_id), open_dispute(customer, twice_id)
    answer = {"accept": True, "response": "Agreed."}
    assert (
        ingest.api.client.post(f"/api/v1/disputes/{twice['id']}/respond", answer, format="json").status_code
        == 200
    )
    clock.move_to(T0 + dt.timedelta(days=14))  # the deadline: answers had to come before it
    before = verification_rows()

    too_late = ingest.api.client.post(f"/api/v1/disputes/{late['id']}/respond", answer, format="json")
    again = ingest.api.client.post(f"/api/v1/disputes/{twice['id']}/respond", answer, format="json")

    assert_error(too_late, 409, "dispute_closed")
    assert_error(again, 409, "dispute_closed")
    assert verification_rows() == before
    assert_error(
        ingest.api.client.post("/api/v1/disputes/999999/respond", answer, format="json"), 404, "not_found"
    )


def test_what_a_customer_cannot_dispute(scene: Scene, clock: Any) -> None:
    ingest = make_ingest()
    rejected = scene.rejected(ingest, "T-rejected")
    billable, old = scene.billable(ingest, "T-billable", "T-old")
    customer = customer_key(ingest)
    url = "/api/v1/customer/outcomes/{}/dispute"
    assert detail(ingest.api.client, rejected)["state"] == "rejected"

    assert_error(
        customer.post(url.format(rejected), {"reason": "Wrong."}, format="json"), 409, "not_disputable"
    )
    no_reason = customer.post(url.format(billable), {"reason": " "}, format="json")
    assert field_error_codes(assert_error(no_reason, 400, "validation_error")) == {"reason": ["blank"]}
    open_dispute(customer, billable)
    assert_error(
        customer.post(url.format(billable), {"reason": "Again."}, format="json"), 409, "already_disputed"
    )
    clock.move_to(T0 + dt.timedelta(days=30, seconds=1))  # the window: 30 days from becoming billable
    assert_error(
        customer.post(url.format(old), {"reason": "Late."}, format="json"), 409, "dispute_window_closed"
    )
    assert list(Dispute.objects.values_list("outcome_id", flat=True)) == [billable]


# --- audit attestations ---------------------------------------------------------------------


def test_the_customer_attests_a_sample_once_before_its_deadline(scene: Scene, clock: Any) -> None:
    ingest = make_ingest(terms=terms(**SAMPLED))
    answered, late = scene.billable(ingest, "T-1", "T-2")
    customer = customer_key(ingest)
    url = "/api/v1/customer/outcomes/{}/attest"

    first = customer.post(url.format(answered), {"attested": True, "note": "Checked."}, format="json")
    assert first.status_code == 200, first.content
    assert {k: first.json()[k] for k in ("answer", "answered_at", "note", "deadline")} == {
        "answer": "attested",
        "answered_at": "2026-06-01T12:00:00Z",
        "note": "Checked.",
        "deadline": "2026-06-15T12:00:00Z",
    }
    assert_error(
        customer.post(url.format(answered), {"attested": False}, format="json"), 409, "already_answered"
    )
    clock.move_to(T0 + dt.timedelta(days=14))
    assert_error(customer.post(url.format(late), {"attested": True}, format="json"), 409, "deadline_passed")
    assert list(AuditSample.objects.order_by("pk").values_list("answer", flat=True)) == ["attested", ""]
    # One entry in the vendor's audit log, for the answer given; none for the refused ones.
    [entry] = AuditEntry.objects.filter(action__startswith="audit_sample.")
    sample = AuditSample.objects.get(outcome_id=answered)
    assert (entry.action, entry.object_type, entry.object_id, entry.details) == (
        "audit_sample.attested",
        "auditsample",
        str(sample.pk),
        {"outcome_id": answered},
    )
    assert entry.actor == sample.answered_by


def test_attesting_an_outcome_that_was_not_sampled_is_404_not_sampled(scene: Scene) -> None:
    ingest = make_ingest()
    (outcome_id,) = scene.billable(ingest, "T-1")

    response = customer_key(ingest).post(
        f"/api/v1/customer/outcomes/{outcome_id}/attest", {"attested": True}, format="json"
    )

    assert_error(response, 404, "not_sampled")
    assert not AuditSample.objects.exists()


# --- the trail --------------------------------------------------------------------------------


def test_the_outcome_trail_shows_events_verdicts_transitions_decisions_dispute_and_sample(
    scene: Scene,
) -> None:
    ingest = make_ingest(terms=terms(**VELOCITY, **SAMPLED))
    outcome_id = scene.velocity_flagged(ingest)[0]
    customer = customer_key(ingest)
    review = {"flag_reason": "velocity_anomaly", "verdict": "accept"}
    assert (
        customer.post(f"/api/v1/customer/outcomes/{outcome_id}/review", review, format="json").status_code
        == 201
    )
    attest = {"attested": True}
    assert (
        customer.post(f"/api/v1/customer/outcomes/{outcome_id}/attest", attest, format="json").status_code
        == 200
    )
    open_dispute(customer, outcome_id)

    trail = detail(ingest.api.client, outcome_id)

    assert trail["state"] == "disputed"
    ((raw,),) = [trail["raw_events"]]
    assert (raw["kind"], raw["source_id"], raw["payload"]["natural_key"]) == (
        "outcome.claimed",
        str(ingest.agent.pk),
        "B-0",
    )
    assert set(raw) == {
        "event_id", "kind", "source_id", "from_customer", "delivery_id", "occurred_at", "received_at",
        "body_sha256", "payload",
    }  # fmt: skip
    assert raw["from_customer"] is False  # the vendor's agent claims; it never speaks for the customer
    anomaly = [(v["decision"], v["reason"]) for v in trail["verdicts"] if v["rule"] == "anomaly"]
    assert anomaly == [("flag", "velocity_anomaly"), ("accept", "velocity_anomaly_cleared")]
    assert set(trail["verdicts"][0]) == {"rule", "decision", "reason", "facts", "hold_until", "at"}
    assert latest_verdict(trail, "anomaly")["facts"]["flag_facts"]["count"] == 10
    assert [(t["from_state"], t["to_state"], t["reason"]) for t in trail["transitions"]] == [
        ("", "received", "first_event"),
        ("received", "pending", "events_recorded"),
        ("pending", "flagged", "velocity_anomaly"),
        ("flagged", "maturing", "awaiting_attestation"),
        ("maturing", "billable", "all_rules_accept"),
        ("billable", "disputed", "dispute_open"),
    ]
    assert [(d["flag_reason"], d["party"]) for d in trail["review_decisions"]] == [
        ("velocity_anomaly", "customer")
    ]
    assert (trail["dispute"]["status"], trail["dispute"]["reason"]) == ("open", "The ticket was reopened.")
    assert (trail["audit_sample"]["answer"], trail["audit_sample"]["deadline"]) == (
        "attested",
        "2026-06-15T12:00:00Z",
    )
    # The customer reads the same trail of its own outcome less what is the vendor's own
    # (tests/outcomes/test_customer_trail.py has the rule in full).
    theirs = customer.get(f"/api/v1/customer/outcomes/{outcome_id}").json()
    assert theirs == {
        **trail,
        "raw_events": [{k: v for k, v in e.items() if k != "delivery_id"} for e in trail["raw_events"]],
        "verdicts": [
            {
                **v,
                "facts": {}
                if v["decision"] == "flag"
                else {
                    k: f
                    for k, f in v["facts"].items()
                    if k not in ("flag_facts", "decided_by", "resolved_by")
                },
            }
            for v in trail["verdicts"]
        ],
        "transitions": [{k: v for k, v in t.items() if k != "actor"} for t in trail["transitions"]],
        "review_decisions": [{k: v for k, v in d.items() if k != "actor"} for d in trail["review_decisions"]],
        "dispute": {
            k: v for k, v in trail["dispute"].items() if k not in ("resolved_by", "response_evidence")
        },
    }


# --- isolation --------------------------------------------------------------------------------


def api_operations(prefix: str = "") -> list[tuple[str, str]]:
    """Every (METHOD, path) routed under /api/v1/ whose route starts with `prefix`, ids filled with 1."""
    operations = []
    for top in get_resolver().url_patterns:
        if not (isinstance(top, URLResolver) and str(top.pattern) == "api/v1/"):
            continue
        for pattern in top.url_patterns:
            assert isinstance(pattern, URLPattern)
            view_class = pattern.callback.view_class  # type: ignore[attr-defined]
            path = "/api/v1/" + re.sub(r"<(?:\w+:)?\w+>", "1", str(pattern.pattern))
            if str(pattern.pattern).startswith(prefix):
                operations += [
                    (method.upper(), path)
                    for method in ("get", "post", "put", "patch", "delete")
                    if hasattr(view_class, method)
                ]
    return operations


CUSTOMER_OPERATIONS = api_operations("customer/")
VENDOR_OPERATIONS = [op for op in api_operations() if op not in CUSTOMER_OPERATIONS]


def test_the_route_lists_cover_the_new_endpoints() -> None:
    assert {
        ("GET", "/api/v1/customer/outcomes"),
        ("GET", "/api/v1/customer/outcomes/1"),
        ("POST", "/api/v1/customer/outcomes/1/review"),
        ("POST", "/api/v1/customer/outcomes/1/dispute"),
        ("POST", "/api/v1/customer/outcomes/1/contest"),
        ("POST", "/api/v1/customer/outcomes/1/attest"),
        ("GET", "/api/v1/customer/invoices"),
        ("POST", "/api/v1/customer/invoices/1/approve"),
        ("POST", "/api/v1/customer/invoices/1/contest"),
        ("GET", "/api/v1/customer/invoices/1/credit-notes"),
        ("GET", "/api/v1/customer/invoices/1/share-links"),
        ("POST", "/api/v1/customer/invoices/1/share-links"),
        ("POST", "/api/v1/customer/invoices/1/share-links/1/revoke"),
        ("GET", "/api/v1/customer/webhook-endpoints"),
        ("POST", "/api/v1/customer/webhook-endpoints"),
        ("GET", "/api/v1/customer/webhook-endpoints/1"),
        ("PATCH", "/api/v1/customer/webhook-endpoints/1"),
        ("DELETE", "/api/v1/customer/webhook-endpoints/1"),
        ("POST", "/api/v1/customer/webhook-endpoints/1/rotate-secret"),
        ("POST", "/api/v1/customer/webhook-endpoints/1/enable"),
        ("GET", "/api/v1/customer/webhook-endpoints/1/deliveries"),
        ("POST", "/api/v1/customer/webhook-endpoints/1/deliveries/1/resend"),
        ("POST", "/api/v1/customer/webhook-endpoints/1/resend"),
        ("POST", "/api/v1/customer/webhook-endpoints/1/test"),
        ("GET", "/api/v1/customer/webhook-sources"),
        ("POST", "/api/v1/customer/webhook-sources"),
        ("POST", "/api/v1/customer/webhook-sources/1/approve"),
        ("POST", "/api/v1/customer/webhook-sources/1/rotate-secret"),
        ("GET", "/api/v1/customer/contracts/1/caps"),
        ("GET", "/api/v1/customer/contracts/1/caps/1"),
        ("PUT", "/api/v1/customer/contracts/1/caps/1"),
        ("DELETE", "/api/v1/customer/contracts/1/caps/1"),
    } == set(CUSTOMER_OPERATIONS)
    assert {
        ("GET", "/api/v1/outcomes/1"),
        ("POST", "/api/v1/outcomes/1/review"),
        ("GET", "/api/v1/review-queue"),
        ("GET", "/api/v1/disputes"),
        ("POST", "/api/v1/disputes/1/respond"),
        ("POST", "/api/v1/customers/1/api-keys"),
        ("GET", "/api/v1/invoices/1/share-links"),
        ("POST", "/api/v1/invoices/1/share-links"),
        ("POST", "/api/v1/invoices/1/share-links/1/revoke"),
    } <= set(VENDOR_OPERATIONS)


def test_a_customer_key_never_reaches_another_customers_outcome(scene: Scene) -> None:
    mine = make_ingest(terms=terms(**SAMPLED))
    neighbour = make_ingest(mine.api, reference="CTR-neighbour", terms=terms(**SAMPLED))  # same vendor
    stranger = make_ingest(terms=terms(**SAMPLED))  # another vendor
    (my_outcome,) = scene.billable(mine, "T-1")
    others = [scene.billable(neighbour, "T-1")[0], scene.billable(stranger, "T-1")[0]]
    customer = customer_key(mine)
    before = verification_rows()

    for outcome_id in others:
        base = f"/api/v1/customer/outcomes/{outcome_id}"
        assert_error(customer.get(base), 404, "not_found")
        review = {"flag_reason": "velocity_anomaly", "verdict": "reject"}
        assert_error(customer.post(f"{base}/review", review, format="json"), 404, "not_found")
        assert_error(
            customer.post(f"{base}/dispute", {"reason": "Not ours."}, format="json"), 404, "not_found"
        )
        assert_error(customer.post(f"{base}/attest", {"attested": False}, format="json"), 404, "not_found")

    assert verification_rows() == before
    listed = customer.get("/api/v1/customer/outcomes", {"limit": 200}).json()["results"]
    assert [o["id"] for o in listed] == [my_outcome]
    # The same requests on its own outcome are served: the 404s came from the tenancy.
    assert customer.get(f"/api/v1/customer/outcomes/{my_outcome}").status_code == 200
    attest = {"attested": True}
    assert (
        customer.post(f"/api/v1/customer/outcomes/{my_outcome}/attest", attest, format="json").status_code
        == 200
    )
    open_dispute(customer, my_outcome)


def refusals(client: APIClient, operations: list[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """The answer to each operation that was not a 403 permission_denied (none, when all were refused)."""
    answers = {}
    for method, path in operations:
        response = getattr(client, method.lower())(path, {}, format="json")
        if (response.status_code, response.json().get("code")) != (403, "permission_denied"):
            answers[(method, path)] = (response.status_code, response.content[:200])
    return answers


def test_a_customer_key_is_refused_on_every_vendor_endpoint(scene: Scene) -> None:
    ingest = make_ingest()
    scene.billable(ingest, "T-1")
    customer = customer_key(ingest)
    before = verification_rows()

    assert refusals(customer, VENDOR_OPERATIONS) == {}
    assert verification_rows() == before


def test_a_vendor_key_is_refused_on_the_customer_api(scene: Scene) -> None:
    ingest = make_ingest()
    (outcome_id,) = scene.billable(ingest, "T-1")
    operations = [(method, path.replace("/1", f"/{outcome_id}")) for method, path in CUSTOMER_OPERATIONS]
    before = verification_rows()

    assert refusals(ingest.api.client, operations) == {}
    assert verification_rows() == before


def test_another_vendor_finds_none_of_the_objects_behind_the_new_endpoints(scene: Scene) -> None:
    ingest = make_ingest(terms=terms(**VELOCITY))
    flagged, disputed = scene.velocity_flagged(ingest)[:2]
    customer = customer_key(ingest)
    assert (
        customer.post(
            f"/api/v1/customer/outcomes/{disputed}/review",
            {"flag_reason": "velocity_anomaly", "verdict": "accept"},
            format="json",
        ).status_code
        == 201
    )
    dispute = open_dispute(customer, disputed)
    calls = [
        ("get", f"/api/v1/outcomes/{flagged}", None, 200),
        ("post", f"/api/v1/outcomes/{flagged}/review", {**INFLATION, "verdict": "reject"}, 201),
        ("post", f"/api/v1/disputes/{dispute['id']}/respond", {"accept": True, "response": "Ok."}, 200),
        ("post", f"/api/v1/customers/{ingest.contract.customer_id}/api-keys", {"name": "Theirs"}, 201),
    ]
    intruder = make_vendor_api().client
    before = verification_rows()

    for method, path, body, _ in calls:
        assert_error(getattr(intruder, method)(path, body, format="json"), 404, "not_found")

    assert verification_rows() == before
    assert intruder.get("/api/v1/review-queue").json()["results"] == []
    assert intruder.get("/api/v1/disputes").json()["results"] == []
    # The owner's key is served on every one of them.
    for method, path, body, status in calls:
        assert getattr(ingest.api.client, method)(path, body, format="json").status_code == status

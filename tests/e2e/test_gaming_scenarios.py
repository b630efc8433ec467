"""Gaming attempts told as short stories, through the public HTTP API only.

Events arrive as signed webhooks (the customer's helpdesk, the vendor's agent); people act through
the vendor API and the customer API; the clock moves with time-machine and the periodic job runs as
celery beat would run it. Each story ends on the outcome's state and the verdict that decided it, as
GET /api/v1/outcomes/{id} tells them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
import time_machine
from django.db import transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from outcomes.models import Outcome, OutcomeState, OutcomeTransition
from outcomes.services.review import review_decide
from outcomes.tasks import evaluate_due_outcomes
from tests.factories import outcome_type_terms, version_terms
from tests.support.ingest import sign
from tests.support.vendors import make_vendor_api

pytestmark = pytest.mark.django_db  # tasks run eagerly: see tests/conftest.py

T0 = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
TICKET = "ticket.resolved"
SOLVED = {"ticket_status": "solved"}


def at(*, days: float = 0, hours: float = 0, minutes: float = 0) -> dt.datetime:
    return T0 + dt.timedelta(days=days, hours=hours, minutes=minutes)


@dataclass(frozen=True)
class Source:
    id: str
    secret: str


@dataclass
class Deal:
    """A vendor and its customer under one active contract: two signed sources and two API clients."""

    vendor: APIClient
    customer: APIClient
    contract_id: str
    reference: str
    helpdesk: Source  # the customer's system of record
    agent: Source  # the vendor's agent
    capture: Callable[..., AbstractContextManager[Any]]
    webhooks: Client = field(default_factory=Client)

    def event(
        self, kind: str, natural_key: str, *, occurred_at: dt.datetime | None = None, **fields: Any
    ) -> dict[str, Any]:
        """One event that happened a minute ago, unless told otherwise."""
        occurred_at = occurred_at or timezone.now() - dt.timedelta(minutes=1)
        return {
            "id": f"evt_{uuid.uuid4().hex}",
            "kind": kind,
            "contract": self.reference,
            "outcome_type": TICKET,
            "natural_key": natural_key,
            "occurred_at": occurred_at.isoformat(),
            **fields,
        }

    def claim(self, natural_key: str, **fields: Any) -> dict[str, Any]:
        return self.event("outcome.claimed", natural_key, **{"evidence": SOLVED, **fields})

    def confirmation(self, natural_key: str, **fields: Any) -> dict[str, Any]:
        return self.event("outcome.confirmed", natural_key, **{"evidence": SOLVED, **fields})

    def deliver(self, source: Source, events: list[dict[str, Any]], *, msg_id: str | None = None) -> Any:
        """One signed webhook request; the workers build and verify what it stored once it commits."""
        body = orjson.dumps(events[0] if len(events) == 1 else {"events": events})
        headers = sign(source.secret, body, msg_id=msg_id)
        with self.capture(execute=True):
            return self.webhooks.post(
                f"/webhooks/v1/sources/{source.id}/events",
                body,
                content_type="application/json",
                **headers,  # type: ignore[arg-type]
            )

    def agent_posts(self, *events: dict[str, Any], msg_id: str | None = None) -> dict[str, Any]:
        return accepted(self.deliver(self.agent, list(events), msg_id=msg_id), len(events))

    def helpdesk_posts(self, *events: dict[str, Any], msg_id: str | None = None) -> dict[str, Any]:
        return accepted(self.deliver(self.helpdesk, list(events), msg_id=msg_id), len(events))

    def outcomes(self, **filters: str) -> list[dict[str, Any]]:
        response = self.vendor.get(
            "/api/v1/outcomes", {"contract_id": self.contract_id, "limit": "200", **filters}
        )
        assert response.status_code == 200, response.content
        return list(response.json()["results"])

    def outcome_id(self, natural_key: str) -> int:
        (found,) = [o["id"] for o in self.outcomes() if o["natural_key"] == natural_key]
        return int(found)

    def trail(self, natural_key: str, outcome_id: int | None = None) -> dict[str, Any]:
        """The vendor's view of one outcome: raw events, verdicts, transitions, decisions, dispute, sample."""
        response = self.vendor.get(f"/api/v1/outcomes/{outcome_id or self.outcome_id(natural_key)}")
        assert response.status_code == 200, response.content
        assert response.json()["natural_key"] == natural_key
        return dict(response.json())

    def customer_posts(self, natural_key: str, action: str, body: dict[str, Any]) -> Any:
        return self.customer.post(
            f"/api/v1/customer/outcomes/{self.outcome_id(natural_key)}/{action}", body, format="json"
        )

    def vendor_reviews(self, natural_key: str, body: dict[str, Any]) -> Any:
        return self.vendor.post(
            f"/api/v1/outcomes/{self.outcome_id(natural_key)}/review", body, format="json"
        )


def accepted(response: Any, count: int) -> dict[str, Any]:
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    assert (body["accepted"], body["rejected"]) == (count, 0), body
    return body


def beat() -> None:
    """What celery beat sends on its schedule: re-evaluate the outcomes that time alone moves."""
    evaluate_due_outcomes.delay()


def simulate_billing(deal: Deal, natural_key: str) -> None:
    """Mark a billable outcome billed, as an invoice finalizing would.

    Settlement (period close, invoices) does not exist yet; it will replace this helper, and these
    stories will then bill through a period close instead of writing the outcome directly.
    """
    now = timezone.now()
    outcome_id = deal.outcome_id(natural_key)
    with transaction.atomic():
        updated = Outcome.objects.filter(pk=outcome_id, state=OutcomeState.BILLABLE).update(
            state=OutcomeState.BILLED, billed_at=now, hold_until=None, updated_at=now
        )
        assert updated == 1, "only a billable outcome is billed"
        OutcomeTransition.objects.create(
            outcome_id=outcome_id,
            from_state=OutcomeState.BILLABLE,
            to_state=OutcomeState.BILLED,
            at=now,
            actor="test:simulate_billing",
            reason="invoiced",
        )


def latest_verdict(trail: dict[str, Any], rule: str) -> dict[str, Any]:
    return dict([v for v in trail["verdicts"] if v["rule"] == rule][-1])


def assert_decided(trail: dict[str, Any], *, state: str, rule: str, reason: str) -> None:
    """The outcome is in `state`, moved there by `rule`'s verdict `reason`, which is on its trail."""
    last = trail["transitions"][-1]
    assert (trail["state"], last["to_state"], last["reason"], last["details"]) == (
        state,
        state,
        reason,
        {"rule": rule},
    )
    assert latest_verdict(trail, rule)["reason"] == reason


def assert_billable(trail: dict[str, Any]) -> None:
    """Billable because every rule's latest verdict accepts, reached through maturing."""
    last = trail["transitions"][-1]
    assert (trail["state"], last["from_state"], last["to_state"], last["reason"]) == (
        "billable",
        "maturing",
        "billable",
        "all_rules_accept",
    )
    latest = {v["rule"]: v["decision"] for v in trail["verdicts"]}
    assert set(latest.values()) == {"accept"}, latest


# --- setting the scene, through the vendor API ----------------------------------------------


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def open_deal(
    db: None, clock: time_machine.Traveller, django_capture_on_commit_callbacks: Any
) -> Callable[..., Deal]:
    def open_(policy: dict[str, Any] | None = None, *, starts_at: str = "2026-01-01") -> Deal:
        vendor = make_vendor_api().client

        def created(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = vendor.post(path, body, format="json")
            assert response.status_code == 201, response.content
            return dict(response.json())

        customer = created(
            "/api/v1/customers",
            {"name": "Acme Support", "external_ref": "acme", "billing_email": "billing@acme.example"},
        )
        terms = version_terms(outcome_types=[outcome_type_terms(verification_policy=policy or {})])
        contract = created(
            "/api/v1/contracts",
            {
                "customer_id": customer["id"],
                "reference": "CTR-ACME",
                "currency": "USD",
                "timezone": "America/New_York",
                "anchor_day": 1,
                "starts_at": starts_at,
                "terms": terms,
            },
        )
        assert vendor.post(f"/api/v1/contracts/{contract['id']}/activate").status_code == 200
        agent = created(
            "/api/v1/webhook-sources",
            {"name": "Support agent", "kind": "vendor_agent", "customer_id": customer["id"]},
        )
        key = created(f"/api/v1/customers/{customer['id']}/api-keys", {"name": "acme", "scope": "write"})
        customer_client = APIClient()
        customer_client.credentials(HTTP_AUTHORIZATION=f"Bearer {key['key']}")
        # The customer creates its helpdesk's source itself: only then do its events speak for it.
        response = customer_client.post(
            "/api/v1/customer/webhook-sources", {"name": "Acme helpdesk"}, format="json"
        )
        assert response.status_code == 201, response.content
        helpdesk = response.json()
        return Deal(
            vendor=vendor,
            customer=customer_client,
            contract_id=contract["id"],
            reference=contract["reference"],
            helpdesk=Source(helpdesk["id"], helpdesk["signing_secret"]),
            agent=Source(agent["id"], agent["signing_secret"]),
            capture=django_capture_on_commit_callbacks,
        )

    return open_


# --- the stories ----------------------------------------------------------------------------


def test_the_same_ticket_claimed_twice_under_new_event_ids_is_one_outcome_billed_once(
    open_deal: Callable[..., Deal], clock: time_machine.Traveller
) -> None:
    deal = open_deal()
    # The agent claims ticket T-100, then claims it again under a fresh event id, as if new.
    first, second = deal.claim("T-100"), deal.claim("T-100")
    deal.agent_posts(first)
    clock.move_to(at(minutes=30))
    deal.agent_posts(second)
    clock.move_to(at(hours=1))
    deal.helpdesk_posts(deal.confirmation("T-100"))
    clock.move_to(at(hours=25))
    beat()
    simulate_billing(deal, "T-100")
    # Days later, a third attempt to get it paid again.
    clock.move_to(at(days=5))
    third = deal.claim("T-100")
    deal.agent_posts(third)
    beat()

    assert [o["natural_key"] for o in deal.outcomes()] == ["T-100"]
    trail = deal.trail("T-100")
    assert trail["state"] == "billed"
    assert [e["event_id"] for e in trail["raw_events"] if e["kind"] == "outcome.claimed"] == [
        first["id"],
        second["id"],
        third["id"],
    ]
    assert latest_verdict(trail, "natural_key")["reason"] == "merged_repeated_claims"
    assert latest_verdict(trail, "natural_key")["facts"] == {"natural_key": "T-100", "claims": 3}
    # Billed once: one way into billable, one way into billed, and nothing after it.
    moves = [(t["from_state"], t["to_state"]) for t in trail["transitions"]]
    assert moves.count(("maturing", "billable")) == 1
    assert moves[-1] == ("billable", "billed")
    assert [t["to_state"] for t in trail["transitions"]].count("billed") == 1


def test_one_conversation_split_into_twenty_outcomes_bills_one(
    open_deal: Callable[..., Deal], clock: time_machine.Traveller
) -> None:
    # (The rejection-rate guard is set aside here: by default, 19 merged out of 20 would also hold
    # the agent's remaining outcomes, a separate rule with its own story.)
    deal = open_deal(
        {
            "split_detection": {"enabled": True, "window_hours": 24},
            "anomaly": {"rejection_rate_min_outcomes": 100},
        }
    )
    keys = [f"CONV-7-{n:02d}" for n in range(1, 21)]
    # One customer conversation, reported by the agent as twenty resolved tickets a minute apart.
    deal.agent_posts(
        *[deal.claim(key, parent_key="conv-7", occurred_at=at(minutes=n - 30)) for n, key in enumerate(keys)]
    )
    clock.move_to(at(hours=1))
    deal.helpdesk_posts(*[deal.confirmation(key, parent_key="conv-7") for key in keys])
    clock.move_to(at(hours=26))
    beat()

    (kept,) = deal.outcomes(state="billable")
    assert kept["natural_key"] == "CONV-7-01"
    assert_billable(deal.trail("CONV-7-01", kept["id"]))
    merged = {o["natural_key"]: o["id"] for o in deal.outcomes(state="rejected")}
    assert sorted(merged) == keys[1:]
    for key, outcome_id in merged.items():
        trail = deal.trail(key, outcome_id)
        assert_decided(trail, state="rejected", rule="split_detection", reason="split_merged")
        assert latest_verdict(trail, "split_detection")["facts"] == {
            "parent_key": "conv-7",
            "kept_outcome_id": kept["id"],
            "kept_natural_key": "CONV-7-01",
            "window_hours": 24,
        }


def test_a_replayed_delivery_gets_the_original_answer_and_changes_nothing(
    open_deal: Callable[..., Deal], clock: time_machine.Traveller
) -> None:
    deal = open_deal()
    claim = deal.claim("T-200")
    original = deal.agent_posts(claim, msg_id="msg_agent_0001")
    deal.helpdesk_posts(deal.confirmation("T-200"))
    before = deal.trail("T-200")

    # The agent's HTTP client "retries" the same delivery minutes, then days, later.
    for later in (at(minutes=3), at(days=2)):
        clock.move_to(later)
        replay = deal.deliver(deal.agent, [claim], msg_id="msg_agent_0001")
        assert (replay.status_code, replay.json()) == (200, original)
    # And resends the same event under a new delivery id: counted once, as a duplicate.
    resent = deal.deliver(deal.agent, [claim], msg_id="msg_agent_0002").json()
    assert (resent["accepted"], resent["duplicates"]) == (0, 1)

    assert [o["natural_key"] for o in deal.outcomes()] == ["T-200"]
    assert deal.trail("T-200") == before
    assert before["state"] == "maturing"
    assert latest_verdict(before, "confirmation")["reason"] == "confirmed"
    deliveries = deal.vendor.get(f"/api/v1/webhook-sources/{deal.agent.id}/deliveries").json()
    assert sorted(d["webhook_id"] for d in deliveries["results"]) == ["msg_agent_0001", "msg_agent_0002"]


def test_a_claim_backdated_before_the_contract_start_is_rejected(
    open_deal: Callable[..., Deal], clock: time_machine.Traveller
) -> None:
    # The contract starts on 2026-03-01 in New York (05:00 UTC); the agent claims a ticket it says
    # it resolved the evening before, and the helpdesk even confirms it.
    deal = open_deal(starts_at="2026-03-01")
    evening_before = dt.datetime(2026, 3, 1, 1, 0, tzinfo=dt.UTC)
    deal.agent_posts(deal.claim("T-300", occurred_at=evening_before))
    deal.helpdesk_posts(deal.confirmation("T-300", occurred_at=evening_before))
    clock.move_to(at(days=10))
    beat()

    trail = deal.trail("T-300")
    assert_decided(trail, state="rejected", rule="event_time", reason="outside_contract")
    assert latest_verdict(trail, "event_time")["facts"] == {
        "occurred_at": "2026-03-01T01:00:00+00:00",
        "contract_starts_at": "2026-03-01T05:00:00+00:00",
        "contract_ends_at": None,
    }
    assert trail["hold_until"] is None
    assert trail["version"] is None


def test_a_claim_after_termination_is_rejected(
    open_deal: Callable[..., Deal], clock: time_machine.Traveller
) -> None:
    deal = open_deal()
    worked_before = deal.claim("T-400")  # resolved while the contract was in force
    response = deal.vendor.post(f"/api/v1/contracts/{deal.contract_id}/terminate")
    assert (response.status_code, response.json()["ends_at"]) == (200, "2026-03-02T14:00:00Z")
    clock.move_to(at(hours=2))
    deal.agent_posts(worked_before, deal.claim("T-401"))  # and one "resolved" after the end
    deal.helpdesk_posts(deal.confirmation("T-400"), deal.confirmation("T-401"))
    clock.move_to(at(days=2))
    beat()

    after = deal.trail("T-401")
    assert_decided(after, state="rejected", rule="event_time", reason="outside_contract")
    assert latest_verdict(after, "event_time")["facts"]["contract_ends_at"] == T0.isoformat()
    # The work done before the end is still owed.
    assert_billable(deal.trail("T-400"))


def test_claims_missing_required_evidence_are_rejected(
    open_deal: Callable[..., Deal], clock: time_machine.Traveller
) -> None:
    deal = open_deal(
        {"evidence": {"required_fields": {"ticket_status": "string", "transcript_sha256": "sha256"}}}
    )
    digest = "ab" * 32
    deal.agent_posts(
        deal.claim("T-500"),  # no transcript hash
        deal.claim("T-501", evidence={"ticket_status": "solved", "transcript_sha256": "not-a-hash"}),
        deal.claim("T-502", evidence={"ticket_status": "solved", "transcript_sha256": digest}),
    )
    deal.helpdesk_posts(*[deal.confirmation(key) for key in ("T-500", "T-501", "T-502")])
    clock.move_to(at(days=2))
    beat()

    missing = deal.trail("T-500")
    assert_decided(missing, state="rejected", rule="evidence", reason="evidence_missing")
    assert latest_verdict(missing, "evidence")["facts"] == {"missing": ["transcript_sha256"]}
    malformed = deal.trail("T-501")
    assert_decided(malformed, state="rejected", rule="evidence", reason="evidence_malformed")
    assert latest_verdict(malformed, "evidence")["facts"] == {"malformed": {"transcript_sha256": "sha256"}}
    assert_billable(deal.trail("T-502"))


def test_a_burst_ten_times_the_baseline_waits_for_the_customer(
    open_deal: Callable[..., Deal], clock: time_machine.Traveller
) -> None:
    # Tasks the vendor's agent alone reports: no system of record confirms them, so the velocity
    # check against the contract's own baseline is what stands between a burst and an invoice.
    deal = open_deal({"confirmation": {"required": False}})
    for day in range(14):  # two weeks of a steady two a day
        clock.move_to(at(days=day))
        deal.agent_posts(*[deal.claim(f"D{day:02d}-{n}") for n in range(2)])
    clock.move_to(at(days=14))
    burst = [f"BURST-{n:02d}" for n in range(20)]
    deal.agent_posts(*[deal.claim(key) for key in burst])

    assert sorted(o["natural_key"] for o in deal.outcomes(state="flagged")) == burst
    flagged = deal.trail("BURST-00")
    assert_decided(flagged, state="flagged", rule="anomaly", reason="velocity_anomaly")
    assert latest_verdict(flagged, "anomaly")["facts"] == {
        "day": at(days=14).date().isoformat(),
        "count": 20,
        "baseline_median": 2,
        "z": None,  # the baseline never varied: any excess is infinitely anomalous
        "z_threshold": 3.5,
    }
    queue = deal.vendor.get("/api/v1/review-queue", {"limit": 200}).json()["results"]
    assert len(queue) == 20
    assert {f["flag_reason"]: f["decided_by"] for f in queue[0]["open_flags"]} == {
        "velocity_anomaly": ["customer", "operator", "vendor_admin"]
    }

    # The next day: the customer confirms one and denies another through its own API.
    clock.move_to(at(days=15))
    confirmed = deal.customer_posts(
        "BURST-00", "review", {"flag_reason": "velocity_anomaly", "verdict": "accept"}
    )
    assert confirmed.status_code == 201, confirmed.content
    denied = deal.customer_posts(
        "BURST-01", "review", {"flag_reason": "velocity_anomaly", "verdict": "reject"}
    )
    assert denied.status_code == 201, denied.content
    # No one decides alone what pays them: the vendor cannot wave its own burst through, however
    # well it says why; it may give one up, saying why for the customer to read.
    why = "Black Friday: the customer's store ran a sale, ticket volume was 10x (their own dashboard)."
    for body in ({}, {"justification": why}):
        waved = deal.vendor_reviews(
            "BURST-02", {"flag_reason": "velocity_anomaly", "verdict": "accept", **body}
        )
        assert (waved.status_code, waved.json()["code"]) == (403, "decision_needs_other_party")
    assert deal.trail("BURST-02")["state"] == "flagged"
    silent = deal.vendor_reviews("BURST-03", {"flag_reason": "velocity_anomaly", "verdict": "reject"})
    assert silent.status_code == 400
    assert list(silent.json()["field_errors"]) == ["justification"]
    given_up = "A retry loop on our side posted this one twice."
    justified = deal.vendor_reviews(
        "BURST-03", {"flag_reason": "velocity_anomaly", "verdict": "reject", "justification": given_up}
    )
    assert justified.status_code == 201, justified.content
    clock.move_to(at(days=20))
    beat()

    customer_ok = deal.trail("BURST-00")
    assert_billable(customer_ok)
    assert latest_verdict(customer_ok, "anomaly")["reason"] == "velocity_anomaly_cleared"
    assert latest_verdict(customer_ok, "anomaly")["facts"]["party"] == "customer"
    assert_decided(
        deal.trail("BURST-01"), state="rejected", rule="anomaly", reason="velocity_anomaly_rejected_on_review"
    )
    assert deal.trail("BURST-02")["state"] == "flagged"
    vendor_gave_up = deal.trail("BURST-03")
    assert_decided(
        vendor_gave_up, state="rejected", rule="anomaly", reason="velocity_anomaly_rejected_on_review"
    )
    assert latest_verdict(vendor_gave_up, "anomaly")["facts"]["party"] == "vendor_admin"
    # The customer reads the vendor admin's justification on its own view of the outcome.
    seen = deal.customer.get(f"/api/v1/customer/outcomes/{deal.outcome_id('BURST-03')}").json()
    assert [(d["party"], d["justification"]) for d in seen["review_decisions"]] == [
        ("vendor_admin", given_up)
    ]
    # Nobody decided the other 17: they wait in the queue, neither billed nor dropped by time.
    assert len(deal.outcomes(state="flagged")) == 17
    assert len(deal.vendor.get("/api/v1/review-queue", {"limit": 200}).json()["results"]) == 17


def test_a_reversal_a_day_after_billing_is_clawed_back(
    open_deal: Callable[..., Deal], clock: time_machine.Traveller
) -> None:
    deal = open_deal()
    deal.agent_posts(deal.claim("T-600"))
    deal.helpdesk_posts(deal.confirmation("T-600"))
    clock.move_to(at(days=1, minutes=5))
    beat()
    clock.move_to(at(days=2))
    simulate_billing(deal, "T-600")
    # A day after the invoice, the customer reopens the ticket.
    clock.move_to(at(days=3))
    deal.helpdesk_posts(deal.event("outcome.reversed", "T-600", evidence={"reason": "reopened"}))

    trail = deal.trail("T-600")
    assert_decided(trail, state="reversed", rule="reversal", reason="clawed_back")
    facts = latest_verdict(trail, "reversal")["facts"]
    assert (facts["disqualifier"], facts["billed_at"], facts["lock_date"]) == (
        "reopened",
        at(days=2).isoformat(),
        at(days=32).isoformat(),
    )
    assert trail["billed_at"] is not None  # it was billed: the credit goes on the next invoice
    assert [t["to_state"] for t in trail["transitions"]][-2:] == ["billed", "reversed"]


def test_a_reversal_after_the_clawback_window_moves_no_money(
    open_deal: Callable[..., Deal], clock: time_machine.Traveller
) -> None:
    deal = open_deal({"reversal": {"clawback_window_days": 30}})
    deal.agent_posts(deal.claim("T-700"))
    deal.helpdesk_posts(deal.confirmation("T-700"))
    clock.move_to(at(days=1, minutes=5))
    beat()
    clock.move_to(at(days=2))
    simulate_billing(deal, "T-700")
    # Thirty-one days after billing, the ticket is reopened: past the lock date.
    clock.move_to(at(days=33))
    deal.helpdesk_posts(deal.event("outcome.reversed", "T-700", evidence={"reason": "reopened"}))
    beat()

    trail = deal.trail("T-700")
    assert trail["state"] == "billed"
    assert trail["transitions"][-1]["to_state"] == "billed"  # no transition out of billed
    verdict = latest_verdict(trail, "reversal")
    assert (verdict["decision"], verdict["reason"]) == ("accept", "reversal_after_lock")
    assert verdict["facts"]["lock_date"] == at(days=32).isoformat()


def test_a_customer_that_stops_confirming_cannot_avoid_paying(
    open_deal: Callable[..., Deal], clock: time_machine.Traveller
) -> None:
    # Suppression is judged against the last two weeks, once a week of history exists.
    deal = open_deal({"suppression": {"baseline_days": 14, "min_history_days": 7}})
    for day in range(18):
        clock.move_to(at(days=day, hours=-4))  # 10:00 UTC: the agent resolves two tickets a day
        if day < 15:
            deal.agent_posts(deal.claim(f"S{day:02d}-1"), deal.claim(f"S{day:02d}-2"))
        if day < 10:  # for ten days the helpdesk confirms them; then it goes quiet
            clock.move_to(at(days=day, hours=2))
            deal.helpdesk_posts(deal.confirmation(f"S{day:02d}-1"), deal.confirmation(f"S{day:02d}-2"))
        clock.move_to(at(days=day, hours=-2))  # the beat, every day at noon
        beat()

    assert len(deal.outcomes(state="billable")) == 20
    # The first silent day's claims were rejected before the drop was clear ...
    assert sorted(o["natural_key"] for o in deal.outcomes(state="rejected")) == ["S10-1", "S10-2"]
    assert_decided(deal.trail("S10-1"), state="rejected", rule="confirmation", reason="unconfirmed")
    # ... after that, silence flags them for the vendor's evidence instead of rejecting them.
    flagged = sorted(o["natural_key"] for o in deal.outcomes(state="flagged"))
    assert flagged == [f"S{day}-{n}" for day in range(11, 15) for n in (1, 2)]
    trail = deal.trail("S11-1")
    assert_decided(trail, state="flagged", rule="suppression", reason="suppression_suspected")
    confirmation = latest_verdict(trail, "confirmation")
    assert (confirmation["decision"], confirmation["reason"]) == ("flag", "suppression_suspected")
    suppression = latest_verdict(trail, "suppression")
    assert suppression["facts"]["baseline_confirmation_ratio"] == 1.0
    assert suppression["facts"]["recent_confirmation_ratio"] < 1 / 3

    # No one decides alone what pays them: the customer cannot reject the flag raised against it, nor
    # the vendor (which could have padded claims to trigger it) accept it alone, evidence or not. A
    # neutral operator weighs the vendor's evidence a week later, when the quiet week has left the
    # statistics' window: the decision must stand all the same.
    clock.move_to(at(days=24))
    refused = deal.customer_posts(
        "S11-1", "review", {"flag_reason": "suppression_suspected", "verdict": "reject"}
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "decision_needs_other_party")
    evidence = {"transcript_url": "https://agent.example/transcripts/S11-1", "csat": 5}
    alone = deal.vendor_reviews(
        "S11-1", {"flag_reason": "suppression_suspected", "verdict": "accept", "evidence": evidence}
    )
    assert (alone.status_code, alone.json()["code"]) == (403, "decision_needs_other_party")
    assert deal.trail("S11-1")["review_decisions"] == []
    review_decide(
        outcome=Outcome.objects.get(pk=deal.outcome_id("S11-1")),
        flag_reason="suppression_suspected",
        verdict="accept",
        party="operator",
        actor="user:operator@verity.example",
        justification="The transcript shows the customer's question answered.",
        evidence=evidence,
    )
    beat()

    trail = deal.trail("S11-1")
    assert_billable(trail)
    assert latest_verdict(trail, "confirmation")["reason"] == "suppression_suspected_cleared"
    assert [(d["party"], d["evidence"]) for d in trail["review_decisions"]] == [("operator", evidence)]
    # Nor can the customer make the decision, or a flag nobody decided yet, lapse by stirring the
    # claims now that the ratios have moved on: a dispute is the vendor's to answer, and neither
    # claim turns into an "unconfirmed" rejection.
    assert deal.trail("S11-2")["state"] == "flagged"
    expected = {"S11-1": "suppression_suspected_cleared", "S11-2": "suppression_suspected"}
    for key, confirmation_reason in expected.items():
        disputed = deal.customer_posts(key, "dispute", {"reason": "We never asked for this."})
        assert disputed.status_code == 201, disputed.content
        trail = deal.trail(key)
        assert_decided(trail, state="disputed", rule="disputes", reason="dispute_open")
        assert latest_verdict(trail, "confirmation")["reason"] == confirmation_reason


def test_a_customer_silent_for_two_days_cannot_have_the_claims_rejected(
    open_deal: Callable[..., Deal], clock: time_machine.Traveller
) -> None:
    # Six tickets a day; the helpdesk confirms them, except on days 10 and 11. The week's share never
    # falls below a third: only the short windows (the claim's own day, five claims or more) see it.
    deal = open_deal({"suppression": {"baseline_days": 14, "min_history_days": 7}})
    for day in range(16):
        clock.move_to(at(days=day, hours=-4))
        deal.agent_posts(*(deal.claim(f"Q{day:02d}-{n}") for n in range(6)))
        if day not in (10, 11):
            clock.move_to(at(days=day, hours=2))
            deal.helpdesk_posts(*(deal.confirmation(f"Q{day:02d}-{n}") for n in range(6)))
        clock.move_to(at(days=day, hours=-2))
        beat()

    flagged = sorted(o["natural_key"] for o in deal.outcomes(state="flagged"))
    assert flagged == [f"Q{day}-{n}" for day in (10, 11) for n in range(6)]
    assert deal.outcomes(state="rejected") == []
    trail = deal.trail("Q10-0")
    assert_decided(trail, state="flagged", rule="suppression", reason="suppression_suspected")
    confirmation = latest_verdict(trail, "confirmation")
    assert (confirmation["decision"], confirmation["reason"]) == ("flag", "suppression_suspected")
    facts = latest_verdict(trail, "suppression")["facts"]
    assert (facts["triggered_by"], facts["baseline_confirmation_ratio"]) == (["1_day"], 1.0)
    assert facts["recent_confirmation_ratio"] >= 1 / 3
    assert facts["short_windows"]["1_day"]["outcomes"] == 6
    assert facts["short_windows"]["1_day"]["confirmed"] == 0


def test_an_unanswered_dispute_resolves_for_the_customer(
    open_deal: Callable[..., Deal], clock: time_machine.Traveller
) -> None:
    deal = open_deal({"disputes": {"window_days": 30, "response_days": 14, "unanswered": "credit_customer"}})
    deal.agent_posts(deal.claim("T-800"), deal.claim("T-801"))
    deal.helpdesk_posts(deal.confirmation("T-800"), deal.confirmation("T-801"))
    clock.move_to(at(days=1, minutes=5))
    beat()
    simulate_billing(deal, "T-801")
    # The customer disputes both: one still billable, one already on an invoice.
    clock.move_to(at(days=3))
    for key in ("T-800", "T-801"):
        response = deal.customer_posts(key, "dispute", {"reason": "The customer had to call back."})
        assert response.status_code == 201, response.content
    assert_decided(deal.trail("T-800"), state="disputed", rule="disputes", reason="dispute_open")
    open_ = deal.vendor.get("/api/v1/disputes", {"status": "open"}).json()["results"]
    assert sorted(d["outcome_id"] for d in open_) == sorted(deal.outcome_id(k) for k in ("T-800", "T-801"))
    # The vendor never answers. Fourteen days later the beat resolves both as the policy says.
    clock.move_to(at(days=17, minutes=1))
    beat()

    unbilled = deal.trail("T-800")
    assert_decided(unbilled, state="rejected", rule="disputes", reason="dispute_upheld")
    assert (unbilled["dispute"]["status"], unbilled["dispute"]["resolved_by"]) == (
        "expired_credited",
        "system:deadline",
    )
    assert unbilled["dispute"]["resolved_at"] == at(days=17).isoformat().replace("+00:00", "Z")
    billed = deal.trail("T-801")
    assert_decided(billed, state="reversed", rule="disputes", reason="dispute_upheld")
    assert billed["billed_at"] is not None  # clawed back as a credit
    assert deal.vendor.get("/api/v1/disputes", {"status": "open"}).json()["results"] == []


def test_sampled_outcomes_the_customer_denies_or_ignores_are_rejected(
    open_deal: Callable[..., Deal], clock: time_machine.Traveller
) -> None:
    deal = open_deal({"audit_sampling": {"enabled": True, "rate": 1.0, "attestation_days": 7}})
    keys = ("T-900", "T-901", "T-902")
    deal.agent_posts(*[deal.claim(key) for key in keys])
    deal.helpdesk_posts(*[deal.confirmation(key) for key in keys])
    sample = deal.customer.get(f"/api/v1/customer/outcomes/{deal.outcome_id('T-900')}").json()["audit_sample"]
    assert (sample["answer"], sample["deadline"]) == ("", at(days=7).isoformat().replace("+00:00", "Z"))
    # Two days later the customer attests one and denies another; the third it never answers.
    clock.move_to(at(days=2))
    denied = deal.customer_posts(
        "T-900", "attest", {"attested": False, "note": "No such ticket in our helpdesk."}
    )
    assert (denied.status_code, denied.json()["answer"]) == (200, "denied")
    attested = deal.customer_posts("T-902", "attest", {"attested": True})
    assert (attested.status_code, attested.json()["answer"]) == (200, "attested")
    clock.move_to(at(days=7, minutes=1))
    beat()

    trail = deal.trail("T-900")
    assert_decided(trail, state="rejected", rule="audit_sampling", reason="audit_denied")
    assert latest_verdict(trail, "audit_sampling")["facts"]["note"] == "No such ticket in our helpdesk."
    assert_decided(deal.trail("T-901"), state="rejected", rule="audit_sampling", reason="audit_unanswered")
    assert_billable(deal.trail("T-902"))

"""Rule 11a, the customer's own cap: past it, an outcome waits for the customer's approval instead of being
billed; the customer alone sets it (at or below the contract's cap), the vendor only reads it."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contracts.models import AuditEntry, CustomerCap
from notifications.models import Event
from outcomes.models import OutcomeState
from outcomes.rules.customer_caps import CUSTOMER_CAP_EXCEEDED, CustomerCaps
from tests.factories import CustomerFactory
from tests.support.rule_stories import HOUR, T0, Story, make_story
from tests.support.vendors import customer_api_client

# Outcomes billable as soon as claimed: the story is about caps, not maturation or confirmation.
POLICY = {"maturation": {"hold_hours": 0}, "confirmation": {"required": False}}
TYPE = "ticket.resolved"


@pytest.mark.parametrize(("used", "decision"), [(2, "accept"), (3, "flag")])
def test_the_nth_outcome_is_admitted_and_the_next_is_held_for_approval(used: int, decision: str) -> None:
    cap = CustomerCap(outcome_type_key=TYPE, max_units=3, set_by="api_key:c")
    verdict = CustomerCaps().verdict(cap, used=used, period_start="2026-06-01T00:00:00+00:00", decided=False)
    assert verdict.decision == decision
    if decision == "accept":
        assert verdict.facts["position"] == 3
    else:
        assert (verdict.reason, verdict.facts["used"], verdict.facts["max_units"]) == (
            CUSTOMER_CAP_EXCEEDED,
            3,
            3,
        )


def test_a_zero_cap_holds_every_outcome() -> None:
    cap = CustomerCap(outcome_type_key=TYPE, max_units=0, set_by="api_key:c")
    assert CustomerCaps().verdict(cap, used=0, period_start="", decided=False).reason == CUSTOMER_CAP_EXCEEDED


def claim_all(story: Story, at: dt.datetime, keys: list[str]) -> None:
    story.send(at, {"events": [story.event(key=key, at=at) for key in keys]}, as_agent=True)


@pytest.mark.django_db
def test_the_customers_cap_holds_outcomes_until_it_approves_one_or_raises_it() -> None:
    story = make_story(POLICY, cap_units=5)
    contract, vendor_client = story.contract, story.ingest.api.client
    customer = customer_api_client(contract.customer)
    url = f"/api/v1/customer/contracts/{contract.pk}/caps/{TYPE}"

    # An honest first day without a cap of the customer's own: no query for one, all billable.
    claim_all(story, T0, ["T-0"])
    with CaptureQueriesContext(connection) as queries:
        story.evaluate(T0 + HOUR)
    assert not [q for q in queries if q["sql"].startswith('SELECT "contracts_customercap"')]
    assert story.state("T-0") == OutcomeState.BILLABLE
    assert "customer_caps" not in story.rules("T-0")

    # Above the contract's cap: refused, nothing stored. The vendor cannot set it; another customer
    # cannot see the contract.
    above = customer.put(url, {"max_units": 6}, format="json")
    assert (above.status_code, above.json()["field_errors"]["max_units"][0]["code"]) == (
        400,
        "above_contract_cap",
    )
    assert vendor_client.put(url, {"max_units": 1}, format="json").status_code == 403
    stranger = customer_api_client(CustomerFactory.create(vendor=contract.vendor))
    assert stranger.put(url, {"max_units": 1}, format="json").status_code == 404
    assert not CustomerCap.objects.exists()

    with time_machine.travel(T0 + 2 * HOUR, tick=False):
        set_cap = customer.put(url, {"max_units": 3, "alert_percents": [50, 100]}, format="json")
    assert set_cap.status_code == 200, set_cap.content
    assert set_cap.json()["max_units"] == 3
    assert AuditEntry.objects.filter(action="customer_cap.set", vendor=contract.vendor).count() == 1
    # The vendor reads it, and still cannot change or remove it.
    seen = vendor_client.get(f"/api/v1/contracts/{contract.pk}/customer-caps")
    assert [(c["outcome_type"], c["max_units"]) for c in seen.json()] == [(TYPE, 3)]
    assert vendor_client.delete(url).status_code == 403
    assert CustomerCap.objects.get().max_units == 3

    # Five more claims: two fit its cap of three (with T-0), three wait for its approval.
    claim_all(story, T0 + 3 * HOUR, ["T-1", "T-2", "T-3", "T-4", "T-5"])
    story.evaluate(T0 + 4 * HOUR)
    states = dict(story.outcomes().values_list("natural_key", "state"))
    assert states == {
        "T-0": OutcomeState.BILLABLE,
        "T-1": OutcomeState.BILLABLE,
        "T-2": OutcomeState.BILLABLE,
        "T-3": OutcomeState.FLAGGED,
        "T-4": OutcomeState.FLAGGED,
        "T-5": OutcomeState.FLAGGED,
    }
    held = story.verdict("T-3", "customer_caps")
    assert (held.decision, held.reason, held.facts["used"], held.hold_until) == (
        "flag",
        CUSTOMER_CAP_EXCEEDED,
        3,
        None,
    )
    alerts = Event.objects.filter(type="customer_cap.threshold_reached").order_by("data__percent")
    assert [(e.data["percent"], e.data["threshold_units"]) for e in alerts] == [(50, 2), (100, 3)]

    # The customer approves T-3 through the review path: billed over its own cap.
    approved = customer.post(
        f"/api/v1/customer/outcomes/{story.outcome('T-3').pk}/review",
        {"flag_reason": CUSTOMER_CAP_EXCEEDED, "verdict": "accept"},
        format="json",
    )
    assert approved.status_code == 201, approved.content
    assert story.state("T-3") == OutcomeState.BILLABLE
    assert story.decided("T-3", "customer_caps") == ("accept", "customer_cap_exceeded_cleared")
    # The vendor never accepts it for the customer.
    refused = vendor_client.post(
        f"/api/v1/outcomes/{story.outcome('T-4').pk}/review",
        {"flag_reason": CUSTOMER_CAP_EXCEEDED, "verdict": "accept", "justification": "we did the work"},
        format="json",
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "decision_needs_other_party")
    assert story.state("T-4") == OutcomeState.FLAGGED
    # It may give the bill up (a vendor admin, justified): T-5 is not billed.
    conceded = vendor_client.post(
        f"/api/v1/outcomes/{story.outcome('T-5').pk}/review",
        {"flag_reason": CUSTOMER_CAP_EXCEEDED, "verdict": "reject", "justification": "over their budget"},
        format="json",
    )
    assert conceded.status_code == 201, conceded.content
    assert story.state("T-5") == OutcomeState.REJECTED

    # Silence keeps it waiting (no deadline); raising the cap releases it at once.
    story.evaluate(T0 + 30 * 24 * HOUR)
    assert story.state("T-4") == OutcomeState.FLAGGED
    with time_machine.travel(T0 + 31 * 24 * HOUR, tick=False):
        raised = customer.put(url, {"max_units": 5}, format="json")
    assert raised.status_code == 200, raised.content
    assert story.state("T-4") == OutcomeState.BILLABLE
    assert customer.delete(url).status_code == 204
    assert customer.get(url).status_code == 404
    # The vendor's concession stands, the customer's cap gone and the contract's full.
    story.evaluate(T0 + 32 * 24 * HOUR)
    assert story.state("T-5") == OutcomeState.REJECTED

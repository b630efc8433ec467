"""The customer overview's charts and what is held: each contract's outcomes per day, its caps' use and
the held outcomes with their reasons, of the member's customer only."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import time_machine

from contracts.models import CustomerCap
from outcomes import counters
from outcomes.models import Decision, Outcome, OutcomeState, OutcomeVerdict
from outcomes.rules.customer_caps import CUSTOMER_CAP_EXCEEDED
from tests.factories import outcome_type_terms, version_terms
from tests.support.ingest import make_ingest
from tests.support.portal import Member, make_customer_member, signed_in
from tests.support.settlement import FAST, MARCH, billable
from tests.support.vendors import make_vendor_api

pytestmark = pytest.mark.django_db


def test_the_overview_charts_and_holds_count_the_members_customer_only(owner: Member) -> None:
    api = make_vendor_api(owner.vendor)
    ours, theirs = make_ingest(api=api, reference="CTR-ours"), make_ingest(api=api, reference="CTR-theirs")
    day = MARCH + dt.timedelta(days=2)
    billable(ours, 3, day, prefix="OURS")
    billable(theirs, 5, day, prefix="THEIRS")
    for ingest in (ours, theirs):
        CustomerCap.objects.create(
            contract=ingest.contract, outcome_type_key="ticket.resolved", max_units=10, set_by="t", set_at=day
        )
        first = Outcome.objects.filter(contract=ingest.contract).order_by("pk").first()
        assert first is not None
        Outcome.objects.filter(pk=first.pk).update(state=OutcomeState.FLAGGED)
        OutcomeVerdict.objects.create(
            outcome=first, rule="customer_caps", decision=Decision.FLAG, reason=CUSTOMER_CAP_EXCEEDED, at=day
        )
    counters.rebuild()  # states written behind the services' back, as a bulk load does
    client = signed_in(make_customer_member(customer=ours.contract.customer))

    with time_machine.travel(day + dt.timedelta(days=1), tick=False):
        page = client.get("/customer/").content.decode()

    [data_id] = re.findall(r'data-outcomes-per-day="([^"]+)"', page)
    match = re.search(rf'<script id="{data_id}" type="application/json">(.*?)</script>', page)
    assert match is not None
    chart = json.loads(match.group(1))
    assert len(chart["labels"]) == 60
    assert chart["labels"][-2] == day.date().isoformat()
    by_state = {s["state"]: s["counts"][-2] for s in chart["series"]}
    assert by_state == {"maturing": 2, "flagged": 1}  # theirs (5 outcomes) counted nowhere
    assert "CTR-theirs" not in page
    assert 'data-cap="customer-ticket.resolved"' in page
    assert '<meter min="0" max="10" value="0"' in page  # none billable yet of our own cap of 10
    held = re.search(r'<li data-held="flagged">.*?</li>\s*</ul>', page, re.S)
    assert held is not None
    assert '<span data-figure="held-count">1</span>' in held.group(0)
    assert "?state=flagged" in held.group(0)
    assert "1: Past the customer&#x27;s own cap" in held.group(0)
    maturing = re.search(r'<li data-held="maturing">.*?</li>\s*</ul>', page, re.S)
    assert maturing is not None
    assert '<span data-figure="held-count">2</span>' in maturing.group(0)
    assert "portal/dashboard" in page  # the vendor dashboard's chart script draws them


def test_the_overview_shows_the_customers_own_amount_cap_and_what_the_period_bills_against_it() -> None:
    """At 0.90 each, three billable outcomes bill 2.70 USD of its own 10.00 USD cap."""
    ingest = make_ingest(
        terms=version_terms(outcome_types=[outcome_type_terms(verification_policy=FAST)]), reference="CTR-amt"
    )
    day = MARCH + dt.timedelta(days=2)
    CustomerCap.objects.create(
        contract=ingest.contract,
        outcome_type_key="ticket.resolved",
        max_amount_minor=1_000,
        set_by="t",
        set_at=day,
    )
    billable(ingest, 3, day)
    client = signed_in(make_customer_member(customer=ingest.contract.customer))

    with time_machine.travel(day + dt.timedelta(days=1), tick=False):
        page = client.get("/customer/").content.decode()

    meter = re.search(r'<dd data-cap="customer_amount-ticket.resolved">(.*?)</dd>', page, re.S)
    assert meter is not None
    assert '<meter min="0" max="1000" value="270"' in meter.group(1)
    assert "2.70 USD of 10.00 USD (27%)" in meter.group(1)
    assert "ticket.resolved: your own amount cap" in page
    assert 'data-cap="customer-ticket.resolved"' not in page  # no unit cap of its own

"""The contract form says what a budget alert sends, and a threshold reached records its event."""

from __future__ import annotations

import datetime as dt
import html

import pytest
from django.test import Client

from notifications.models import Event
from settlement.services.announcements import deadlines_announce
from tests.factories import outcome_type_terms, version_terms
from tests.support.ingest import make_ingest
from tests.support.portal import Member
from tests.support.settlement import FAST, MARCH, billable
from tests.support.vendors import make_vendor_api

pytestmark = pytest.mark.django_db


def test_the_contract_form_says_what_a_budget_alert_sends(owner_client: Client) -> None:
    content = html.unescape(owner_client.get("/contracts/new/").content.decode())

    assert "Budget alerts (% of cap)" in content
    assert (
        "e.g. 80, 95. Each one reached sends a budget.threshold_reached webhook and an email to the owners "
        "and admins, once per period."
    ) in content
    assert "Not sent yet" not in content


def test_the_contract_page_says_what_a_budget_alert_sends_and_a_threshold_reached_is_recorded(
    owner: Member, owner_client: Client
) -> None:
    terms = version_terms(
        cap_amount_minor=1_000,
        budget_alert_percents=[100],
        outcome_types=[
            outcome_type_terms(pricing={"model": "per_unit", "unit_price": "1.00"}, verification_policy=FAST)
        ],
    )
    ingest = make_ingest(make_vendor_api(owner.vendor), terms=terms)
    billable(ingest, 10, MARCH + dt.timedelta(days=2))  # the whole cap

    deadlines_announce(now=MARCH + dt.timedelta(days=3))

    page = html.unescape(owner_client.get(f"/contracts/{ingest.contract.pk}/").content.decode())
    assert (
        "Billing capped at 10.00 USD per period; budget alerts at 100% (a budget.threshold_reached webhook "
        "and an email to the vendor's owners and admins, once per period and threshold)."
    ) in page
    [event] = Event.objects.filter(type="budget.threshold_reached")
    assert (event.contract_id, event.data["percent"], event.data["amount_minor"]) == (
        ingest.contract.pk,
        100,
        1_000,
    )

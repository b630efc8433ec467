"""The customer portal in a real browser: a customer's person signs in at the shared login page, lands
on their overview, and opens an outcome's trail from the outcomes list."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.support.ingest import make_ingest
from tests.support.portal import SignIn, make_customer_member, screenshot
from tests.support.settlement import MARCH, billable

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_customers_person_signs_in_and_opens_an_outcomes_trail(page: Any, sign_in: SignIn) -> None:
    ingest = make_ingest(reference="CTR-buyer")
    billable(ingest, 2, MARCH + dt.timedelta(days=2), prefix="TCK")
    person = make_customer_member(customer=ingest.contract.customer)

    sign_in(person)
    page.wait_for_url("**/customer/")
    page.get_by_role("heading", name="Overview").wait_for()
    page.get_by_role("link", name="Outcomes", exact=True).click()
    page.get_by_role("link", name="TCK-1").click()
    page.get_by_role("heading", name="Trail").wait_for()
    page.get_by_text("Body").first.click()
    page.locator("pre", has_text="TCK-1").first.wait_for()
    screenshot(page, "customer-outcome-trail")

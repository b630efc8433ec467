"""The customer's settings and contract pages in a real browser, at phone width: every control labelled,
text readable, no sideways scroll; an admin approves the source the vendor created and sees its new
secret once; an admin edits an endpoint, sends it a test event and reads the delivery log."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.models import CustomerRole
from notifications.models import Endpoint
from notifications.services.endpoints import endpoint_create
from tests.factories import CustomerFactory, outcome_type_terms, version_terms, webhook_source_create_for
from tests.portal.test_accessibility_browser import problems_on
from tests.support.ingest import make_ingest
from tests.support.portal import SignIn, make_customer_member, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_approves_the_vendors_source_on_a_phone(page: Any, sign_in: SignIn) -> None:
    ingest = make_ingest(terms=version_terms(outcome_types=[outcome_type_terms(cap_units=100)]))
    customer = ingest.contract.customer
    webhook_source_create_for(customer, name="Vendor-made CRM", approved=False)
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(make_customer_member(customer=customer, role=CustomerRole.ADMIN))
    page.wait_for_url("**/customer/")

    problems, wide = {}, {}
    for url in (f"/customer/contracts/{ingest.contract.pk}/", "/customer/settings/"):
        page.goto(url)
        problems[url] = problems_on(page)
        if (width := page.evaluate("document.documentElement.scrollWidth")) > 390:
            wide[url] = width
    assert {url: found for url, found in problems.items() if found} == {}
    assert wide == {}
    screenshot(page, "customer-settings-phone")

    page.get_by_role("button", name="Approve Vendor-made CRM").click()
    page.get_by_role("heading", name="Source approved: Vendor-made CRM").wait_for()
    assert page.locator("#signing-secret").inner_text().startswith("whsec_")


def test_an_admin_edits_an_endpoint_sends_a_test_event_and_reads_its_log(page: Any, sign_in: SignIn) -> None:
    customer = CustomerFactory.create()
    endpoint, _ = endpoint_create(
        vendor=customer.vendor,
        customer=customer,
        registered_by=Endpoint.Owner.CUSTOMER,
        url="https://erp.buyer.test/verity",
        actor="test",
    )
    sign_in(make_customer_member(customer=customer, role=CustomerRole.ADMIN))
    page.wait_for_url("**/customer/")
    page.goto("/customer/settings/")
    page.get_by_role("link", name="https://erp.buyer.test/verity").click()
    page.wait_for_url(f"**/customer/settings/endpoints/{endpoint.pk}/")
    assert problems_on(page) == []

    page.get_by_role("textbox", name="Description").fill("Finance ERP")
    page.get_by_label("invoice.contested").check()
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Endpoint https://erp.buyer.test/verity saved.").wait_for()
    endpoint.refresh_from_db()
    assert (endpoint.description, endpoint.event_types) == ("Finance ERP", ["invoice.contested"])

    page.get_by_role("button", name="Send test event").click()
    page.get_by_text("A webhook.test event is on its way").wait_for()
    log = page.locator("table").last.inner_text()
    assert "webhook.test" in log
    screenshot(page, "customer-endpoint")

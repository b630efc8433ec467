"""Contracts in a real browser: create one through the form (a bad tier table first; an amount in
major units, a policy box unticked), and a viewer who sees no edit controls and whose forged POST is
refused."""

from __future__ import annotations

import re
from typing import Any

from contracts.models import Contract, ContractStatus
from tests.factories import CustomerFactory, contract_create_for
from tests.support.portal import Member, SignIn, screenshot


def test_create_a_contract_through_the_form(page: Any, sign_in: SignIn, owner: Member) -> None:
    CustomerFactory.create(vendor=owner.vendor, name="Acme Support", external_ref="acme")
    sign_in(owner)
    page.goto("/contracts/")
    page.get_by_role("button", name="New contract").click()
    page.get_by_label("Customer").select_option(label="Acme Support (acme)")
    page.get_by_label("Reference").fill("ACME-2026")
    page.get_by_label("Time zone").fill("Europe/Berlin")
    page.get_by_label("Currency").fill("eur")  # amounts are typed in the currency shown beside them
    assert page.locator("#f-terms-platform-fee-minor-unit").inner_text() == "EUR"
    page.get_by_label("Currency").fill("USD")
    page.get_by_label("Platform fee per period").fill("500.00")
    page.get_by_label("Key", exact=True).fill("ticket.resolved")
    page.get_by_label("Description").fill("A support ticket resolved by the agent")
    page.get_by_label("Natural key field").fill("ticket_id")
    page.get_by_label("Pricing model").select_option("graduated")
    assert not page.get_by_label("Unit price", exact=True).is_visible()  # only the chosen model's inputs
    for row, (up_to, price) in enumerate([("1000", "0.99"), ("500", "0.79"), ("", "0.59")], start=1):
        page.get_by_label(f"Tier {row} up to (units)").fill(up_to)
        page.get_by_label(f"Tier {row} unit price").fill(price)
    page.get_by_label("Free units per period").fill("100")
    page.get_by_role("checkbox", name="Required", exact=True).uncheck()  # the policy: an input per parameter
    page.get_by_label("Hold (hours)").fill("48")
    page.get_by_role("button", name="Create draft contract").click()

    table_errors = page.locator("#f-terms-outcome-types-0-pricing-tiers-errors")
    table_errors.wait_for()
    assert "Tier 1 ends at 500, not above the previous tier's end 1000" in table_errors.inner_text()
    assert "1 problem to fix" in page.locator("#error-summary").inner_text()
    assert page.get_by_label("Tier 2 up to (units)").input_value() == "500"  # kept as typed
    assert not page.get_by_role("checkbox", name="Required", exact=True).is_checked()
    screenshot(page, "contract-form-error")

    page.get_by_label("Tier 2 up to (units)").fill("5000")
    page.get_by_role("button", name="Create draft contract").click()
    page.wait_for_url(re.compile(r"/contracts/[0-9a-f-]{36}/$"))
    assert "created as a draft" in page.locator(".messages").inner_text()
    price = page.locator("dd.price").inner_text()
    assert price.startswith(
        "Graduated tiers per period: 1 to 1,000 at 0.99 USD each, 1,001 to 5,000 at 0.79 USD each"
    )
    assert "first 100 free each period" in price
    policy = page.locator("ul.policy").inner_text()
    assert "No confirmation by the customer is needed." in policy
    assert "48 h maturation before billing" in policy
    assert "Platform fee 500.00 USD per period." in page.content()
    screenshot(page, "contract-detail")
    contract = Contract.objects.get(vendor=owner.vendor)
    assert contract.reference == "ACME-2026"
    assert contract.timezone == "Europe/Berlin"

    page.get_by_role("button", name="Activate").click()
    page.wait_for_load_state()
    contract.refresh_from_db()
    assert contract.status == ContractStatus.ACTIVE
    contract_create_for(CustomerFactory.create(vendor=owner.vendor, name="Globex"), reference="GLOBEX-Q1")
    page.goto("/contracts/")
    assert page.get_by_role("link", name="ACME-2026").is_visible()
    assert page.get_by_role("link", name="GLOBEX-Q1").is_visible()
    screenshot(page, "contract-list")
    page.get_by_label("Status").select_option("active")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**status=active**")
    assert page.get_by_role("link", name="GLOBEX-Q1").count() == 0


def test_a_viewer_sees_no_edit_controls_and_a_forged_post_is_refused(
    page: Any, sign_in: SignIn, viewer: Member
) -> None:
    contract = contract_create_for(CustomerFactory.create(vendor=viewer.vendor))
    foreign = contract_create_for()
    sign_in(viewer)
    page.goto("/contracts/")
    assert page.get_by_role("button", name="New contract").count() == 0
    page.goto(f"/contracts/{contract.pk}/")
    assert page.get_by_role("button", name="Amend terms").count() == 0
    assert page.get_by_role("button", name="Activate").count() == 0

    token = next(cookie["value"] for cookie in page.context.cookies() if cookie["name"] == "csrftoken")
    response = page.request.post(
        f"/contracts/{contract.pk}/activate/", headers={"X-CSRFToken": token, "Referer": page.url}
    )
    assert response.status == 403
    assert "Viewers cannot change anything." in response.text()
    contract.refresh_from_db()
    assert contract.status == ContractStatus.DRAFT

    assert page.goto(f"/contracts/{foreign.pk}/").status == 404

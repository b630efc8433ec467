"""The portal's contract form and page: whether credits wait while the customer has an overdue invoice."""

from __future__ import annotations

from django.test import Client

from contracts.models import Contract
from tests.factories import CustomerFactory
from tests.portal.test_contracts import form_post
from tests.support.portal import Member


def test_the_create_form_withholds_credits_by_default_and_the_page_says_so(
    owner_client: Client, owner: Member
) -> None:
    customer = CustomerFactory.create(vendor=owner.vendor)
    page = owner_client.get("/contracts/new/").content.decode()
    assert 'name="withhold_credits_while_overdue" type="checkbox" value="true" checked' in page

    # A checked box posts its hidden "false" and then "true": the last one wins.
    post = form_post(str(customer.pk))
    response = owner_client.post(
        "/contracts/new/", {**post, "withhold_credits_while_overdue": ["false", "true"]}
    )

    contract = Contract.objects.get(vendor=owner.vendor, reference="ACME-2026")
    assert response.status_code == 302
    assert contract.withhold_credits_while_overdue is True
    detail = owner_client.get(f"/contracts/{contract.pk}/").content.decode()
    assert "withheld while the customer has an overdue invoice, issued once it is paid" in detail


def test_an_unchecked_box_issues_credits_even_while_overdue(owner_client: Client, owner: Member) -> None:
    customer = CustomerFactory.create(vendor=owner.vendor)

    response = owner_client.post(
        "/contracts/new/", {**form_post(str(customer.pk)), "withhold_credits_while_overdue": "false"}
    )

    contract = Contract.objects.get(vendor=owner.vendor, reference="ACME-2026")
    assert response.status_code == 302
    assert contract.withhold_credits_while_overdue is False
    detail = owner_client.get(f"/contracts/{contract.pk}/").content.decode()
    assert "issued even while the customer has an overdue invoice" in detail

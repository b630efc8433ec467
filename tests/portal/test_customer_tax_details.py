"""A customer's tax details in the portal: shown on the customer's page, edited by a writer through the same
service as the API (errors beside their inputs, nothing saved), never by a viewer or for another vendor."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from contracts.models import AuditEntry, Customer
from tests.factories import CustomerFactory, VendorFactory
from tests.support.portal import Member

pytestmark = pytest.mark.django_db

VAT = {"type": "eu_vat", "value": "DE123456789"}
BERLIN = {
    "country": "DE",
    "line1": "Unter den Linden 1",
    "line2": "",
    "city": "Berlin",
    "state": "",
    "postal_code": "10117",
}
EMPTY_FORM = {f"address.{name}": "" for name in BERLIN} | {"tax_exempt": "none"}


@pytest.fixture
def customer(owner: Member) -> Customer:
    return CustomerFactory.create(vendor=owner.vendor, name="Acme Corp")


def post_tax_details(client: Client, customer: Customer, values: dict[str, str]) -> tuple[int, str]:
    response = client.post(f"/customers/{customer.pk}/tax-details/", {**EMPTY_FORM, **values})
    return response.status_code, response.content.decode()


def errors_beside(content: str, input_id: str) -> list[str]:
    found = re.search(rf'<ul class="errorlist" id="{input_id}-errors">(.*?)</ul>', content, re.S)
    return re.findall(r"<li>(.*?)</li>", found.group(1)) if found else []


def fact(content: str, dd_id: str) -> str:
    found = re.search(rf'<dd id="{dd_id}">(.*?)</dd>', content, re.S)
    assert found is not None
    return found.group(1)


def test_the_page_shows_the_tax_details(owner_client: Client, customer: Customer) -> None:
    Customer.objects.filter(pk=customer.pk).update(address=BERLIN, tax_ids=[VAT], tax_exempt="reverse")

    content = owner_client.get(f"/customers/{customer.pk}/").content.decode()

    assert fact(content, "tax-address") == "Unter den Linden 1<br>Berlin 10117<br>DE"
    assert fact(content, "tax-ids") == '<code>DE123456789</code> <span class="muted">(eu_vat)</span>'
    assert fact(content, "tax-exempt") == "Reverse charge"
    assert 'name="tax_ids[0].value" value="DE123456789"' in content
    assert 'name="address.city" value="Berlin"' in content


def test_a_customer_without_tax_details_says_so(owner_client: Client, customer: Customer) -> None:
    content = owner_client.get(f"/customers/{customer.pk}/").content.decode()

    assert "none: Stripe Tax cannot place this customer" in fact(content, "tax-address")
    assert fact(content, "tax-exempt") == "Not exempt"


def test_a_writer_saves_an_address_tax_ids_and_an_exemption(
    owner_client: Client, owner: Member, customer: Customer
) -> None:
    status, _ = post_tax_details(
        owner_client,
        customer,
        {
            "address.line1": "510 Townsend St",
            "address.city": "San Francisco",
            "address.state": "CA",
            "address.postal_code": "94103",
            "address.country": "us",
            # an empty row between two tax ids is skipped
            "tax_ids[0].type": "us_ein",
            "tax_ids[0].value": "12-3456789",
            "tax_ids[2].type": "eu_vat",
            "tax_ids[2].value": "de123456789",
            "tax_exempt": "exempt",
        },
    )

    assert status == 302
    customer.refresh_from_db()
    assert customer.address == {
        "country": "US",
        "line1": "510 Townsend St",
        "line2": "",
        "city": "San Francisco",
        "state": "CA",
        "postal_code": "94103",
    }
    assert customer.tax_ids == [{"type": "us_ein", "value": "12-3456789"}, VAT]
    assert customer.tax_exempt == "exempt"
    audit = AuditEntry.objects.get(action="customer.updated")
    assert (audit.actor, audit.details) == (
        f"user:{owner.user.email}",
        {"fields": ["address", "tax_exempt", "tax_ids"]},
    )


def test_emptying_every_input_removes_the_address_and_the_tax_ids(
    owner_client: Client, customer: Customer
) -> None:
    Customer.objects.filter(pk=customer.pk).update(address=BERLIN, tax_ids=[VAT])

    status, _ = post_tax_details(owner_client, customer, {})

    assert status == 302
    customer.refresh_from_db()
    assert (customer.address, customer.tax_ids) == (None, [])


def test_errors_are_shown_beside_their_inputs_and_nothing_is_saved(
    owner_client: Client, customer: Customer
) -> None:
    status, content = post_tax_details(
        owner_client,
        customer,
        {
            "address.line1": "510 Townsend St",
            "address.country": "US",
            "tax_ids[0].type": "eu_vat",
            "tax_ids[0].value": "DE123456789",
            # the second tax id is the form's fourth row: its error goes there
            "tax_ids[3].type": "gb_vat",
            "tax_ids[3].value": "12345",
        },
    )

    assert status == 400
    assert errors_beside(content, "f-tax-address-postal-code") == [
        "Stripe Tax needs the postal code of an address in US."
    ]
    assert errors_beside(content, "f-tax-tax-ids-3-value") == [
        "12345 is not a valid United Kingdom VAT number: Stripe expects the form GB123456789."
    ]
    assert errors_beside(content, "f-tax-tax-ids-1-value") == []
    assert "2 problems to fix" in content
    assert 'name="tax_ids[3].value" value="12345"' in content  # what was typed is kept
    customer.refresh_from_db()
    assert (customer.address, customer.tax_ids) == (None, [])
    assert not AuditEntry.objects.filter(action="customer.updated").exists()


def test_a_row_with_a_number_but_no_type_is_refused_on_its_type(
    owner_client: Client, customer: Customer
) -> None:
    status, content = post_tax_details(owner_client, customer, {"tax_ids[1].value": "DE123456789"})

    assert status == 400
    assert errors_beside(content, "f-tax-tax-ids-1-type") == ["Give the tax id&#x27;s type, e.g. eu_vat."]


def test_a_viewer_sees_the_details_but_no_form_and_cannot_post(
    viewer_client: Client, customer: Customer
) -> None:
    content = viewer_client.get(f"/customers/{customer.pk}/").content.decode()
    assert 'id="tax-facts"' in content
    assert "/tax-details/" not in content

    status, _ = post_tax_details(viewer_client, customer, {"tax_exempt": "exempt"})

    assert status == 403
    customer.refresh_from_db()
    assert customer.tax_exempt == "none"


def test_another_vendors_customer_is_not_found(owner_client: Client) -> None:
    theirs = CustomerFactory.create(vendor=VendorFactory.create())

    status, _ = post_tax_details(owner_client, theirs, {"tax_exempt": "exempt"})

    assert status == 404
    theirs.refresh_from_db()
    assert theirs.tax_exempt == "none"

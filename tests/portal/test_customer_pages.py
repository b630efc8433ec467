"""A customer made and edited in the portal, through the services the API calls (the same validation, errors
beside their inputs, nothing stored on refusal, audited as the signed-in person); its page lists its contracts;
viewers and other vendors' members change nothing."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client

from contracts.models import AuditEntry, Customer
from contracts.services.contracts import contract_activate, contract_amend
from contracts.terms import Amendment, parse
from contracts.wording import period_text
from tests.factories import CustomerFactory, VendorFactory, amendment_payload, contract_create_for
from tests.support.portal import Member

pytestmark = pytest.mark.django_db

ACME = {"name": " Acme Corp ", "billing_email": "billing@acme.test", "external_ref": "crm-42"}
NEW_ACME = {**ACME, "tax_exempt": "none"}  # as the new customer form posts it: its select has a value


def errors_beside(content: str, input_id: str) -> list[str]:
    found = re.search(rf'<ul class="errorlist" id="{input_id}-errors">(.*?)</ul>', content, re.S)
    return re.findall(r"<li>(.*?)</li>", found.group(1)) if found else []


def stored(customer: Customer) -> dict[str, Any]:
    customer.refresh_from_db()
    return {
        name: getattr(customer, name)
        for name in ("name", "billing_email", "external_ref", "address", "tax_ids", "tax_exempt")
    }


@pytest.fixture
def customer(owner: Member) -> Customer:
    return CustomerFactory.create(
        vendor=owner.vendor, name="Acme Corp", billing_email="ap@acme.test", external_ref="acme"
    )


# New customer ---------------------------------------------------------------------------------------


def test_the_list_and_the_contract_form_lead_to_the_new_customer_page(owner_client: Client) -> None:
    assert 'href="/customers/new/"' in owner_client.get("/customers/").content.decode()
    assert 'href="/customers/new/"' in owner_client.get("/contracts/new/").content.decode()

    response = owner_client.get("/customers/new/")

    assert response.status_code == 200
    content = response.content.decode()
    for name in (
        "name",
        "billing_email",
        "external_ref",
        "address.country",
        "tax_ids[0].value",
        "tax_exempt",
    ):
        assert f'name="{name}"' in content


def test_a_writer_adds_a_customer_audited_as_themselves(owner_client: Client, owner: Member) -> None:
    response = owner_client.post("/customers/new/", NEW_ACME)

    customer = Customer.objects.get(vendor=owner.vendor)
    assert response.status_code == 302
    assert response["Location"] == f"/customers/{customer.pk}/"
    assert stored(customer) == {
        "name": "Acme Corp",  # surrounding spaces dropped, as for every portal input
        "billing_email": "billing@acme.test",
        "external_ref": "crm-42",
        "address": None,
        "tax_ids": [],
        "tax_exempt": "none",
    }
    audit = AuditEntry.objects.get(object_id=str(customer.pk))
    assert (audit.vendor_id, audit.action, audit.actor) == (
        owner.vendor.pk,
        "customer.created",
        f"user:{owner.user.email}",
    )
    assert "Customer Acme Corp added." in owner_client.get(response["Location"]).content.decode()


def test_a_new_customer_may_come_with_an_address_and_tax_ids(owner_client: Client, owner: Member) -> None:
    response = owner_client.post(
        "/customers/new/",
        {
            **NEW_ACME,
            "address.line1": "Unter den Linden 1",
            "address.city": "Berlin",
            "address.postal_code": "10117",
            "address.country": "de",
            "tax_ids[1].type": "eu_vat",  # a row after an empty one
            "tax_ids[1].value": "de123456789",
            "tax_exempt": "reverse",
        },
    )

    assert response.status_code == 302
    customer = Customer.objects.get(vendor=owner.vendor)
    assert (customer.address, customer.tax_ids, customer.tax_exempt) == (
        {
            "line1": "Unter den Linden 1",
            "line2": "",
            "city": "Berlin",
            "state": "",
            "postal_code": "10117",
            "country": "DE",
        },
        [{"type": "eu_vat", "value": "DE123456789"}],
        "reverse",
    )


def test_errors_are_shown_beside_their_inputs_and_no_customer_is_made(
    owner_client: Client, owner: Member
) -> None:
    response = owner_client.post(
        "/customers/new/",
        {
            "name": "  ",
            "billing_email": "not-an-email",
            "external_ref": "crm-42",
            "address.line1": "510 Townsend St",
            "address.country": "US",
            "tax_ids[2].type": "gb_vat",
            "tax_ids[2].value": "12345",
            "tax_exempt": "none",
        },
    )

    assert response.status_code == 400
    content = response.content.decode()
    assert errors_beside(content, "f-customer-name") == ["String should have at least 1 character"]
    assert errors_beside(content, "f-customer-billing-email") == ["Enter a valid email address."]
    assert errors_beside(content, "f-customer-address-postal-code") == [
        "Stripe Tax needs the postal code of an address in US."
    ]
    assert errors_beside(content, "f-customer-tax-ids-2-value") == [
        "12345 is not a valid United Kingdom VAT number: Stripe expects the form GB123456789."
    ]
    assert "4 problems to fix" in content
    assert 'name="external_ref" value="crm-42"' in content  # what was typed is kept
    assert 'name="tax_ids[2].value" value="12345"' in content
    assert not Customer.objects.exists()
    assert not AuditEntry.objects.exists()


def test_an_external_reference_already_used_by_the_vendor_is_refused_beside_its_input(
    owner_client: Client, owner: Member, customer: Customer
) -> None:
    response = owner_client.post("/customers/new/", {**NEW_ACME, "external_ref": "acme"})

    assert response.status_code == 409
    assert errors_beside(response.content.decode(), "f-customer-external-ref") == [
        "Already used by another customer."
    ]
    assert list(Customer.objects.filter(vendor=owner.vendor)) == [customer]
    assert not AuditEntry.objects.exists()


def test_an_external_reference_used_by_another_vendor_is_free(owner_client: Client, owner: Member) -> None:
    CustomerFactory.create(vendor=VendorFactory.create(), external_ref="crm-42")

    assert owner_client.post("/customers/new/", NEW_ACME).status_code == 302
    assert Customer.objects.get(vendor=owner.vendor).external_ref == "crm-42"


# Edit -----------------------------------------------------------------------------------------------


def test_the_edit_page_shows_the_customers_values_and_links_the_tax_details(
    owner_client: Client, customer: Customer
) -> None:
    assert (
        f'href="/customers/{customer.pk}/edit/"'
        in owner_client.get(f"/customers/{customer.pk}/").content.decode()
    )

    response = owner_client.get(f"/customers/{customer.pk}/edit/")

    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="name" value="Acme Corp"' in content
    assert 'name="billing_email" value="ap@acme.test"' in content
    assert 'name="external_ref" value="acme"' in content
    assert f'href="/customers/{customer.pk}/#tax-title"' in content


def test_a_writer_changes_name_email_and_reference_and_the_tax_details_stay(
    owner_client: Client, owner: Member, customer: Customer
) -> None:
    Customer.objects.filter(pk=customer.pk).update(tax_ids=[{"type": "eu_vat", "value": "DE123456789"}])

    response = owner_client.post(f"/customers/{customer.pk}/edit/", ACME)

    assert response.status_code == 302
    assert response["Location"] == f"/customers/{customer.pk}/"
    assert stored(customer) == {
        "name": "Acme Corp",
        "billing_email": "billing@acme.test",
        "external_ref": "crm-42",
        "address": None,
        "tax_ids": [{"type": "eu_vat", "value": "DE123456789"}],
        "tax_exempt": "none",
    }
    audit = AuditEntry.objects.get(action="customer.updated")
    assert (audit.actor, audit.details) == (
        f"user:{owner.user.email}",
        {"fields": ["billing_email", "external_ref"]},
    )


def test_an_edit_refused_by_the_service_shows_its_errors_and_changes_nothing(
    owner_client: Client, owner: Member, customer: Customer
) -> None:
    CustomerFactory.create(vendor=owner.vendor, external_ref="taken")
    before = stored(customer)

    refused = owner_client.post(
        f"/customers/{customer.pk}/edit/", {"name": "", "billing_email": "x@", "external_ref": "a b "}
    )
    duplicate = owner_client.post(f"/customers/{customer.pk}/edit/", {**ACME, "external_ref": "taken"})

    assert refused.status_code == 400
    content = refused.content.decode()
    assert errors_beside(content, "f-customer-name") == ["String should have at least 1 character"]
    assert errors_beside(content, "f-customer-billing-email") == ["Enter a valid email address."]
    assert errors_beside(content, "f-customer-external-ref") == []  # "a b" once its trailing space is dropped
    assert duplicate.status_code == 409
    assert errors_beside(duplicate.content.decode(), "f-customer-external-ref") == [
        "Already used by another customer."
    ]
    assert stored(customer) == before
    assert not AuditEntry.objects.filter(action="customer.updated").exists()


# Who may --------------------------------------------------------------------------------------------


def test_a_viewer_sees_no_way_to_add_or_edit_and_is_refused_both(
    viewer_client: Client, customer: Customer
) -> None:
    assert "/customers/new/" not in viewer_client.get("/customers/").content.decode()
    assert "/edit/" not in viewer_client.get(f"/customers/{customer.pk}/").content.decode()
    before = stored(customer)

    for url in ("/customers/new/", f"/customers/{customer.pk}/edit/"):
        assert viewer_client.get(url).status_code == 403, url
        assert viewer_client.post(url, {**ACME, "external_ref": "viewer-made"}).status_code == 403, url

    assert Customer.objects.count() == 1
    assert stored(customer) == before
    assert not AuditEntry.objects.exists()


def test_another_vendors_customer_cannot_be_edited(owner_client: Client) -> None:
    theirs = CustomerFactory.create(vendor=VendorFactory.create())
    before = stored(theirs)

    assert owner_client.get(f"/customers/{theirs.pk}/edit/").status_code == 404
    assert owner_client.post(f"/customers/{theirs.pk}/edit/", ACME).status_code == 404

    assert stored(theirs) == before
    assert not AuditEntry.objects.exists()


# Contracts ------------------------------------------------------------------------------------------


def test_a_customers_page_lists_its_contracts_and_the_list_counts_them(
    owner_client: Client, owner: Member, customer: Customer
) -> None:
    draft = contract_create_for(customer, reference="CTR-DRAFT")
    amended = contract_create_for(
        customer, reference="CTR-LIVE", period_count=3, timezone="Europe/Berlin", ends_at="2027-01-01"
    )
    contract_amend(contract=amended, amendment=parse(Amendment, amendment_payload()), actor="system")
    contract_activate(contract=amended, actor="system")
    contract_create_for(CustomerFactory.create(vendor=owner.vendor), reference="CTR-OTHER")

    content = owner_client.get(f"/customers/{customer.pk}/").content.decode()

    table = re.search(r'<table class="compact" id="customer-contracts">(.*?)</table>', content, re.S)
    assert table is not None
    rows = re.findall(
        r'<td><a href="/contracts/([^/]+)/">(.*?)</a></td>\s*<td>.*?>(\w+)</span></td>\s*'
        r'<td class="num">(\d+)</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>',
        table.group(1),
        re.S,
    )
    amended.refresh_from_db()
    assert amended.ends_at == dt.datetime(2026, 12, 31, 23, tzinfo=dt.UTC)
    assert sorted(rows) == sorted(
        [
            (str(draft.pk), "CTR-DRAFT", "Draft", "1", period_text(draft), "1 Jan 2026", "—"),
            # dates in the contract's zone: Berlin's midnight is the day before in UTC
            (str(amended.pk), "CTR-LIVE", "Active", "2", period_text(amended), "1 Jan 2026", "1 Jan 2027"),
        ]
    )
    listing = owner_client.get("/customers/").content.decode()
    row = re.search(rf'<a href="/customers/{customer.pk}/">.*?</tr>', listing, re.S)
    assert row is not None
    assert '<td class="num">2 <span class="muted">(1 active)</span></td>' in row.group(0)

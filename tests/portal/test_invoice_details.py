"""The vendor's invoice details (the seller's name, address and tax ids) set in the portal: validated as a
customer's are, errors beside their inputs, nothing stored on refusal, audited; viewers only read them."""

from __future__ import annotations

import pytest
from django.test import Client

from contracts.models import AuditEntry, Vendor
from tests.support.portal import Member

pytestmark = pytest.mark.django_db

URL = "/settings/invoice-details/"
DETAILS = {
    "name": "Northwind Agents GmbH",
    "address.line1": "Hauptstraße 5",
    "address.city": "Berlin",
    "address.postal_code": "10115",
    "address.country": "de",
    "tax_ids[0].type": "eu_vat",
    "tax_ids[0].value": "DE123456789",
}


def test_settings_lead_to_the_invoice_details_page(owner_client: Client) -> None:
    assert f'href="{URL}"' in owner_client.get("/settings/").content.decode()


def test_an_owner_sets_the_sellers_address_and_tax_ids_and_it_is_audited(
    owner: Member, owner_client: Client
) -> None:
    response = owner_client.post(URL, DETAILS)

    assert (response.status_code, response["Location"]) == (302, URL)
    vendor = Vendor.objects.get(pk=owner.vendor.pk)
    assert vendor.name == "Northwind Agents GmbH"
    assert vendor.address == {
        "country": "DE",
        "line1": "Hauptstraße 5",
        "line2": "",
        "city": "Berlin",
        "state": "",
        "postal_code": "10115",
    }
    assert vendor.tax_ids == [{"type": "eu_vat", "value": "DE123456789"}]
    entry = AuditEntry.objects.get(vendor=vendor, action="vendor.updated")
    assert entry.details == {"fields": ["address", "name", "tax_ids"]}
    page = owner_client.get(URL).content.decode()
    assert 'value="Hauptstraße 5"' in page
    assert 'value="DE123456789"' in page
    assert 'name="tax_exempt"' not in page  # a seller has no tax exemption


def test_a_bad_tax_id_is_shown_beside_its_row_and_nothing_changes(
    owner: Member, owner_client: Client
) -> None:
    before = Vendor.objects.values("name", "address", "tax_ids").get(pk=owner.vendor.pk)

    response = owner_client.post(
        URL,
        {
            **DETAILS,
            "tax_ids[0].type": "",
            "tax_ids[0].value": "",
            "tax_ids[2].type": "eu_vat",
            "tax_ids[2].value": "123",
        },
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert (
        'id="tax_ids[2].value-errors"' in page
        or 'id="tax_ids_2_.value-errors"' in page
        or "tax_ids[2]" in page
    )
    assert Vendor.objects.values("name", "address", "tax_ids").get(pk=owner.vendor.pk) == before
    assert not AuditEntry.objects.filter(action="vendor.updated").exists()


def test_a_viewer_reads_the_details_and_cannot_change_them(owner: Member, viewer_client: Client) -> None:
    Vendor.objects.filter(pk=owner.vendor.pk).update(tax_ids=[{"type": "eu_vat", "value": "DE123456789"}])

    page = viewer_client.get(URL)

    assert page.status_code == 200
    assert (
        "<form" not in page.content.decode().split('id="main"', 1)[-1]
        or 'id="invoice-details-form"' not in page.content.decode()
    )
    assert "DE123456789" in page.content.decode()
    assert viewer_client.post(URL, DETAILS).status_code == 403
    assert Vendor.objects.get(pk=owner.vendor.pk).name == owner.vendor.name

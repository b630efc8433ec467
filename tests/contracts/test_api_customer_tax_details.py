"""The customers endpoints with the details Stripe Tax needs: address, tax ids and tax exemption on create
and update, refusals with the field's path, and another vendor's customer out of reach."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from contracts.models import ApiKey, AuditEntry, Customer
from tests.factories import CustomerFactory, field_error_codes
from tests.support.vendors import VendorApi

pytestmark = pytest.mark.django_db

ACME = {"name": "Acme Corp", "external_ref": "acme", "billing_email": "ap@acme.test"}
SAN_FRANCISCO = {
    "line1": "510 Townsend St",
    "city": "San Francisco",
    "state": "CA",
    "postal_code": "94103",
    "country": "US",
}
STORED_SAN_FRANCISCO = {**SAN_FRANCISCO, "line2": ""}
VAT = {"type": "eu_vat", "value": "DE123456789"}


def test_create_with_an_address_tax_ids_and_an_exemption_returns_and_stores_them(
    vendor_api: VendorApi,
) -> None:
    response = vendor_api.client.post(
        "/api/v1/customers",
        {
            **ACME,
            "address": SAN_FRANCISCO,
            "tax_ids": [VAT, {"type": "us_ein", "value": "12-3456789"}],
            "tax_exempt": "exempt",
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["address"], body["tax_ids"], body["tax_exempt"]) == (
        STORED_SAN_FRANCISCO,
        [VAT, {"type": "us_ein", "value": "12-3456789"}],
        "exempt",
    )
    customer = Customer.objects.get()
    assert (customer.address, customer.tax_ids, customer.tax_exempt) == (
        STORED_SAN_FRANCISCO,
        [VAT, {"type": "us_ein", "value": "12-3456789"}],
        "exempt",
    )
    assert vendor_api.client.get(f"/api/v1/customers/{customer.pk}").json()["address"] == STORED_SAN_FRANCISCO


def test_create_refuses_bad_tax_details_each_on_its_path_and_creates_nothing(vendor_api: VendorApi) -> None:
    response = vendor_api.client.post(
        "/api/v1/customers",
        {
            **ACME,
            "address": {"country": "US", "line1": "510 Townsend St"},
            "tax_ids": [
                VAT,
                {"type": "vat", "value": "DE123456789"},
                {"type": "eu_vat", "value": "123456789"},
            ],
            "tax_exempt": "yes",
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field_error_codes(response.json()) == {
        "address.postal_code": ["postal_code_required"],
        "tax_ids[1].type": ["unknown_tax_id_type"],
        "tax_ids[2].value": ["invalid_tax_id"],
        "tax_exempt": ["literal_error"],
    }
    assert not Customer.objects.exists()


def test_patch_sets_the_tax_details_alone_and_audits_them(vendor_api: VendorApi) -> None:
    customer = CustomerFactory.create(vendor=vendor_api.vendor, **ACME)

    response = vendor_api.client.patch(
        f"/api/v1/customers/{customer.pk}",
        {"address": SAN_FRANCISCO, "tax_ids": [VAT], "tax_exempt": "reverse"},
        format="json",
    )

    assert response.status_code == 200
    assert {key: response.json()[key] for key in ("name", "address", "tax_ids", "tax_exempt")} == {
        "name": "Acme Corp",
        "address": STORED_SAN_FRANCISCO,
        "tax_ids": [VAT],
        "tax_exempt": "reverse",
    }
    audit = AuditEntry.objects.get(action="customer.updated")
    assert audit.details == {"fields": ["address", "tax_exempt", "tax_ids"]}


def test_patch_of_another_field_keeps_the_tax_details(vendor_api: VendorApi) -> None:
    customer = CustomerFactory.create(
        vendor=vendor_api.vendor, **ACME, address=STORED_SAN_FRANCISCO, tax_ids=[VAT], tax_exempt="reverse"
    )

    response = vendor_api.client.patch(
        f"/api/v1/customers/{customer.pk}", {"name": "Acme Inc"}, format="json"
    )

    assert response.status_code == 200
    customer.refresh_from_db()
    assert (customer.name, customer.address, customer.tax_ids, customer.tax_exempt) == (
        "Acme Inc",
        STORED_SAN_FRANCISCO,
        [VAT],
        "reverse",
    )
    assert AuditEntry.objects.get(action="customer.updated").details == {"fields": ["name"]}


def test_patch_with_the_same_tax_details_changes_nothing(vendor_api: VendorApi) -> None:
    customer = CustomerFactory.create(
        vendor=vendor_api.vendor, **ACME, address=STORED_SAN_FRANCISCO, tax_ids=[VAT]
    )
    updated_at = customer.updated_at

    response = vendor_api.client.patch(
        f"/api/v1/customers/{customer.pk}", {"address": SAN_FRANCISCO, "tax_ids": [VAT]}, format="json"
    )

    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.updated_at == updated_at
    assert not AuditEntry.objects.filter(action="customer.updated").exists()


def test_patch_with_null_address_and_no_tax_ids_clears_them(vendor_api: VendorApi) -> None:
    customer = CustomerFactory.create(vendor=vendor_api.vendor, address=STORED_SAN_FRANCISCO, tax_ids=[VAT])

    response = vendor_api.client.patch(
        f"/api/v1/customers/{customer.pk}", {"address": None, "tax_ids": []}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["address"], response.json()["tax_ids"]) == (None, [])
    customer.refresh_from_db()
    assert (customer.address, customer.tax_ids) == (None, [])


def test_patch_with_a_bad_tax_id_is_400_on_its_path_and_changes_nothing(vendor_api: VendorApi) -> None:
    customer = CustomerFactory.create(vendor=vendor_api.vendor, tax_ids=[VAT])

    response = vendor_api.client.patch(
        f"/api/v1/customers/{customer.pk}",
        {"tax_ids": [VAT, {"type": "gb_vat", "value": "GB12"}], "address": {"country": "Germany"}},
        format="json",
    )

    assert response.status_code == 400
    assert field_error_codes(response.json()) == {
        "tax_ids[1].value": ["invalid_tax_id"],
        "address.country": ["string_too_long"],
    }
    customer.refresh_from_db()
    assert (customer.address, customer.tax_ids) == (None, [VAT])
    assert not AuditEntry.objects.filter(action="customer.updated").exists()


def test_another_vendors_customer_cannot_be_read_or_given_tax_details(
    vendor_api: VendorApi, other_vendor_api: VendorApi
) -> None:
    theirs = CustomerFactory.create(vendor=other_vendor_api.vendor, tax_ids=[VAT])

    read = vendor_api.client.get(f"/api/v1/customers/{theirs.pk}")
    patched = vendor_api.client.patch(
        f"/api/v1/customers/{theirs.pk}", {"tax_ids": [], "tax_exempt": "exempt"}, format="json"
    )

    assert (read.status_code, patched.status_code) == (404, 404)
    theirs.refresh_from_db()
    assert (theirs.tax_ids, theirs.tax_exempt) == ([VAT], "none")
    assert not AuditEntry.objects.filter(action="customer.updated").exists()


def test_a_read_only_key_cannot_change_tax_details(vendor_api_factory: Callable[..., VendorApi]) -> None:
    read_only = vendor_api_factory(scope=ApiKey.Scope.READ)
    customer = CustomerFactory.create(vendor=read_only.vendor)

    response = read_only.client.patch(
        f"/api/v1/customers/{customer.pk}", {"tax_exempt": "exempt"}, format="json"
    )

    assert response.status_code == 403
    customer.refresh_from_db()
    assert customer.tax_exempt == "none"

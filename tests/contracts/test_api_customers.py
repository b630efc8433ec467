"""The customers endpoints: create, list, read, partial update and delete, with their refusals."""

from __future__ import annotations

import pytest
import time_machine

from contracts.models import AuditEntry, Customer
from tests.factories import (
    CustomerFactory,
    contract_create_for,
    field_error_codes,
    webhook_source_create_for,
)
from tests.support.vendors import VendorApi

pytestmark = pytest.mark.django_db

NOW = "2026-03-10T12:00:00Z"
ACME = {"name": "Acme Corp", "external_ref": "acme", "billing_email": "ap@acme.test"}


# --- create ---------------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_create_returns_the_customer_and_records_who_did_it(vendor_api: VendorApi) -> None:
    response = vendor_api.client.post("/api/v1/customers", ACME, format="json")

    assert response.status_code == 201
    customer = Customer.objects.get()
    assert response.json() == {
        "id": str(customer.pk),
        **ACME,
        "stripe_customer_id": "",
        "stripe_default_payment_method": "",
        "can_be_charged_automatically": False,
        "address": None,
        "tax_ids": [],
        "tax_exempt": "none",
        "created_at": "2026-03-10T12:00:00Z",
        "updated_at": "2026-03-10T12:00:00Z",
    }
    assert customer.vendor == vendor_api.vendor
    assert list(AuditEntry.objects.filter(action="customer.created").values_list("actor", "object_id")) == [
        (f"api_key:{vendor_api.api_key.prefix}", str(customer.pk))
    ]


def test_create_with_an_external_ref_already_used_is_409_and_creates_nothing(vendor_api: VendorApi) -> None:
    CustomerFactory.create(vendor=vendor_api.vendor, external_ref="acme")

    response = vendor_api.client.post("/api/v1/customers", ACME, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "status": 409,
        "code": "duplicate_external_ref",
        "message": "A customer with external_ref 'acme' already exists.",
        "field_errors": {
            "external_ref": [{"code": "duplicate", "message": "Already used by another customer."}]
        },
    }
    assert Customer.objects.count() == 1
    assert not AuditEntry.objects.filter(action="customer.created").exists()


def test_create_with_an_invalid_email_is_400_on_that_field(vendor_api: VendorApi) -> None:
    response = vendor_api.client.post(
        "/api/v1/customers", {**ACME, "billing_email": "not-an-address"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "status": 400,
        "code": "validation_error",
        "message": "The request has 1 invalid field.",
        "field_errors": {
            "billing_email": [{"code": "invalid_email", "message": "Enter a valid email address."}]
        },
    }
    assert not Customer.objects.exists()


def test_create_names_every_missing_and_unknown_field(vendor_api: VendorApi) -> None:
    response = vendor_api.client.post("/api/v1/customers", {"nickname": "ac"}, format="json")

    assert response.status_code == 400
    assert response.json()["message"] == "The request has 4 invalid fields."
    assert field_error_codes(response.json()) == {
        "name": ["missing"],
        "external_ref": ["missing"],
        "billing_email": ["missing"],
        "nickname": ["extra_forbidden"],
    }
    assert not Customer.objects.exists()


def test_create_refuses_an_external_ref_with_surrounding_blanks(vendor_api: VendorApi) -> None:
    response = vendor_api.client.post("/api/v1/customers", {**ACME, "external_ref": " acme"}, format="json")

    assert response.status_code == 400
    assert field_error_codes(response.json()) == {"external_ref": ["string_pattern_mismatch"]}
    assert not Customer.objects.exists()


def test_create_with_a_body_that_is_not_an_object_is_400_invalid_body(vendor_api: VendorApi) -> None:
    response = vendor_api.client.post("/api/v1/customers", [ACME], format="json")

    assert response.status_code == 400
    assert response.json() == {
        "status": 400,
        "code": "invalid_body",
        "message": "The request body must be a JSON object.",
        "field_errors": {},
    }
    assert not Customer.objects.exists()


# --- list and read --------------------------------------------------------------------------


def test_list_filters_by_external_ref_and_by_part_of_the_name(vendor_api: VendorApi) -> None:
    acme = CustomerFactory.create(vendor=vendor_api.vendor, name="Acme Corp", external_ref="acme")
    CustomerFactory.create(vendor=vendor_api.vendor, name="Globex", external_ref="globex")
    acme_labs = CustomerFactory.create(vendor=vendor_api.vendor, name="ACME Labs", external_ref="labs")

    by_ref = vendor_api.client.get("/api/v1/customers", {"external_ref": "acme"})
    by_name = vendor_api.client.get("/api/v1/customers", {"search": "acme"})

    assert by_ref.status_code == 200
    assert [c["id"] for c in by_ref.json()["results"]] == [str(acme.pk)]
    assert by_name.status_code == 200
    assert {c["id"] for c in by_name.json()["results"]} == {str(acme.pk), str(acme_labs.pk)}


def test_list_pages_with_a_cursor_newest_first(vendor_api: VendorApi) -> None:
    refs = []
    for day in (1, 2, 3):
        with time_machine.travel(f"2026-03-0{day}T09:00:00Z", tick=False):
            refs.append(CustomerFactory.create(vendor=vendor_api.vendor).external_ref)

    first = vendor_api.client.get("/api/v1/customers", {"limit": 2})
    second = vendor_api.client.get(first.json()["next"])

    assert [c["external_ref"] for c in first.json()["results"]] == [refs[2], refs[1]]
    assert first.json()["previous"] is None
    assert [c["external_ref"] for c in second.json()["results"]] == [refs[0]]
    assert second.json()["next"] is None


def test_retrieve_returns_the_customer(vendor_api: VendorApi) -> None:
    customer = CustomerFactory.create(vendor=vendor_api.vendor)

    response = vendor_api.client.get(f"/api/v1/customers/{customer.pk}")

    assert response.status_code == 200
    assert response.json()["id"] == str(customer.pk)
    assert response.json()["billing_email"] == customer.billing_email


@pytest.mark.parametrize("customer_id", ["5b0d2c1e-0000-4000-8000-000000000001", "not-a-uuid"])
def test_retrieve_an_unknown_customer_is_404(vendor_api: VendorApi, customer_id: str) -> None:
    response = vendor_api.client.get(f"/api/v1/customers/{customer_id}")

    assert response.status_code == 404
    assert response.json() == {
        "status": 404,
        "code": "not_found",
        "message": "No such customer.",
        "field_errors": {},
    }


# --- update ---------------------------------------------------------------------------------


def test_patch_changes_only_the_given_fields_and_audits_them(vendor_api: VendorApi) -> None:
    with time_machine.travel("2026-03-01T09:00:00Z", tick=False):
        customer = CustomerFactory.create(vendor=vendor_api.vendor, **ACME)

    with time_machine.travel(NOW, tick=False):
        response = vendor_api.client.patch(
            f"/api/v1/customers/{customer.pk}", {"billing_email": "billing@acme.test"}, format="json"
        )

    assert response.status_code == 200
    assert response.json() == {
        "id": str(customer.pk),
        **ACME,
        "billing_email": "billing@acme.test",
        "stripe_customer_id": "",
        "stripe_default_payment_method": "",
        "can_be_charged_automatically": False,
        "address": None,
        "tax_ids": [],
        "tax_exempt": "none",
        "created_at": "2026-03-01T09:00:00Z",
        "updated_at": "2026-03-10T12:00:00Z",
    }
    audit = AuditEntry.objects.get(action="customer.updated")
    assert audit.details == {"fields": ["billing_email"]}


def test_patch_with_the_current_values_changes_nothing(vendor_api: VendorApi) -> None:
    customer = CustomerFactory.create(vendor=vendor_api.vendor, **ACME)
    updated_at = customer.updated_at

    response = vendor_api.client.patch(
        f"/api/v1/customers/{customer.pk}", {"name": "Acme Corp"}, format="json"
    )

    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.updated_at == updated_at
    assert not AuditEntry.objects.filter(action="customer.updated").exists()


def test_patch_to_an_external_ref_already_used_is_409_and_changes_nothing(vendor_api: VendorApi) -> None:
    CustomerFactory.create(vendor=vendor_api.vendor, external_ref="acme")
    globex = CustomerFactory.create(vendor=vendor_api.vendor, external_ref="globex", name="Globex")

    response = vendor_api.client.patch(
        f"/api/v1/customers/{globex.pk}", {"external_ref": "acme", "name": "Acme II"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_external_ref"
    assert field_error_codes(response.json()) == {"external_ref": ["duplicate"]}
    globex.refresh_from_db()
    assert (globex.external_ref, globex.name) == ("globex", "Globex")
    assert not AuditEntry.objects.filter(action="customer.updated").exists()


def test_patch_with_an_invalid_email_is_400_and_changes_nothing(vendor_api: VendorApi) -> None:
    customer = CustomerFactory.create(vendor=vendor_api.vendor, **ACME)

    response = vendor_api.client.patch(
        f"/api/v1/customers/{customer.pk}", {"name": "Renamed", "billing_email": "ap@"}, format="json"
    )

    assert response.status_code == 400
    assert field_error_codes(response.json()) == {"billing_email": ["invalid_email"]}
    customer.refresh_from_db()
    assert (customer.name, customer.billing_email) == ("Acme Corp", "ap@acme.test")


# --- delete ---------------------------------------------------------------------------------


def test_delete_an_unused_customer_removes_it_and_keeps_an_audit_trail(vendor_api: VendorApi) -> None:
    customer = CustomerFactory.create(vendor=vendor_api.vendor, external_ref="acme")

    response = vendor_api.client.delete(f"/api/v1/customers/{customer.pk}")

    assert response.status_code == 204
    assert response.content == b""
    assert not Customer.objects.exists()
    assert vendor_api.client.get(f"/api/v1/customers/{customer.pk}").status_code == 404
    audit = AuditEntry.objects.get(action="customer.deleted")
    assert (audit.object_id, audit.details) == (str(customer.pk), {"external_ref": "acme"})


def test_delete_a_customer_with_a_contract_is_409_customer_in_use(vendor_api: VendorApi) -> None:
    customer = CustomerFactory.create(vendor=vendor_api.vendor)
    contract_create_for(customer)

    response = vendor_api.client.delete(f"/api/v1/customers/{customer.pk}")

    assert response.status_code == 409
    assert response.json() == {
        "status": 409,
        "code": "customer_in_use",
        "message": "This customer has contracts or webhook sources; terminate or revoke them instead.",
        "field_errors": {},
    }
    assert Customer.objects.filter(pk=customer.pk).exists()
    assert not AuditEntry.objects.filter(action="customer.deleted").exists()


def test_delete_a_customer_with_a_webhook_source_is_409_customer_in_use(vendor_api: VendorApi) -> None:
    customer = CustomerFactory.create(vendor=vendor_api.vendor)
    webhook_source_create_for(customer)

    response = vendor_api.client.delete(f"/api/v1/customers/{customer.pk}")

    assert response.status_code == 409
    assert response.json()["code"] == "customer_in_use"
    assert Customer.objects.filter(pk=customer.pk).exists()

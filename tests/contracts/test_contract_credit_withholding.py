"""A contract's `withhold_credits_while_overdue`: on unless the vendor says otherwise, kept as sent, shown
by the API, and refused when it is not a boolean (settlement.services.credit_withholding applies it)."""

from __future__ import annotations

import pytest

from contracts.models import Contract, Customer
from tests.factories import CustomerFactory, contract_payload, field_error_codes
from tests.support.vendors import VendorApi

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(vendor_api: VendorApi) -> Customer:
    return CustomerFactory.create(vendor=vendor_api.vendor)


def test_a_contract_withholds_credits_while_overdue_unless_told_otherwise(
    vendor_api: VendorApi, customer: Customer
) -> None:
    response = vendor_api.client.post("/api/v1/contracts", contract_payload(customer), format="json")

    assert response.status_code == 201
    assert response.json()["withhold_credits_while_overdue"] is True
    assert Contract.objects.get(pk=response.json()["id"]).withhold_credits_while_overdue is True


def test_a_contract_that_does_not_withhold_says_so(vendor_api: VendorApi, customer: Customer) -> None:
    response = vendor_api.client.post(
        "/api/v1/contracts",
        contract_payload(customer, withhold_credits_while_overdue=False),
        format="json",
    )

    assert response.status_code == 201
    contract_id = response.json()["id"]
    assert (
        vendor_api.client.get(f"/api/v1/contracts/{contract_id}").json()["withhold_credits_while_overdue"]
        is False
    )
    assert Contract.objects.get(pk=contract_id).withhold_credits_while_overdue is False


def test_a_draft_contract_changes_its_withholding_by_patch(vendor_api: VendorApi, customer: Customer) -> None:
    contract_id = vendor_api.client.post(
        "/api/v1/contracts", contract_payload(customer), format="json"
    ).json()["id"]

    response = vendor_api.client.patch(
        f"/api/v1/contracts/{contract_id}", {"withhold_credits_while_overdue": False}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["withhold_credits_while_overdue"] is False


def test_a_withholding_that_is_not_a_boolean_is_refused(vendor_api: VendorApi, customer: Customer) -> None:
    response = vendor_api.client.post(
        "/api/v1/contracts",
        contract_payload(customer, withhold_credits_while_overdue="yes"),
        format="json",
    )

    assert response.status_code == 400
    assert list(field_error_codes(response.json())) == ["withhold_credits_while_overdue"]
    assert not Contract.objects.filter(customer=customer).exists()

"""The API answers with the vendor's own data and refuses a missing key."""

import pytest

from tests.support.vendors import VendorApi

pytestmark = pytest.mark.django_db


def test_customer_create_then_list(vendor_api: VendorApi) -> None:
    created = vendor_api.client.post(
        "/api/v1/customers",
        {"name": "Acme", "external_ref": "acme", "billing_email": "ap@acme.test"},
        format="json",
    )
    assert created.status_code == 201
    listed = vendor_api.client.get("/api/v1/customers")
    assert [c["external_ref"] for c in listed.json()["results"]] == ["acme"]

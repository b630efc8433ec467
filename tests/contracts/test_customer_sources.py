"""A customer's own systems of record through its API key: created approved, or approved (which replaces
the secrets the vendor saw); once approved, only the customer rotates them."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from rest_framework.test import APIClient

from contracts.models import ApiKey, AuditEntry, Customer, WebhookSecret, WebhookSource
from contracts.selectors import WEBHOOK_SOURCE_CACHE_SECONDS, webhook_source_live_secrets
from contracts.services.credentials import webhook_source_revoke
from tests.factories import CustomerFactory, webhook_source_create_for
from tests.support.vendors import VendorApi, customer_api_client

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
LIST = "/api/v1/customer/webhook-sources"


@pytest.fixture
def customer(vendor_api: VendorApi) -> Customer:
    return CustomerFactory.create(vendor=vendor_api.vendor)


@pytest.fixture
def customer_client(customer: Customer) -> APIClient:
    return customer_api_client(customer)


def actor_of(customer: Customer) -> str:
    return f"api_key:{ApiKey.objects.get(customer=customer).prefix}"


@time_machine.travel(NOW, tick=False)
def test_a_source_the_customer_creates_is_approved_at_once_and_only_the_customer_rotates_it(
    vendor_api: VendorApi, customer: Customer, customer_client: APIClient
) -> None:
    response = customer_client.post(LIST, {"name": "Our helpdesk"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["kind"], body["customer_id"]) == ("customer_system", str(customer.pk))
    assert (body["approval_status"], body["approved_at"], body["approved_by"]) == (
        "approved",
        "2026-03-10T12:00:00Z",
        actor_of(customer),
    )
    assert body["signing_secret"].startswith("whsec_")
    assert [item["id"] for item in customer_client.get(LIST).json()["results"]] == [body["id"]]

    refused = vendor_api.client.post(f"/api/v1/webhook-sources/{body['id']}/rotate-secret")
    assert (refused.status_code, refused.json()["code"]) == (409, "source_customer_approved")
    assert WebhookSecret.objects.filter(source_id=body["id"]).count() == 1

    rotated = customer_client.post(
        f"{LIST}/{body['id']}/rotate-secret", {"overlap_seconds": 0}, format="json"
    )
    assert rotated.status_code == 200
    source = WebhookSource.objects.get(pk=body["id"])
    assert webhook_source_live_secrets(source=source, at=NOW) == [rotated.json()["signing_secret"]]


@time_machine.travel(NOW, tick=False)
def test_approving_replaces_every_secret_the_vendor_saw_and_a_second_approval_is_409(
    customer: Customer, customer_client: APIClient
) -> None:
    source, vendor_secret = webhook_source_create_for(customer, approved=False)
    assert source.approval_status == "awaiting_customer_approval"

    response = customer_client.post(f"{LIST}/{source.pk}/approve")

    assert response.status_code == 200
    new_secret = response.json()["signing_secret"]
    speaks_from = NOW + dt.timedelta(seconds=WEBHOOK_SOURCE_CACHE_SECONDS)
    source.refresh_from_db()
    assert (source.approved_at, source.approved_by) == (speaks_from, actor_of(customer))
    assert response.json()["webhook_source"]["approval_status"] == "approved"
    assert webhook_source_live_secrets(source=source, at=NOW) == [new_secret]
    assert new_secret != vendor_secret
    assert AuditEntry.objects.get(action="webhook_source.approved").details == {
        "speaks_for_customer_from": speaks_from.isoformat()
    }

    secrets_before = list(WebhookSecret.objects.values())
    again = customer_client.post(f"{LIST}/{source.pk}/approve")
    assert again.json() == {
        "status": 409,
        "code": "source_already_approved",
        "message": "This source is already approved.",
        "field_errors": {},
    }
    assert list(WebhookSecret.objects.values()) == secrets_before
    source_after = WebhookSource.objects.get(pk=source.pk)
    assert (source_after.approved_at, source_after.approved_by) == (speaks_from, actor_of(customer))


def test_a_revoked_source_is_not_approved(customer: Customer, customer_client: APIClient) -> None:
    source, _ = webhook_source_create_for(customer, approved=False)
    webhook_source_revoke(source=source, actor="test")

    response = customer_client.post(f"{LIST}/{source.pk}/approve")

    assert (response.status_code, response.json()["code"]) == (409, "source_revoked")
    assert WebhookSource.objects.get(pk=source.pk).approved_at is None
    assert WebhookSecret.objects.filter(source=source).count() == 1


def test_only_a_customers_key_with_write_scope_approves(vendor_api: VendorApi, customer: Customer) -> None:
    source, _ = webhook_source_create_for(customer, approved=False)
    read_only = customer_api_client(customer, scope=ApiKey.Scope.READ)

    by_reader = read_only.post(f"{LIST}/{source.pk}/approve")
    by_vendor = vendor_api.client.post(f"{LIST}/{source.pk}/approve")

    assert by_reader.status_code == 403
    assert read_only.get(LIST).status_code == 200
    assert by_vendor.status_code == 403
    assert WebhookSource.objects.get(pk=source.pk).approved_at is None
    assert WebhookSecret.objects.filter(source=source).count() == 1

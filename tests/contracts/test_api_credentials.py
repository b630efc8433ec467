"""Credentials endpoints: webhook sources (secret shown once, rotation, revocation) and API keys."""

from __future__ import annotations

import base64
import datetime as dt
import re
import uuid
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from contracts.models import ApiKey, AuditEntry, Customer, WebhookSecret, WebhookSource
from contracts.selectors import webhook_source_live_secrets
from core import crypto
from tests.factories import CustomerFactory, field_error_codes, webhook_source_create_for
from tests.support.vendors import VendorApi

pytestmark = pytest.mark.django_db

NOW = "2026-03-10T12:00:00Z"
NOW_DT = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)


@pytest.fixture
def customer(vendor_api: VendorApi) -> Customer:
    return CustomerFactory.create(vendor=vendor_api.vendor)


def source_body(customer: Customer, **overrides: Any) -> dict[str, Any]:
    return {"name": "Zendesk", "kind": "customer_system", "customer_id": str(customer.pk), **overrides}


# --- webhook sources: create and read -------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_create_source_shows_its_signing_secret_once(vendor_api: VendorApi, customer: Customer) -> None:
    response = vendor_api.client.post("/api/v1/webhook-sources", source_body(customer), format="json")

    assert response.status_code == 201
    source = WebhookSource.objects.get()
    secret = response.json()["signing_secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert response.json() == {
        "id": str(source.pk),
        "name": "Zendesk",
        "kind": "customer_system",
        "customer_id": str(customer.pk),
        "endpoint": f"/webhooks/v1/sources/{source.pk}/events",
        "secrets": [{"hint": secret[-4:], "created_at": NOW, "expires_at": None}],
        "created_at": NOW,
        "revoked_at": None,
        "approval_status": "awaiting_customer_approval",
        "approved_at": None,
        "approved_by": "",
        "signing_secret": secret,
    }
    stored = WebhookSecret.objects.get()
    assert secret not in stored.secret_encrypted
    assert crypto.decrypt(stored.secret_encrypted) == secret
    assert AuditEntry.objects.filter(action="webhook_source.created", object_id=str(source.pk)).count() == 1


def test_reading_a_source_never_returns_its_secret(vendor_api: VendorApi, customer: Customer) -> None:
    source, secret = webhook_source_create_for(customer)

    detail = vendor_api.client.get(f"/api/v1/webhook-sources/{source.pk}")
    listed = vendor_api.client.get("/api/v1/webhook-sources")

    assert detail.status_code == 200
    assert listed.status_code == 200
    assert "signing_secret" not in detail.json()
    assert [s["id"] for s in listed.json()["results"]] == [str(source.pk)]
    for response in (detail, listed):
        assert secret not in response.content.decode()
        assert secret.removeprefix("whsec_") not in response.content.decode()


def test_list_sources_of_one_customer(vendor_api: VendorApi, customer: Customer) -> None:
    other_customer = CustomerFactory.create(vendor=vendor_api.vendor)
    source, _ = webhook_source_create_for(customer)
    webhook_source_create_for(other_customer)

    response = vendor_api.client.get("/api/v1/webhook-sources", {"customer_id": str(customer.pk)})
    unknown = vendor_api.client.get("/api/v1/webhook-sources", {"customer_id": str(uuid.uuid4())})

    assert [s["id"] for s in response.json()["results"]] == [str(source.pk)]
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    ("overrides", "expected_field_errors"),
    [
        ({"kind": "crm"}, {"kind": ["invalid_choice"]}),
        ({"name": ""}, {"name": ["blank"]}),
        ({"name": "x" * 101}, {"name": ["max_length"]}),
        ({"customer_id": "acme"}, {"customer_id": ["invalid"]}),
        ({"customer_id": str(uuid.UUID(int=1))}, {"customer_id": ["not_found"]}),
    ],
)
def test_create_source_with_invalid_input_is_400_and_creates_nothing(
    vendor_api: VendorApi,
    customer: Customer,
    overrides: dict[str, Any],
    expected_field_errors: dict[str, list[str]],
) -> None:
    response = vendor_api.client.post(
        "/api/v1/webhook-sources", source_body(customer, **overrides), format="json"
    )

    assert response.status_code == 400
    assert field_error_codes(response.json()) == expected_field_errors
    assert not WebhookSource.objects.exists()
    assert not WebhookSecret.objects.exists()


def test_retrieve_an_unknown_source_is_404(vendor_api: VendorApi) -> None:
    response = vendor_api.client.get(f"/api/v1/webhook-sources/{uuid.uuid4()}")

    assert response.status_code == 404
    assert response.json() == {
        "status": 404,
        "code": "not_found",
        "message": "No such webhook source.",
        "field_errors": {},
    }


# --- webhook sources: rotate and revoke -----------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_rotate_adds_a_secret_and_lets_the_old_one_expire_after_the_overlap(
    vendor_api: VendorApi, customer: Customer
) -> None:
    source, old_secret = webhook_source_create_for(customer, approved=False)

    response = vendor_api.client.post(
        f"/api/v1/webhook-sources/{source.pk}/rotate-secret", {"overlap_seconds": 3600}, format="json"
    )

    assert response.status_code == 200
    new_secret = response.json()["signing_secret"]
    assert new_secret.startswith("whsec_")
    assert new_secret != old_secret
    assert response.json()["webhook_source"]["secrets"] == [
        {"hint": new_secret[-4:], "created_at": NOW, "expires_at": None},
        {"hint": old_secret[-4:], "created_at": NOW, "expires_at": "2026-03-10T13:00:00Z"},
    ]
    source.refresh_from_db()
    assert webhook_source_live_secrets(source=source, at=NOW_DT + dt.timedelta(minutes=59)) == [
        new_secret,
        old_secret,
    ]
    assert webhook_source_live_secrets(source=source, at=NOW_DT + dt.timedelta(hours=1)) == [new_secret]
    assert AuditEntry.objects.get(action="webhook_source.secret_rotated").details == {"overlap_seconds": 3600}


@time_machine.travel(NOW, tick=False)
def test_rotate_without_an_overlap_keeps_old_secrets_for_a_day(
    vendor_api: VendorApi, customer: Customer
) -> None:
    source, _ = webhook_source_create_for(customer, approved=False)

    response = vendor_api.client.post(f"/api/v1/webhook-sources/{source.pk}/rotate-secret")

    assert response.status_code == 200
    assert [s["expires_at"] for s in response.json()["webhook_source"]["secrets"]] == [
        None,
        "2026-03-11T12:00:00Z",
    ]


@time_machine.travel(NOW, tick=False)
def test_a_second_rotation_never_extends_an_older_secret(vendor_api: VendorApi, customer: Customer) -> None:
    source, _ = webhook_source_create_for(customer, approved=False)
    url = f"/api/v1/webhook-sources/{source.pk}/rotate-secret"
    vendor_api.client.post(url, {"overlap_seconds": 3600}, format="json")

    response = vendor_api.client.post(url, {"overlap_seconds": 60}, format="json")

    assert [s["expires_at"] for s in response.json()["webhook_source"]["secrets"]] == [
        None,
        "2026-03-10T12:01:00Z",
        "2026-03-10T12:01:00Z",
    ]


@pytest.mark.parametrize(
    ("overlap", "code"),
    [(-1, "min_value"), (30 * 86400 + 1, "max_value"), ("soon", "invalid"), (None, "null")],
)
def test_rotate_with_an_overlap_out_of_range_is_400_and_changes_nothing(
    vendor_api: VendorApi, customer: Customer, overlap: object, code: str
) -> None:
    source, _ = webhook_source_create_for(customer)
    secrets_before = list(WebhookSecret.objects.values())

    response = vendor_api.client.post(
        f"/api/v1/webhook-sources/{source.pk}/rotate-secret", {"overlap_seconds": overlap}, format="json"
    )

    assert response.status_code == 400
    assert field_error_codes(response.json()) == {"overlap_seconds": [code]}
    assert list(WebhookSecret.objects.values()) == secrets_before


@time_machine.travel(NOW, tick=False)
def test_revoke_a_source_then_repeat_it(vendor_api: VendorApi, customer: Customer) -> None:
    source, _ = webhook_source_create_for(customer)
    url = f"/api/v1/webhook-sources/{source.pk}/revoke"

    first = vendor_api.client.post(url)
    with time_machine.travel("2026-03-11T00:00:00Z", tick=False):
        again = vendor_api.client.post(url)

    assert (first.status_code, first.json()["revoked_at"]) == (200, NOW)
    assert (again.status_code, again.json()["revoked_at"]) == (200, NOW)
    assert AuditEntry.objects.filter(action="webhook_source.revoked").count() == 1


def test_rotate_a_revoked_source_is_409_and_adds_no_secret(vendor_api: VendorApi, customer: Customer) -> None:
    source, _ = webhook_source_create_for(customer, approved=False)
    vendor_api.client.post(f"/api/v1/webhook-sources/{source.pk}/revoke")

    response = vendor_api.client.post(f"/api/v1/webhook-sources/{source.pk}/rotate-secret")

    assert response.status_code == 409
    assert response.json() == {
        "status": 409,
        "code": "source_revoked",
        "message": "This source is revoked; create a new one.",
        "field_errors": {},
    }
    assert WebhookSecret.objects.filter(source=source).count() == 1
    assert WebhookSecret.objects.get(source=source).expires_at is None


# --- API keys -------------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_create_key_shows_it_once_and_it_works(vendor_api: VendorApi) -> None:
    response = vendor_api.client.post("/api/v1/api-keys", {"name": "CI"}, format="json")

    assert response.status_code == 201
    api_key = ApiKey.objects.get(name="CI")
    raw = response.json()["key"]
    assert re.fullmatch(rf"vrt_{api_key.prefix}_[A-Za-z0-9_-]{{43}}", raw)
    assert response.json() == {
        "id": str(api_key.pk),
        "name": "CI",
        "prefix": api_key.prefix,
        "display": f"vrt_{api_key.prefix}_…",
        "customer_id": None,
        "scope": "write",
        "created_at": NOW,
        "last_used_at": None,
        "revoked_at": None,
        "key": raw,
    }
    assert raw.rsplit("_", 1)[-1] not in api_key.secret_hash
    assert api_key.vendor == vendor_api.vendor
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/customers").status_code == 200


def test_create_a_read_only_key(vendor_api: VendorApi) -> None:
    response = vendor_api.client.post(
        "/api/v1/api-keys", {"name": "Dashboards", "scope": "read"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["scope"] == "read"
    assert ApiKey.objects.get(name="Dashboards").scope == ApiKey.Scope.READ


@pytest.mark.parametrize(
    ("body", "expected_field_errors"),
    [
        ({}, {"name": ["required"]}),
        ({"name": "CI", "scope": "admin"}, {"scope": ["invalid_choice"]}),
        ({"name": "x" * 101}, {"name": ["max_length"]}),
    ],
)
def test_create_key_with_invalid_input_is_400_and_creates_nothing(
    vendor_api: VendorApi, body: dict[str, Any], expected_field_errors: dict[str, list[str]]
) -> None:
    response = vendor_api.client.post("/api/v1/api-keys", body, format="json")

    assert response.status_code == 400
    assert field_error_codes(response.json()) == expected_field_errors
    assert ApiKey.objects.count() == 1


def test_list_and_retrieve_keys_never_show_the_secret(vendor_api: VendorApi) -> None:
    created = vendor_api.client.post("/api/v1/api-keys", {"name": "CI"}, format="json").json()

    listed = vendor_api.client.get("/api/v1/api-keys")
    detail = vendor_api.client.get(f"/api/v1/api-keys/{created['id']}")

    shown_once = {name: value for name, value in created.items() if name != "key"}
    assert listed.status_code == 200
    assert [k for k in listed.json()["results"] if k["id"] == created["id"]] == [shown_once]
    assert {k["name"] for k in listed.json()["results"]} == {"tests", "CI"}
    assert (detail.status_code, detail.json()) == (200, shown_once)
    assert created["key"] not in listed.content.decode() + detail.content.decode()


@time_machine.travel(NOW, tick=False)
def test_a_key_records_when_it_was_last_used(vendor_api: VendorApi) -> None:
    vendor_api.client.get("/api/v1/customers")

    vendor_api.api_key.refresh_from_db()
    assert vendor_api.api_key.last_used_at == NOW_DT


@time_machine.travel(NOW, tick=False)
def test_a_revoked_key_is_refused_with_401(vendor_api: VendorApi) -> None:
    created = vendor_api.client.post("/api/v1/api-keys", {"name": "CI"}, format="json").json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {created['key']}")

    revoked = vendor_api.client.post(f"/api/v1/api-keys/{created['id']}/revoke")
    refused = client.get("/api/v1/customers")

    assert (revoked.status_code, revoked.json()["revoked_at"]) == (200, NOW)
    assert refused.status_code == 401
    assert refused.json() == {
        "status": 401,
        "code": "authentication_failed",
        "message": "Unknown or revoked API key.",
        "field_errors": {},
    }
    assert vendor_api.client.get("/api/v1/customers").status_code == 200


def test_a_key_can_revoke_itself_and_is_refused_afterwards(vendor_api: VendorApi) -> None:
    response = vendor_api.client.post(f"/api/v1/api-keys/{vendor_api.api_key.pk}/revoke")

    assert response.status_code == 200
    assert vendor_api.client.get("/api/v1/customers").status_code == 401


@time_machine.travel(NOW, tick=False)
def test_revoking_a_revoked_key_changes_nothing(vendor_api: VendorApi) -> None:
    created = vendor_api.client.post("/api/v1/api-keys", {"name": "CI"}, format="json").json()
    url = f"/api/v1/api-keys/{created['id']}/revoke"
    vendor_api.client.post(url)

    with time_machine.travel("2026-03-11T00:00:00Z", tick=False):
        again = vendor_api.client.post(url)

    assert (again.status_code, again.json()["revoked_at"]) == (200, NOW)
    assert AuditEntry.objects.filter(action="api_key.revoked").count() == 1


@pytest.mark.parametrize(("method", "suffix"), [("get", ""), ("post", "/revoke")])
def test_an_unknown_key_is_404(vendor_api: VendorApi, method: str, suffix: str) -> None:
    response = getattr(vendor_api.client, method)(f"/api/v1/api-keys/{uuid.uuid4()}{suffix}")

    assert response.status_code == 404
    assert response.json() == {
        "status": 404,
        "code": "not_found",
        "message": "No such API key.",
        "field_errors": {},
    }
    assert ApiKey.objects.filter(revoked_at__isnull=False).count() == 0

"""The webhook endpoint API: a vendor registers endpoints (its own and its customers'), a customer its own
with its key; secrets shown once and rotated with an overlap; the delivery log with its attempts; resends
of one event or everything since a time; a test event to one endpoint only."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient
from standardwebhooks import Webhook

from contracts.models import AuditEntry, Customer
from contracts.services.credentials import api_key_create
from core import crypto
from core.errors import ValidationFailed
from notifications.models import Attempt, Delivery, DeliveryStatus, Endpoint, EndpointSecret, Event
from notifications.services.endpoints import endpoint_create
from tests.factories import CustomerFactory, field_error_codes
from tests.support.vendors import VendorApi

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
URL = "https://hooks.example.com/verity"


@pytest.fixture(autouse=True)
def _frozen_clock() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def customer_client(customer: Customer) -> APIClient:
    _, raw = api_key_create(vendor=customer.vendor, name="theirs", actor="system", customer=customer)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def create(client: APIClient, path: str = "/api/v1/webhook-endpoints", **body: Any) -> dict[str, Any]:
    response = client.post(path, {"url": URL, **body}, format="json")
    assert response.status_code == 201, response.content
    created: dict[str, Any] = response.json()
    return created


def event_make(
    endpoint: Endpoint, *, type: str = "invoice.finalized", at: dt.datetime = NOW, **fields: Any
) -> Event:
    """An outbox event as the dispatcher leaves it once fanned out."""
    return Event.objects.create(
        type=type,
        vendor_id=endpoint.vendor_id,
        customer_id=fields.pop("customer_id", endpoint.customer_id),
        object_id=str(uuid.uuid4()),
        data={},
        occurred_at=at,
        created_at=at,
        **{"fanned_out": True, **fields},
    )


def delivery_make(endpoint: Endpoint, event: Event, **fields: Any) -> Delivery:
    return Delivery.objects.create(event=event, endpoint=endpoint, created_at=event.created_at, **fields)


# --- registering ----------------------------------------------------------------------------------


def test_a_vendor_registers_its_endpoint_and_sees_the_secret_only_once(vendor_api: VendorApi) -> None:
    body = create(vendor_api.client, description="ERP", event_types=["invoice.finalized", "invoice.paid"])

    endpoint = Endpoint.objects.get()
    secret = body.pop("signing_secret")
    assert secret.startswith("whsec_")
    assert body == {
        "id": str(endpoint.pk),
        "url": URL,
        "description": "ERP",
        "event_types": ["invoice.finalized", "invoice.paid"],
        "customer_id": None,
        "registered_by": "vendor",
        "state": "enabled",
        "disabled_at": None,
        "disabled_reason": "",
        "failing_since": None,
        "consecutive_failures": 0,
        "last_success_at": None,
        "secrets": [
            {"hint": f"whsec_…{secret[-4:]}", "created_at": "2026-03-10T12:00:00Z", "expires_at": None}
        ],
        "created_at": "2026-03-10T12:00:00Z",
        "updated_at": "2026-03-10T12:00:00Z",
    }
    stored = EndpointSecret.objects.get()
    assert crypto.decrypt(stored.secret_encrypted) == secret
    assert secret not in stored.secret_encrypted
    # Read back, the endpoint never shows its secret again.
    again = vendor_api.client.get(f"/api/v1/webhook-endpoints/{endpoint.pk}")
    assert again.status_code == 200
    assert secret not in again.content.decode()
    assert again.json() == body
    entry = AuditEntry.objects.get(action="webhook_endpoint.created")
    assert (entry.actor, entry.object_id) == (f"api_key:{vendor_api.api_key.prefix}", str(endpoint.pk))


def test_a_vendor_registers_an_endpoint_for_one_of_its_customers(vendor_api: VendorApi) -> None:
    customer = CustomerFactory.create(vendor=vendor_api.vendor)

    body = create(vendor_api.client, customer_id=str(customer.pk), event_types=["invoice.finalized"])

    assert (body["customer_id"], body["registered_by"]) == (str(customer.pk), "vendor")
    listed = vendor_api.client.get("/api/v1/webhook-endpoints", {"customer_id": str(customer.pk)}).json()
    assert [item["id"] for item in listed["results"]] == [body["id"]]
    assert "signing_secret" not in listed["results"][0]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"url": "ftp://hooks.example.com/x"}, {"url": ["invalid_url"]}),
        ({"url": "hooks.example.com/x"}, {"url": ["invalid_url"]}),
        ({"url": "https://user:pw@hooks.example.com/x"}, {"url": ["credentials_in_url"]}),
        ({"url": "https://hooks.example.com:99999/x"}, {"url": ["invalid_url"]}),
        ({"url": "https://hooks.example.com/" + "x" * 2000}, {"url": ["max_length"]}),
        (
            {"event_types": ["invoice.paid", "invoice.nope", "nope"]},
            {"event_types[1]": ["unknown_event_type"], "event_types[2]": ["unknown_event_type"]},
        ),
        ({"customer_id": str(uuid.uuid4())}, {"customer_id": ["not_found"]}),
    ],
    ids=["ftp", "relative", "credentials", "port", "too-long", "unknown-types", "unknown-customer"],
)
def test_a_refused_registration_names_the_field_and_creates_nothing(
    vendor_api: VendorApi, body: dict[str, Any], errors: dict[str, list[str]]
) -> None:
    response = vendor_api.client.post("/api/v1/webhook-endpoints", {"url": URL, **body}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field_error_codes(response.json()) == errors
    assert not Endpoint.objects.exists()
    assert not EndpointSecret.objects.exists()
    assert not AuditEntry.objects.filter(action="webhook_endpoint.created").exists()


def test_plain_http_is_refused_where_https_is_required(
    vendor_api: VendorApi, settings: SettingsWrapper
) -> None:
    settings.WEBHOOKS_OUT_REQUIRE_HTTPS = True

    refused = vendor_api.client.post(
        "/api/v1/webhook-endpoints", {"url": "http://hooks.example.com/"}, format="json"
    )
    accepted = vendor_api.client.post("/api/v1/webhook-endpoints", {"url": URL}, format="json")

    assert refused.status_code == 400
    assert field_error_codes(refused.json()) == {"url": ["https_required"]}
    assert accepted.status_code == 201
    assert Endpoint.objects.count() == 1


def test_another_vendors_customer_cannot_be_given_an_endpoint(
    vendor_api: VendorApi, other_vendor_api: VendorApi
) -> None:
    theirs = CustomerFactory.create(vendor=other_vendor_api.vendor)

    response = vendor_api.client.post(
        "/api/v1/webhook-endpoints", {"url": URL, "customer_id": str(theirs.pk)}, format="json"
    )

    assert response.status_code == 400
    assert field_error_codes(response.json()) == {"customer_id": ["not_found"]}
    assert not Endpoint.objects.exists()


def test_a_customer_endpoint_may_not_subscribe_to_a_vendor_only_type(vendor_api: VendorApi) -> None:
    customer = CustomerFactory.create(vendor=vendor_api.vendor)

    response = vendor_api.client.post(
        "/api/v1/webhook-endpoints",
        {"url": URL, "customer_id": str(customer.pk), "event_types": ["invoice.paid", "endpoint.disabled"]},
        format="json",
    )

    assert response.status_code == 400
    assert field_error_codes(response.json()) == {"event_types[1]": ["not_for_customers"]}
    assert not Endpoint.objects.exists()


# --- changing, rotating, enabling, deleting ---------------------------------------------------------


def test_a_vendor_changes_an_endpoints_types_and_url(vendor_api: VendorApi) -> None:
    created = create(vendor_api.client)

    response = vendor_api.client.patch(
        f"/api/v1/webhook-endpoints/{created['id']}",
        {"url": "https://new.example.com/hook", "event_types": ["invoice.paid"]},
        format="json",
    )

    assert response.status_code == 200
    assert (response.json()["url"], response.json()["event_types"]) == (
        "https://new.example.com/hook",
        ["invoice.paid"],
    )
    assert response.json()["secrets"] == created["secrets"]
    entry = AuditEntry.objects.get(action="webhook_endpoint.updated")
    assert entry.details == {"changed": ["event_types", "url"]}


def test_a_rotation_returns_the_new_secret_once_and_both_sign_during_the_overlap(
    vendor_api: VendorApi,
) -> None:
    created = create(vendor_api.client)
    old = created["signing_secret"]

    response = vendor_api.client.post(
        f"/api/v1/webhook-endpoints/{created['id']}/rotate-secret", {"overlap_seconds": 3600}, format="json"
    )

    assert response.status_code == 200
    new = response.json()["signing_secret"]
    assert new.startswith("whsec_")
    assert new != old
    assert response.json()["webhook_endpoint"]["secrets"] == [
        {"hint": f"whsec_…{new[-4:]}", "created_at": "2026-03-10T12:00:00Z", "expires_at": None},
        {
            "hint": f"whsec_…{old[-4:]}",
            "created_at": "2026-03-10T12:00:00Z",
            "expires_at": "2026-03-10T13:00:00Z",
        },
    ]
    # Read back: neither secret in clear.
    shown = vendor_api.client.get(f"/api/v1/webhook-endpoints/{created['id']}").content.decode()
    assert old not in shown
    assert new not in shown


def test_a_rotation_without_an_overlap_keeps_the_old_secret_for_the_configured_hours(
    vendor_api: VendorApi, settings: SettingsWrapper
) -> None:
    settings.WEBHOOKS_OUT_SECRET_OVERLAP_HOURS = 24.0
    created = create(vendor_api.client)

    response = vendor_api.client.post(
        f"/api/v1/webhook-endpoints/{created['id']}/rotate-secret", {}, format="json"
    )

    assert response.status_code == 200
    expiries = sorted(str(s.expires_at) for s in EndpointSecret.objects.all())
    assert expiries == ["2026-03-11 12:00:00+00:00", "None"]


def test_enabling_a_disabled_endpoint_starts_its_failure_count_again(vendor_api: VendorApi) -> None:
    created = create(vendor_api.client)
    Endpoint.objects.filter(pk=created["id"]).update(
        disabled_at=NOW - dt.timedelta(hours=1),
        disabled_reason="Every delivery failed for 72 hours (at least 10 attempts).",
        failing_since=NOW - dt.timedelta(days=4),
        consecutive_failures=12,
    )
    disabled = vendor_api.client.get(f"/api/v1/webhook-endpoints/{created['id']}").json()
    assert (disabled["state"], disabled["consecutive_failures"]) == ("disabled", 12)

    response = vendor_api.client.post(f"/api/v1/webhook-endpoints/{created['id']}/enable")
    again = vendor_api.client.post(f"/api/v1/webhook-endpoints/{created['id']}/enable")

    assert response.status_code == again.status_code == 200
    body = response.json()
    assert (body["state"], body["disabled_at"], body["disabled_reason"]) == ("enabled", None, "")
    assert (body["failing_since"], body["consecutive_failures"]) == (None, 0)
    # The second enable found nothing disabled: one audit entry.
    assert AuditEntry.objects.filter(action="webhook_endpoint.enabled").count() == 1


def test_deleting_an_endpoint_removes_its_log_and_nothing_else(vendor_api: VendorApi) -> None:
    kept, gone = create(vendor_api.client), create(vendor_api.client)
    gone_endpoint, kept_endpoint = Endpoint.objects.get(pk=gone["id"]), Endpoint.objects.get(pk=kept["id"])
    event = event_make(gone_endpoint)
    delivery_make(gone_endpoint, event)
    delivery_make(kept_endpoint, event)

    response = vendor_api.client.delete(f"/api/v1/webhook-endpoints/{gone['id']}")

    assert response.status_code == 204
    assert list(Endpoint.objects.values_list("pk", flat=True)) == [kept_endpoint.pk]
    assert list(Delivery.objects.values_list("endpoint_id", flat=True)) == [kept_endpoint.pk]
    assert Event.objects.count() == 1
    assert vendor_api.client.get(f"/api/v1/webhook-endpoints/{gone['id']}").status_code == 404


# --- the delivery log and resends -------------------------------------------------------------------


def test_the_delivery_log_shows_each_delivery_with_its_attempts(vendor_api: VendorApi) -> None:
    endpoint = Endpoint.objects.get(pk=create(vendor_api.client)["id"])
    event = event_make(endpoint, at=NOW - dt.timedelta(minutes=10))
    delivery = delivery_make(
        endpoint,
        event,
        status=DeliveryStatus.PENDING,
        attempts=2,
        last_status_code=503,
        next_attempt_at=NOW + dt.timedelta(minutes=5),
        last_attempt_at=NOW - dt.timedelta(minutes=1),
    )
    for minutes, code, error, excerpt in [(9, None, "connect timeout", ""), (1, 503, "", "busy")]:
        Attempt.objects.create(
            delivery=delivery,
            endpoint=endpoint,
            at=NOW - dt.timedelta(minutes=minutes),
            status_code=code,
            succeeded=False,
            latency_ms=120,
            error=error,
            response_excerpt=excerpt,
        )

    response = vendor_api.client.get(f"/api/v1/webhook-endpoints/{endpoint.pk}/deliveries")

    assert response.status_code == 200
    assert response.json()["results"] == [
        {
            "id": delivery.pk,
            "webhook_id": event.webhook_id,
            "event_type": "invoice.finalized",
            "event_created_at": "2026-03-10T11:50:00Z",
            "status": "pending",
            "attempts": 2,
            "next_attempt_at": "2026-03-10T12:05:00Z",
            "last_attempt_at": "2026-03-10T11:59:00Z",
            "last_status_code": 503,
            "created_at": "2026-03-10T11:50:00Z",
            "attempt_log": [
                {
                    "at": "2026-03-10T11:59:00Z",
                    "status_code": 503,
                    "succeeded": False,
                    "latency_ms": 120,
                    "error": "",
                    "response_excerpt": "busy",
                    "manual": False,
                },
                {
                    "at": "2026-03-10T11:51:00Z",
                    "status_code": None,
                    "succeeded": False,
                    "latency_ms": 120,
                    "error": "connect timeout",
                    "response_excerpt": "",
                    "manual": False,
                },
            ],
        }
    ]
    assert (
        vendor_api.client.get(
            f"/api/v1/webhook-endpoints/{endpoint.pk}/deliveries", {"status": "succeeded"}
        ).json()["results"]
        == []
    )


def test_resending_a_failed_delivery_makes_it_due_now_with_the_same_webhook_id(vendor_api: VendorApi) -> None:
    endpoint = Endpoint.objects.get(pk=create(vendor_api.client)["id"])
    event = event_make(endpoint, at=NOW - dt.timedelta(days=3))
    delivery = delivery_make(endpoint, event, status=DeliveryStatus.FAILED, attempts=11)

    response = vendor_api.client.post(
        f"/api/v1/webhook-endpoints/{endpoint.pk}/deliveries/{delivery.pk}/resend"
    )

    assert response.status_code == 202
    assert (response.json()["id"], response.json()["webhook_id"]) == (delivery.pk, event.webhook_id)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.next_attempt_at, delivery.attempts) == (DeliveryStatus.PENDING, NOW, 11)
    assert (Delivery.objects.count(), Event.objects.count()) == (1, 1)


def test_nothing_is_resent_to_a_disabled_endpoint(vendor_api: VendorApi) -> None:
    endpoint = Endpoint.objects.get(pk=create(vendor_api.client)["id"])
    delivery = delivery_make(endpoint, event_make(endpoint), status=DeliveryStatus.CANCELLED)
    Endpoint.objects.filter(pk=endpoint.pk).update(disabled_at=NOW, disabled_reason="Failing.")
    base = f"/api/v1/webhook-endpoints/{endpoint.pk}"

    answers = [
        vendor_api.client.post(f"{base}/deliveries/{delivery.pk}/resend"),
        vendor_api.client.post(f"{base}/resend", {"since": "2026-03-01T00:00:00Z"}, format="json"),
        vendor_api.client.post(f"{base}/test"),
    ]

    assert [(a.status_code, a.json()["code"]) for a in answers] == [(409, "endpoint_disabled")] * 3
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.CANCELLED
    assert (Delivery.objects.count(), Event.objects.count()) == (1, 1)


def test_resend_since_remakes_existing_deliveries_and_creates_the_missing_ones(vendor_api: VendorApi) -> None:
    customer, neighbour = CustomerFactory.create_batch(2, vendor=vendor_api.vendor)
    endpoint = Endpoint.objects.get(pk=create(vendor_api.client, customer_id=str(customer.pk))["id"])
    before = event_make(endpoint, at=NOW - dt.timedelta(days=2))
    failed = event_make(endpoint, at=NOW - dt.timedelta(hours=20))
    missed = event_make(endpoint, at=NOW - dt.timedelta(hours=10))  # while the endpoint was disabled
    delivered = event_make(endpoint, at=NOW - dt.timedelta(hours=5))
    event_make(endpoint, at=NOW - dt.timedelta(hours=3), customer_id=neighbour.pk)  # another customer's
    event_make(
        endpoint, at=NOW - dt.timedelta(hours=3), type="endpoint.disabled", customer_id=None
    )  # vendor only
    event_make(endpoint, at=NOW - dt.timedelta(hours=2), fanned_out=False)  # the dispatcher's to place
    delivery_make(endpoint, before, status=DeliveryStatus.FAILED)
    delivery_make(endpoint, failed, status=DeliveryStatus.FAILED, attempts=11)
    delivery_make(endpoint, delivered, status=DeliveryStatus.SUCCEEDED, attempts=1)

    response = vendor_api.client.post(
        f"/api/v1/webhook-endpoints/{endpoint.pk}/resend", {"since": "2026-03-09T12:00:00Z"}, format="json"
    )

    assert response.status_code == 202
    assert response.json() == {"deliveries": 3}
    states = dict(Delivery.objects.values_list("event_id", "status"))
    assert states == {
        before.pk: DeliveryStatus.FAILED,
        failed.pk: DeliveryStatus.PENDING,
        missed.pk: DeliveryStatus.PENDING,
        delivered.pk: DeliveryStatus.PENDING,
    }
    assert set(
        Delivery.objects.filter(status=DeliveryStatus.PENDING).values_list("next_attempt_at", flat=True)
    ) == {NOW}


def test_resend_since_a_future_instant_is_refused(vendor_api: VendorApi) -> None:
    endpoint_id = create(vendor_api.client)["id"]

    response = vendor_api.client.post(
        f"/api/v1/webhook-endpoints/{endpoint_id}/resend", {"since": "2026-03-11T00:00:00Z"}, format="json"
    )

    assert response.status_code == 400
    assert field_error_codes(response.json()) == {"since": ["in_future"]}
    assert not AuditEntry.objects.filter(action="webhook_endpoint.resent_since").exists()


def test_a_test_event_goes_to_that_endpoint_only(vendor_api: VendorApi) -> None:
    target = create(vendor_api.client)
    create(vendor_api.client)  # subscribed to every type, it must not get someone else's test

    response = vendor_api.client.post(f"/api/v1/webhook-endpoints/{target['id']}/test")

    assert response.status_code == 202
    event = Event.objects.get()
    assert (event.type, event.object_id, event.customer_id, event.fanned_out) == (
        "webhook.test",
        target["id"],
        None,
        True,
    )
    assert event.data == {
        "message": "A test event from Verity: this endpoint receives and can verify deliveries.",
        "url": URL,
    }
    delivery = Delivery.objects.get()
    assert (str(delivery.endpoint_id), delivery.status, delivery.next_attempt_at) == (
        target["id"],
        "pending",
        NOW,
    )
    assert (response.json()["webhook_id"], response.json()["event_type"]) == (
        event.webhook_id,
        "webhook.test",
    )


# --- a customer's own endpoints ---------------------------------------------------------------------


def test_a_customer_manages_only_the_endpoints_it_registered(vendor_api: VendorApi) -> None:
    customer, neighbour = CustomerFactory.create_batch(2, vendor=vendor_api.vendor)
    client = customer_client(customer)
    vendors_own = create(vendor_api.client)
    for_the_customer = create(vendor_api.client, customer_id=str(customer.pk))
    neighbours = create(customer_client(neighbour), "/api/v1/customer/webhook-endpoints")

    created = create(client, "/api/v1/customer/webhook-endpoints", event_types=["invoice.finalized"])

    assert (created["customer_id"], created["registered_by"]) == (str(customer.pk), "customer")
    assert created["signing_secret"].startswith("whsec_")
    listed = client.get("/api/v1/customer/webhook-endpoints").json()["results"]
    assert [item["id"] for item in listed] == [created["id"]]
    for other in (vendors_own, for_the_customer, neighbours):
        response = client.get(f"/api/v1/customer/webhook-endpoints/{other['id']}")
        assert (response.status_code, response.json()["code"]) == (404, "not_found")
    # The vendor sees the customer's endpoint among its own.
    vendor_listed = vendor_api.client.get("/api/v1/webhook-endpoints").json()["results"]
    assert created["id"] in {item["id"] for item in vendor_listed}
    entry = AuditEntry.objects.get(action="webhook_endpoint.created", object_id=created["id"])
    assert entry.vendor_id == vendor_api.vendor.pk


def test_a_customer_key_cannot_subscribe_to_vendor_only_types_nor_name_a_customer(
    vendor_api: VendorApi,
) -> None:
    customer, neighbour = CustomerFactory.create_batch(2, vendor=vendor_api.vendor)
    client = customer_client(customer)

    refused = client.post(
        "/api/v1/customer/webhook-endpoints",
        {"url": URL, "event_types": ["endpoint.disabled"]},
        format="json",
    )
    # customer_id is not part of the customer's body: the endpoint is always its own.
    own = create(client, "/api/v1/customer/webhook-endpoints", customer_id=str(neighbour.pk))

    assert field_error_codes(refused.json()) == {"event_types[0]": ["not_for_customers"]}
    assert own["customer_id"] == str(customer.pk)
    assert Endpoint.objects.count() == 1


def test_a_customer_sends_a_test_event_and_reads_its_delivery_log(vendor_api: VendorApi) -> None:
    customer = CustomerFactory.create(vendor=vendor_api.vendor)
    client = customer_client(customer)
    created = create(client, "/api/v1/customer/webhook-endpoints")
    base = f"/api/v1/customer/webhook-endpoints/{created['id']}"

    sent = client.post(f"{base}/test")
    log = client.get(f"{base}/deliveries")
    rotated = client.post(f"{base}/rotate-secret", {"overlap_seconds": 0}, format="json")

    assert sent.status_code == 202
    assert [d["id"] for d in log.json()["results"]] == [sent.json()["id"]]
    assert Event.objects.get().customer_id == customer.pk
    assert rotated.status_code == 200
    assert rotated.json()["webhook_endpoint"]["secrets"] == [
        {
            "hint": f"whsec_…{rotated.json()['signing_secret'][-4:]}",
            "created_at": "2026-03-10T12:00:00Z",
            "expires_at": None,
        }
    ]


def test_a_vendor_key_is_refused_on_the_customer_routes_and_a_customer_key_on_the_vendors(
    vendor_api: VendorApi,
) -> None:
    customer = CustomerFactory.create(vendor=vendor_api.vendor)
    client = customer_client(customer)

    as_vendor = vendor_api.client.post("/api/v1/customer/webhook-endpoints", {"url": URL}, format="json")
    as_customer = client.post("/api/v1/webhook-endpoints", {"url": URL}, format="json")

    assert (as_vendor.status_code, as_vendor.json()["code"]) == (403, "permission_denied")
    assert (as_customer.status_code, as_customer.json()["code"]) == (403, "permission_denied")
    assert not Endpoint.objects.exists()


def test_a_given_secret_is_stored_as_given_and_signs_for_a_standard_webhooks_library(
    vendor_api: VendorApi,
) -> None:
    """endpoint_create(secret=...), the demo's fixed secret: kept exactly as given."""
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    endpoint, shown = endpoint_create(vendor=vendor_api.vendor, url=URL, secret=secret, actor="system")

    assert shown == secret
    stored = crypto.decrypt(EndpointSecret.objects.get(endpoint=endpoint).secret_encrypted)
    signature = Webhook(stored).sign("msg_1", timezone.now(), "{}")
    assert (
        Webhook(secret).verify(
            "{}",
            {
                "webhook-id": "msg_1",
                "webhook-timestamp": str(int(NOW.timestamp())),
                "webhook-signature": signature,
            },
        )
        == {}
    )


@pytest.mark.parametrize("secret", ["whsec_short", "not-whsec", "whsec_!!!!", "whsec_" + "A" * 200])
def test_a_given_secret_that_is_not_a_standard_webhooks_secret_is_refused(
    vendor_api: VendorApi, secret: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        endpoint_create(vendor=vendor_api.vendor, url=URL, secret=secret, actor="system")

    assert refused.value.field_errors == {
        "secret": [
            {"code": "invalid_secret", "message": "A secret is whsec_ followed by base64 of 24 to 64 bytes."}
        ]
    }
    assert not Endpoint.objects.exists()

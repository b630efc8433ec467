"""Tenant isolation of the webhook endpoint API, over every route the URL resolver gives notifications.api:
another vendor's key, and another customer's key (of the same vendor or another), find none of an
endpoint's routes (404, never 403, so its existence does not leak) and change nothing. A customer's key
does not reach the endpoints its vendor registered, even those registered for it.

Each refused request is replayed by the owner, who is served: the 404 comes from the tenancy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine
from django.urls import URLPattern
from django.utils import timezone
from rest_framework.test import APIClient

from contracts.models import Customer
from contracts.services.credentials import api_key_create
from notifications.api import urls as notifications_api_urls
from notifications.models import Delivery, Endpoint, Event
from notifications.services.endpoints import endpoint_create
from tests.factories import CustomerFactory
from tests.support.estate import db_fingerprint
from tests.support.vendors import VendorApi, make_vendor_api

pytestmark = pytest.mark.django_db

NOW = "2026-03-10T12:00:00Z"


def api_operations() -> set[tuple[str, str]]:
    """Every (METHOD, route) of notifications.api.urls, e.g. ("POST", "webhook-endpoints/{endpoint_id}/test")."""
    operations = set()
    for pattern in notifications_api_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        view_class = pattern.callback.view_class  # type: ignore[attr-defined]
        route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))
        operations |= {
            (method.upper(), route)
            for method in ("get", "post", "put", "patch", "delete")
            if hasattr(view_class, method)
        }
    return operations


def customer_client(customer: Customer) -> APIClient:
    _, raw = api_key_create(vendor=customer.vendor, name="theirs", actor="system", customer=customer)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@dataclass
class Tenant:
    """A vendor with a key, one customer with a key, and an endpoint of each kind, each with a delivery."""

    api: VendorApi
    customer: APIClient
    endpoints: dict[str, Endpoint]  # "vendor", "for_customer" (the vendor's, for it), "customer" (its own)
    deliveries: dict[str, Delivery]


def tenant(api: VendorApi | None = None) -> Tenant:
    api = api or make_vendor_api()
    customer = CustomerFactory.create(vendor=api.vendor)
    registrations: dict[str, dict[str, Any]] = {
        "vendor": {},
        "for_customer": {"customer": customer},
        "customer": {"customer": customer, "registered_by": Endpoint.Owner.CUSTOMER},
    }
    endpoints, deliveries = {}, {}
    now = timezone.now()
    for name, fields in registrations.items():
        endpoint, _ = endpoint_create(
            vendor=api.vendor, url=f"https://hooks.example.com/{name}", actor="system", **fields
        )
        event = Event.objects.create(
            type="invoice.finalized",
            vendor_id=api.vendor.pk,
            customer_id=customer.pk,
            object_id=name,
            data={},
            occurred_at=now,
            created_at=now,
            fanned_out=True,
        )
        endpoints[name] = endpoint
        deliveries[name] = Delivery.objects.create(
            event=event, endpoint=endpoint, status="failed", created_at=now
        )
    return Tenant(api=api, customer=customer_client(customer), endpoints=endpoints, deliveries=deliveries)


@pytest.fixture(autouse=True)
def _frozen_clock() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


@dataclass(frozen=True)
class Call:
    method: str
    route: str  # under /api/v1/, with {endpoint_id} and maybe {delivery_id}
    body: dict[str, Any] | None = None
    owner_status: int = 200

    def url(self, owner: Tenant, endpoint: str) -> str:
        return "/api/v1/" + self.route.format(
            endpoint_id=owner.endpoints[endpoint].pk, delivery_id=owner.deliveries[endpoint].pk
        )

    def send(self, client: APIClient, url: str) -> Any:
        if self.method == "GET":
            return client.get(url)
        return getattr(client, self.method.lower())(url, self.body, format="json")

    def __str__(self) -> str:
        return f"{self.method} {self.route}"


def calls(prefix: str) -> list[Call]:
    base = prefix + "webhook-endpoints/{endpoint_id}"
    return [
        Call("GET", base),
        Call("PATCH", base, {"description": "Renamed"}),
        Call("DELETE", base, owner_status=204),
        Call("POST", base + "/rotate-secret", {"overlap_seconds": 60}),
        Call("POST", base + "/enable"),
        Call("GET", base + "/deliveries"),
        Call("POST", base + "/deliveries/{delivery_id}/resend", owner_status=202),
        Call("POST", base + "/resend", {"since": "2026-03-01T00:00:00Z"}, owner_status=202),
        Call("POST", base + "/test", owner_status=202),
    ]


VENDOR_CALLS = calls("")
CUSTOMER_CALLS = calls("customer/")
NOT_FOUND = {"status": 404, "code": "not_found", "message": "No such webhook endpoint.", "field_errors": {}}


def assert_refused_and_unchanged(client: APIClient, call: Call, url: str) -> None:
    before = db_fingerprint()
    response = call.send(client, url)
    assert response.status_code == 404, (str(call), url, response.content)
    assert response.json() == NOT_FOUND
    assert db_fingerprint() == before


@pytest.mark.parametrize("call", VENDOR_CALLS, ids=str)
@pytest.mark.parametrize("endpoint", ["vendor", "for_customer", "customer"])
def test_another_vendors_key_finds_none_of_a_vendors_endpoints(call: Call, endpoint: str) -> None:
    owner, stranger = tenant(), tenant()
    url = call.url(owner, endpoint)

    assert_refused_and_unchanged(stranger.api.client, call, url)
    assert call.send(owner.api.client, url).status_code == call.owner_status


@pytest.mark.parametrize("call", CUSTOMER_CALLS, ids=str)
def test_another_customers_key_finds_none_of_a_customers_endpoints(call: Call) -> None:
    owner = tenant()
    neighbour = tenant(owner.api)  # another customer of the same vendor
    stranger = tenant()  # a customer of another vendor
    url = call.url(owner, "customer")

    assert_refused_and_unchanged(neighbour.customer, call, url)
    assert_refused_and_unchanged(stranger.customer, call, url)
    assert call.send(owner.customer, url).status_code == call.owner_status


@pytest.mark.parametrize("call", CUSTOMER_CALLS, ids=str)
@pytest.mark.parametrize("endpoint", ["vendor", "for_customer"])
def test_a_customers_key_finds_none_of_the_endpoints_its_vendor_registered(call: Call, endpoint: str) -> None:
    owner = tenant()

    assert_refused_and_unchanged(owner.customer, call, call.url(owner, endpoint))


def test_the_lists_show_none_of_another_tenants_endpoints() -> None:
    owner = tenant()
    neighbour, stranger = tenant(owner.api), tenant()

    vendor_list = stranger.api.client.get("/api/v1/webhook-endpoints", {"limit": 200}).json()["results"]
    customer_list = neighbour.customer.get("/api/v1/customer/webhook-endpoints", {"limit": 200}).json()[
        "results"
    ]

    assert {item["id"] for item in vendor_list} == {str(e.pk) for e in stranger.endpoints.values()}
    assert [item["id"] for item in customer_list] == [str(neighbour.endpoints["customer"].pk)]
    # Filtering by another vendor's customer is a 404, not an empty list that confirms nothing.
    filtered = stranger.api.client.get(
        "/api/v1/webhook-endpoints", {"customer_id": str(owner.endpoints["customer"].customer_id)}
    )
    assert (filtered.status_code, filtered.json()["code"]) == (404, "not_found")


def test_the_matrix_covers_every_route_and_method() -> None:
    covered = {(call.method, call.route) for call in VENDOR_CALLS + CUSTOMER_CALLS}
    covered |= {
        (method, route)
        for route in ("webhook-endpoints", "customer/webhook-endpoints")
        for method in (
            "GET",
            "POST",
        )  # the lists and creates: the test above and tests/notifications/test_api.py
    }

    assert covered == api_operations()

"""Tenant isolation: by every route of the vendor API, another vendor's key finds none of a vendor's
objects (404, never 403, so their existence does not leak) and changes nothing; by the customer routes
of contracts.api, another customer's key (of the same vendor or another) finds none of a customer's
webhook sources, and a customer's key none of the vendor's agent sources.

Each refused request is replayed with the owner's key, which is served: the 404 comes from the
tenancy, not from a request that would have failed anyway.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine

from contracts.models import ApiKey, Contract, Customer, Vendor, WebhookSource
from contracts.services.contracts import contract_activate, contract_suspend
from contracts.services.credentials import api_key_create
from tests.factories import (
    CustomerFactory,
    amendment_payload,
    contract_create_for,
    contract_payload,
    field_error_codes,
    vendor_api_operations,
    vendor_rows,
    version_terms,
    webhook_source_create_for,
)
from tests.support.vendors import VendorApi, customer_api_client

pytestmark = pytest.mark.django_db

NOW = "2026-03-10T12:00:00Z"


@pytest.fixture(autouse=True)
def _frozen_clock() -> Iterator[None]:
    # Autouse fixtures are set up first, so the vendors, their keys and their estates share this instant.
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def _keys_already_used(_frozen_clock: None, vendor_api: VendorApi, other_vendor_api: VendorApi) -> None:
    # A key stamps its last use at most once a minute; stamped now, it stays put under the frozen clock.
    for api in (vendor_api, other_vendor_api):
        assert api.client.get("/api/v1/api-keys").status_code == 200


def estate_of(vendor: Vendor) -> dict[str, str]:
    """One object of each kind and state; two vendors' estates share every external ref and reference."""
    customer = CustomerFactory.create(vendor=vendor, external_ref="acme")
    spare = CustomerFactory.create(vendor=vendor, external_ref="spare")  # nothing refers to it
    draft = contract_create_for(customer, reference="DRAFT")
    active = contract_create_for(customer, reference="ACTIVE")
    contract_activate(contract=active, actor="system")
    suspended = contract_create_for(customer, reference="SUSPENDED")
    contract_activate(contract=suspended, actor="system")
    contract_suspend(contract=suspended, actor="system")
    source, _ = webhook_source_create_for(customer, approved=False)  # the vendor's: awaiting approval
    agent, _ = webhook_source_create_for(customer, kind=WebhookSource.Kind.VENDOR_AGENT)
    api_key, _ = api_key_create(vendor=vendor, name="CI", actor="system")
    return {
        "customer": str(customer.pk),
        "spare_customer": str(spare.pk),
        "draft_contract": str(draft.pk),
        "active_contract": str(active.pk),
        "suspended_contract": str(suspended.pk),
        "version_1": "1",
        "source": str(source.pk),
        "agent_source": str(agent.pk),
        "api_key": str(api_key.pk),
    }


@pytest.fixture
def estate(vendor_api: VendorApi) -> dict[str, str]:
    return estate_of(vendor_api.vendor)


@pytest.fixture
def other_estate(other_vendor_api: VendorApi) -> dict[str, str]:
    return estate_of(other_vendor_api.vendor)


def send(client: Any, method: str, url: str, body: dict[str, Any] | None) -> Any:
    if method == "GET":
        return client.get(url, body or {})
    return getattr(client, method.lower())(url, body, format="json")


# --- every route that names one of the vendor's objects --------------------------------------


NOT_FOUND_MESSAGES = {
    "customers": "No such customer.",
    "contracts": "No such contract.",
    "webhook-sources": "No such webhook source.",
    "api-keys": "No such API key.",
    "customer": "No such webhook source.",  # /api/v1/customer/webhook-sources/...
}


@dataclass(frozen=True)
class ObjectCall:
    method: str
    route: str
    targets: dict[str, str]  # path parameter -> the estate's object
    body: dict[str, Any] | None = None
    owner_status: int = 200

    @property
    def not_found_message(self) -> str:
        return NOT_FOUND_MESSAGES[self.route.split("/")[3]]

    def url(self, estate: dict[str, str]) -> str:
        return self.route.format(**{param: estate[target] for param, target in self.targets.items()})

    def __str__(self) -> str:
        return f"{self.method} {self.route}"


CUSTOMER = {"customer_id": "spare_customer"}
DRAFT = {"contract_id": "draft_contract"}
ACTIVE = {"contract_id": "active_contract"}
SUSPENDED = {"contract_id": "suspended_contract"}
SOURCE = {"source_id": "source"}
API_KEY = {"api_key_id": "api_key"}

OBJECT_CALLS = [
    ObjectCall("GET", "/api/v1/customers/{customer_id}", CUSTOMER),
    ObjectCall("PATCH", "/api/v1/customers/{customer_id}", CUSTOMER, {"name": "Renamed"}),
    ObjectCall("DELETE", "/api/v1/customers/{customer_id}", CUSTOMER, owner_status=204),
    ObjectCall("POST", "/api/v1/customers/{customer_id}/api-keys", CUSTOMER, {"name": "Their key"}, 201),
    ObjectCall("GET", "/api/v1/contracts/{contract_id}", DRAFT),
    ObjectCall("PATCH", "/api/v1/contracts/{contract_id}", DRAFT, {"reference": "RENAMED"}),
    ObjectCall("GET", "/api/v1/contracts/{contract_id}/versions", DRAFT),
    ObjectCall(
        "POST", "/api/v1/contracts/{contract_id}/versions", ACTIVE, amendment_payload("2026-04-01"), 201
    ),
    ObjectCall("GET", "/api/v1/contracts/{contract_id}/versions/{number}", {**DRAFT, "number": "version_1"}),
    ObjectCall(
        "PUT",
        "/api/v1/contracts/{contract_id}/versions/{number}",
        {**DRAFT, "number": "version_1"},
        version_terms(platform_fee_minor=0),
    ),
    ObjectCall(
        "GET", "/api/v1/contracts/{contract_id}/version-in-force", ACTIVE, {"at": "2026-02-01T00:00:00Z"}
    ),
    ObjectCall("POST", "/api/v1/contracts/{contract_id}/activate", DRAFT),
    ObjectCall("POST", "/api/v1/contracts/{contract_id}/suspend", ACTIVE),
    ObjectCall("POST", "/api/v1/contracts/{contract_id}/resume", SUSPENDED),
    ObjectCall("POST", "/api/v1/contracts/{contract_id}/terminate", ACTIVE),
    ObjectCall("GET", "/api/v1/webhook-sources/{source_id}", SOURCE),
    ObjectCall("POST", "/api/v1/webhook-sources/{source_id}/rotate-secret", SOURCE, {"overlap_seconds": 60}),
    ObjectCall("POST", "/api/v1/webhook-sources/{source_id}/revoke", SOURCE),
    ObjectCall("GET", "/api/v1/api-keys/{api_key_id}", API_KEY),
    ObjectCall("POST", "/api/v1/api-keys/{api_key_id}/revoke", API_KEY),
]


@pytest.mark.parametrize("call", OBJECT_CALLS, ids=str)
def test_another_vendors_object_is_not_found_and_unchanged(
    vendor_api: VendorApi, other_vendor_api: VendorApi, estate: dict[str, str], call: ObjectCall
) -> None:
    url = call.url(estate)
    before = vendor_rows(vendor_api.vendor)
    other_before = vendor_rows(other_vendor_api.vendor)

    response = send(other_vendor_api.client, call.method, url, call.body)

    assert response.status_code == 404
    assert response.json() == {
        "status": 404,
        "code": "not_found",
        "message": call.not_found_message,
        "field_errors": {},
    }
    assert vendor_rows(vendor_api.vendor) == before
    assert vendor_rows(other_vendor_api.vendor) == other_before
    assert send(vendor_api.client, call.method, url, call.body).status_code == call.owner_status


# --- a customer's key: its own systems of record only ----------------------------------------


CUSTOMER_CALLS = [
    ObjectCall("POST", "/api/v1/customer/webhook-sources/{source_id}/approve", SOURCE),
    ObjectCall(
        "POST", "/api/v1/customer/webhook-sources/{source_id}/rotate-secret", SOURCE, {"overlap_seconds": 60}
    ),
]


def listed_by(client: Any) -> list[str]:
    response = client.get("/api/v1/customer/webhook-sources")
    assert response.status_code == 200
    return [item["id"] for item in response.json()["results"]]


@pytest.mark.parametrize("call", CUSTOMER_CALLS, ids=str)
def test_another_customers_key_finds_none_of_a_customers_sources(
    vendor_api: VendorApi, estate: dict[str, str], other_estate: dict[str, str], call: ObjectCall
) -> None:
    owner, neighbour, stranger = (
        customer_api_client(Customer.objects.get(pk=pk))
        for pk in (estate["customer"], estate["spare_customer"], other_estate["customer"])
    )
    # Each key lists its own customer's systems of record: never the vendor's agent, nor another's.
    assert listed_by(owner) == [estate["source"]]
    assert listed_by(neighbour) == []
    assert listed_by(stranger) == [other_estate["source"]]
    before = vendor_rows(vendor_api.vendor)
    agent_url = call.route.format(source_id=estate["agent_source"])

    for client, url in ((neighbour, call.url(estate)), (stranger, call.url(estate)), (owner, agent_url)):
        response = send(client, call.method, url, call.body)
        assert response.status_code == 404, url
        assert response.json() == {
            "status": 404,
            "code": "not_found",
            "message": call.not_found_message,
            "field_errors": {},
        }
    assert vendor_rows(vendor_api.vendor) == before
    assert send(owner, call.method, call.url(estate), call.body).status_code == call.owner_status


# --- lists ----------------------------------------------------------------------------------


LIST_QUERIES: list[tuple[str, dict[str, str]]] = [
    ("/api/v1/customers", {}),
    ("/api/v1/customers", {"external_ref": "acme"}),
    ("/api/v1/customers", {"search": "Customer"}),
    ("/api/v1/contracts", {}),
    ("/api/v1/contracts", {"reference": "ACTIVE"}),
    ("/api/v1/contracts", {"status": "suspended"}),
    ("/api/v1/contracts", {"in_force_at": "2026-02-01T00:00:00Z"}),
    ("/api/v1/webhook-sources", {}),
    ("/api/v1/api-keys", {}),
]

OWN_ROWS = {
    "/api/v1/customers": Customer,
    "/api/v1/contracts": Contract,
    "/api/v1/webhook-sources": WebhookSource,
    "/api/v1/api-keys": ApiKey,
}


@pytest.mark.parametrize(("path", "query"), LIST_QUERIES, ids=[f"{p} {q}" for p, q in LIST_QUERIES])
def test_a_list_shows_none_of_another_vendors_objects(
    vendor_api: VendorApi,
    other_vendor_api: VendorApi,
    estate: dict[str, str],
    other_estate: dict[str, str],
    path: str,
    query: dict[str, str],
) -> None:
    mine = {
        str(pk)
        for pk in OWN_ROWS[path]
        ._default_manager.filter(vendor=vendor_api.vendor)
        .values_list("pk", flat=True)
    }

    response = other_vendor_api.client.get(path, query)

    assert response.status_code == 200
    listed = {item["id"] for item in response.json()["results"]}
    assert listed  # the other vendor's own objects match the same filters
    assert listed.isdisjoint(mine)
    assert (
        OWN_ROWS[path]._default_manager.filter(pk__in=listed).exclude(vendor=other_vendor_api.vendor).count()
        == 0
    )


def test_filtering_contracts_by_another_vendors_customer_lists_nothing(
    vendor_api: VendorApi, other_vendor_api: VendorApi, estate: dict[str, str], other_estate: dict[str, str]
) -> None:
    response = other_vendor_api.client.get("/api/v1/contracts", {"customer_id": estate["customer"]})

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_filtering_sources_by_another_vendors_customer_is_not_found(
    vendor_api: VendorApi, other_vendor_api: VendorApi, estate: dict[str, str], other_estate: dict[str, str]
) -> None:
    response = other_vendor_api.client.get("/api/v1/webhook-sources", {"customer_id": estate["customer"]})

    assert response.status_code == 404
    assert response.json() == {
        "status": 404,
        "code": "not_found",
        "message": "No such customer.",
        "field_errors": {},
    }


# --- creates --------------------------------------------------------------------------------


def contract_body(customer_id: str) -> dict[str, Any]:
    return {**contract_payload(CustomerFactory.build()), "customer_id": customer_id, "reference": "NEW"}


def source_body(customer_id: str) -> dict[str, Any]:
    return {"name": "Helpdesk", "kind": "customer_system", "customer_id": customer_id}


@pytest.mark.parametrize(
    ("path", "body_for"),
    [("/api/v1/contracts", contract_body), ("/api/v1/webhook-sources", source_body)],
    ids=["POST /api/v1/contracts", "POST /api/v1/webhook-sources"],
)
def test_a_create_for_another_vendors_customer_is_400_and_creates_nothing(
    vendor_api: VendorApi,
    other_vendor_api: VendorApi,
    estate: dict[str, str],
    path: str,
    body_for: Any,
) -> None:
    before = vendor_rows(vendor_api.vendor)
    other_before = vendor_rows(other_vendor_api.vendor)

    response = other_vendor_api.client.post(path, body_for(estate["customer"]), format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field_error_codes(response.json()) == {"customer_id": ["not_found"]}
    assert vendor_rows(vendor_api.vendor) == before
    assert vendor_rows(other_vendor_api.vendor) == other_before
    assert vendor_api.client.post(path, body_for(estate["customer"]), format="json").status_code == 201


def test_moving_a_draft_to_another_vendors_customer_is_400_and_changes_nothing(
    vendor_api: VendorApi, other_vendor_api: VendorApi, estate: dict[str, str], other_estate: dict[str, str]
) -> None:
    before = vendor_rows(other_vendor_api.vendor)

    response = other_vendor_api.client.patch(
        f"/api/v1/contracts/{other_estate['draft_contract']}",
        {"customer_id": estate["customer"]},
        format="json",
    )

    assert response.status_code == 400
    assert field_error_codes(response.json()) == {"customer_id": ["not_found"]}
    assert vendor_rows(other_vendor_api.vendor) == before


def test_a_customer_may_reuse_another_vendors_external_ref(
    vendor_api: VendorApi, other_vendor_api: VendorApi, estate: dict[str, str]
) -> None:
    mine = Customer.objects.filter(vendor=vendor_api.vendor).order_by("pk")
    before = list(mine.values())

    response = other_vendor_api.client.post(
        "/api/v1/customers",
        {"name": "Acme", "external_ref": "acme", "billing_email": "ap@acme.test"},
        format="json",
    )

    assert response.status_code == 201
    assert Customer.objects.get(pk=response.json()["id"]).vendor == other_vendor_api.vendor
    assert list(mine.values()) == before


def test_a_contract_may_reuse_another_vendors_reference(
    vendor_api: VendorApi, other_vendor_api: VendorApi, estate: dict[str, str]
) -> None:
    own_customer = CustomerFactory.create(vendor=other_vendor_api.vendor)

    response = other_vendor_api.client.post(
        "/api/v1/contracts", contract_payload(own_customer, reference="ACTIVE"), format="json"
    )

    assert response.status_code == 201
    assert Contract.objects.get(pk=response.json()["id"]).vendor == other_vendor_api.vendor


def test_a_key_created_by_another_vendor_serves_only_that_vendor(
    vendor_api: VendorApi, other_vendor_api: VendorApi, estate: dict[str, str]
) -> None:
    created = other_vendor_api.client.post("/api/v1/api-keys", {"name": "CI 2"}, format="json")
    other_vendor_api.client.credentials(HTTP_AUTHORIZATION=f"Bearer {created.json()['key']}")

    response = other_vendor_api.client.get(f"/api/v1/customers/{estate['customer']}")

    assert created.status_code == 201
    assert ApiKey.objects.get(pk=created.json()["id"]).vendor == other_vendor_api.vendor
    assert response.status_code == 404


# --- the matrix is complete -----------------------------------------------------------------


def test_the_matrix_covers_every_route_and_method() -> None:
    covered = {(call.method, call.route) for call in OBJECT_CALLS}
    covered |= {("GET", path) for path, _ in LIST_QUERIES}
    covered |= {("POST", path) for path in OWN_ROWS}  # the creates above
    covered |= {(call.method, call.route) for call in CUSTOMER_CALLS}
    # A customer's list (above) and create (tests/contracts/test_customer_sources.py).
    covered |= {("GET", "/api/v1/customer/webhook-sources"), ("POST", "/api/v1/customer/webhook-sources")}

    assert covered == set(vendor_api_operations()) | set(vendor_api_operations(customer=True))

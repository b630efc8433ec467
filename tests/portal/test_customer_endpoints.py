"""The customer's own webhook endpoints in the portal (Settings, an endpoint's page): its delivery log
(attempts, status codes, latency, response excerpts), editing its description, event types and state, a
test event, resending one event or everything since a time. The vendor's endpoint page and services,
with the customer's routes: admins change, approvers and viewers read, and only the customer's own
endpoints and the events about it are there."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import Client

from contracts.models import AuditEntry, Customer, CustomerRole
from notifications.models import Attempt, Delivery, DeliveryStatus, Endpoint, Event
from notifications.services.endpoints import endpoint_create
from tests.factories import CustomerFactory
from tests.portal.test_contracts import errors_beside
from tests.support.estate import db_fingerprint
from tests.support.portal import make_customer_member, signed_in

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
ENDPOINTS = "/customer/settings/endpoints/"


@pytest.fixture(autouse=True)
def _frozen_clock() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def own_endpoint(customer: Customer, **fields: Any) -> Endpoint:
    endpoint, _ = endpoint_create(
        vendor=customer.vendor,
        customer=customer,
        registered_by=Endpoint.Owner.CUSTOMER,
        url="https://erp.buyer.test/verity",
        actor="test",
        **fields,
    )
    return endpoint


def delivered(endpoint: Endpoint, customer: Customer, *, type_: str = "invoice.finalized") -> Delivery:
    """An event about `customer`, delivered to `endpoint` after a failed first attempt."""
    at = NOW - dt.timedelta(minutes=30)
    event = Event.objects.create(
        type=type_,
        vendor_id=customer.vendor_id,
        customer_id=customer.pk,
        object_id="42",
        data={},
        occurred_at=at,
        created_at=at,
        fanned_out=True,
    )
    delivery = Delivery.objects.create(
        event=event, endpoint=endpoint, status=DeliveryStatus.SUCCEEDED, attempts=2, created_at=at
    )
    for minutes, code, excerpt in ((0, 503, "try later"), (5, 200, "ok, stored")):
        Attempt.objects.create(
            delivery=delivery,
            endpoint=endpoint,
            at=at + dt.timedelta(minutes=minutes),
            status_code=code,
            succeeded=code == 200,
            latency_ms=140 + minutes,
            response_excerpt=excerpt,
        )
    return delivery


def person(customer: Customer, role: str = CustomerRole.ADMIN) -> Client:
    return signed_in(make_customer_member(customer=customer, role=role))


def test_the_endpoints_page_shows_its_delivery_log_and_only_its_own() -> None:
    customer = CustomerFactory.create()
    endpoint = own_endpoint(customer, description="ERP")
    delivery = delivered(endpoint, customer)
    vendors = endpoint_create(vendor=customer.vendor, url="https://hooks.vendor.test/", actor="t")[0]
    theirs = delivered(
        vendors, customer, type_="invoice.paid"
    )  # the vendor's endpoint's log, not the customer's
    admin = person(customer)

    listing = admin.get("/customer/settings/").content.decode()
    assert f'href="{ENDPOINTS}{endpoint.pk}/"' in listing
    assert str(vendors.pk) not in listing
    page = admin.get(f"{ENDPOINTS}{endpoint.pk}/").content.decode()
    assert "invoice.finalized" in page
    assert delivery.event.webhook_id in page
    for text in ("HTTP 503", "140 ms", "try later", "HTTP 200", "145 ms", "ok, stored"):
        assert text in page
    assert theirs.event.webhook_id not in page
    assert f"{ENDPOINTS}{endpoint.pk}/deliveries/{delivery.pk}/resend/" in page
    # Not the customer's own: the vendor's endpoint (even one for this customer) and its deliveries.
    for_customer = endpoint_create(
        vendor=customer.vendor, customer=customer, url="https://hooks.vendor.test/c", actor="t"
    )[0]
    for other in (vendors, for_customer):
        assert admin.get(f"{ENDPOINTS}{other.pk}/").status_code == 404
    assert admin.post(f"{ENDPOINTS}{endpoint.pk}/deliveries/{theirs.pk}/resend/").status_code == 404


def test_an_admin_edits_the_description_event_types_and_state() -> None:
    customer = CustomerFactory.create()
    endpoint = own_endpoint(customer)
    admin = person(customer)
    edit = f"{ENDPOINTS}{endpoint.pk}/edit/"

    saved = admin.post(
        edit,
        {
            "description": "Finance ERP",
            "event_types": ["invoice.paid", "invoice.finalized"],
            "enabled": "false",
        },
    )

    assert saved.status_code == 302
    assert saved["Location"] == f"{ENDPOINTS}{endpoint.pk}/"
    endpoint.refresh_from_db()
    assert (endpoint.description, endpoint.event_types, endpoint.is_enabled) == (
        "Finance ERP",
        ["invoice.paid", "invoice.finalized"],
        False,
    )
    page = admin.get(f"{ENDPOINTS}{endpoint.pk}/").content.decode()
    assert 'value="invoice.paid" checked' in page
    assert 'value="invoice.contested"' in page  # a type customers receive, offered
    assert 'value="dispute.deadline_approaching"' not in page  # the vendor's only: not offered
    enabled = admin.post(edit, {"description": "Finance ERP", "enabled": ["false", "true"]})
    assert enabled.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.event_types, endpoint.is_enabled) == ([], True)
    actions = list(
        AuditEntry.objects.filter(object_id=str(endpoint.pk), action__startswith="webhook_endpoint.")
        .order_by("pk")
        .values_list("action", "actor")
    )
    actor = actions[-1][1]
    assert actor.startswith("customer_user:")
    assert actions[1:] == [
        ("webhook_endpoint.updated", actor),
        ("webhook_endpoint.disabled", actor),
        ("webhook_endpoint.updated", actor),
        ("webhook_endpoint.enabled", actor),
    ]


def test_an_edit_the_service_refuses_is_shown_on_the_form_and_changes_nothing() -> None:
    customer = CustomerFactory.create()
    endpoint = own_endpoint(customer, description="ERP", event_types=["invoice.paid"])
    admin = person(customer)
    before = db_fingerprint()

    refused = admin.post(
        f"{ENDPOINTS}{endpoint.pk}/edit/",
        {"description": "x" * 201, "event_types": ["dispute.deadline_approaching"], "enabled": "false"},
    )

    assert refused.status_code == 400
    page = refused.content.decode()
    assert errors_beside(page, "description", "endpoint_edit") == [
        "Ensure this field has no more than 200 characters."
    ]
    assert "Description, event types, state" in page
    assert db_fingerprint() == before
    vendor_only = admin.post(
        f"{ENDPOINTS}{endpoint.pk}/edit/",
        {"event_types": ["dispute.deadline_approaching"], "enabled": "true"},
    )
    assert vendor_only.status_code == 400
    assert "sent to the vendor&#x27;s endpoints only" in vendor_only.content.decode()
    assert db_fingerprint() == before


def test_an_admin_sends_a_test_event_and_resends_one_event_or_everything_since_a_time() -> None:
    customer = CustomerFactory.create()
    endpoint = own_endpoint(customer)
    delivery = delivered(endpoint, customer)
    admin = person(customer)
    page = f"{ENDPOINTS}{endpoint.pk}/"

    tested = admin.post(f"{page}test/", follow=True)
    assert "A webhook.test event is on its way" in tested.content.decode()
    test_delivery = Delivery.objects.get(endpoint=endpoint, event__type="webhook.test")
    assert (test_delivery.status, test_delivery.event.customer_id) == (DeliveryStatus.PENDING, customer.pk)

    resent = admin.post(f"{page}deliveries/{delivery.pk}/resend/")
    assert resent["Location"] == page
    delivery.refresh_from_db()
    assert (delivery.status, delivery.resend_requested) == (DeliveryStatus.PENDING, True)

    bad_since = admin.post(f"{page}resend-since/", {"since": "yesterday"})
    assert bad_since.status_code == 400
    assert 'id="f-since-errors"><li>' in bad_since.content.decode()
    since = admin.post(f"{page}resend-since/", {"since": "2026-03-10T00:00"}, follow=True)
    assert "2 events will be sent again." in since.content.decode()
    actions = (
        AuditEntry.objects.filter(object_id=str(endpoint.pk)).order_by("pk").values_list("action", flat=True)
    )
    assert list(actions)[1:] == [
        "webhook_endpoint.test_sent",
        "webhook_endpoint.event_resent",
        "webhook_endpoint.resent_since",
    ]


def test_approvers_and_viewers_read_the_page_and_change_nothing() -> None:
    customer = CustomerFactory.create()
    endpoint = own_endpoint(customer)
    delivery = delivered(endpoint, customer)
    clients = {role: person(customer, role) for role in (CustomerRole.APPROVER, CustomerRole.VIEWER)}
    before = db_fingerprint()
    for role, client in clients.items():
        page = client.get(f"{ENDPOINTS}{endpoint.pk}/").content.decode()
        assert "ok, stored" in page
        assert "<form" not in page.split("<main", 1)[-1].split("</main>", 1)[0]
        for suffix, body in (
            ("edit/", {"description": "Mine now", "enabled": "false"}),
            ("test/", {}),
            ("resend-since/", {"since": "2026-03-10T00:00"}),
            (f"deliveries/{delivery.pk}/resend/", {}),
            ("disable/", {}),
        ):
            assert client.post(f"{ENDPOINTS}{endpoint.pk}/{suffix}", body).status_code == 403, (role, suffix)
    assert db_fingerprint() == before

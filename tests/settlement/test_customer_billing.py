"""A customer's side of Stripe through the API: link an existing Stripe customer (checked in Stripe), unlink it,
a link where the customer saves a card, and the card recorded when Stripe says it was saved or removed.

The real SDK against the local Stripe-compatible server; Stripe's webhooks are the events it recorded, signed
and posted to /webhooks/stripe as Stripe would.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from django.test import Client

from contracts.models import ApiKey, AuditEntry, Customer
from devtools.stripe_server import RunningServer
from tests.factories import CustomerFactory
from tests.support.stripe import (
    STRIPE_WEBHOOK_SECRET,
    stripe_customer_made_outside,
    stripe_default_payment_method,
    stripe_sdk,
)
from tests.support.vendors import VendorApi, make_vendor_api

pytestmark = pytest.mark.django_db


def link(api: VendorApi, customer: Customer, stripe_customer_id: Any) -> Any:
    return api.client.put(
        f"/api/v1/customers/{customer.pk}/stripe", {"stripe_customer_id": stripe_customer_id}, format="json"
    )


def snapshot(customer: Customer) -> tuple[str, str, int]:
    customer.refresh_from_db()
    audit = AuditEntry.objects.filter(object_id=str(customer.pk)).count()
    return customer.stripe_customer_id, customer.stripe_default_payment_method, audit


@pytest.fixture
def customer(vendor_api: VendorApi) -> Customer:
    return CustomerFactory.create(vendor=vendor_api.vendor)


# --- link -------------------------------------------------------------------------------------------


def test_linking_a_stripe_customer_with_a_card_records_that_it_can_be_charged(
    vendor_api: VendorApi, customer: Customer, stripe_api: RunningServer
) -> None:
    stripe_id = stripe_customer_made_outside(stripe_api, card="pm_card_visa")
    default = stripe_default_payment_method(stripe_api, stripe_id)

    response = link(vendor_api, customer, stripe_id)

    assert response.status_code == 200
    body = response.json()
    assert (body["stripe_customer_id"], body["stripe_default_payment_method"]) == (stripe_id, default)
    assert body["can_be_charged_automatically"] is True
    customer.refresh_from_db()
    assert (customer.stripe_customer_id, customer.stripe_default_payment_method) == (stripe_id, default)
    entry = AuditEntry.objects.get(action="customer.stripe_linked")
    assert entry.actor == f"api_key:{vendor_api.api_key.prefix}"
    assert entry.details == {
        "stripe_customer_id": stripe_id,
        "previous_stripe_customer_id": "",
        "default_payment_method": default,
    }


def test_linking_a_stripe_customer_without_a_card_says_it_cannot_be_charged(
    vendor_api: VendorApi, customer: Customer, stripe_api: RunningServer
) -> None:
    stripe_id = stripe_customer_made_outside(stripe_api)

    body = link(vendor_api, customer, stripe_id).json()

    assert (body["stripe_customer_id"], body["stripe_default_payment_method"]) == (stripe_id, "")
    assert body["can_be_charged_automatically"] is False


def test_a_stripe_customer_stripe_does_not_know_is_refused_and_nothing_changes(
    vendor_api: VendorApi, customer: Customer, stripe_api: RunningServer
) -> None:
    before = snapshot(customer)

    response = link(vendor_api, customer, "cus_doesnotexist")

    assert response.status_code == 400
    assert response.json()["field_errors"] == {
        "stripe_customer_id": [
            {"code": "stripe_customer_not_found", "message": "Stripe has no customer cus_doesnotexist."}
        ]
    }
    assert snapshot(customer) == before


def test_another_vendors_customer_is_not_found_and_stripe_is_not_asked(
    other_vendor_api: VendorApi, customer: Customer, stripe_api: RunningServer
) -> None:
    stripe_id = stripe_customer_made_outside(stripe_api, card="pm_card_visa")
    asked = len(stripe_api.admin.requests())
    before = snapshot(customer)

    linked = link(other_vendor_api, customer, stripe_id)
    unlinked = other_vendor_api.client.delete(f"/api/v1/customers/{customer.pk}/stripe")
    setup = other_vendor_api.client.post(
        f"/api/v1/customers/{customer.pk}/stripe/setup-link", {}, format="json"
    )

    assert [r.status_code for r in (linked, unlinked, setup)] == [404, 404, 404]
    assert linked.json()["code"] == "not_found"
    assert snapshot(customer) == before
    assert len(stripe_api.admin.requests()) == asked


def test_stripe_down_is_a_503_in_the_error_shape_and_nothing_changes(
    vendor_api: VendorApi, customer: Customer, stripe_api: RunningServer
) -> None:
    stripe_id = stripe_customer_made_outside(stripe_api, card="pm_card_visa")
    stripe_api.admin.add_faults({"action": "500", "method": "GET", "path": r"^/v1/customers/", "count": 10})
    before = snapshot(customer)

    response = link(vendor_api, customer, stripe_id)

    assert response.status_code == 503
    assert response.json() == {
        "status": 503,
        "code": "stripe_unavailable",
        "message": "Stripe cannot be reached right now; nothing was changed. Try again in a moment.",
        "field_errors": {},
    }
    assert snapshot(customer) == before


@pytest.mark.parametrize("value", ["", "acct_123", "cus_ with space", 42, None, "cus_" + "x" * 100])
def test_a_malformed_stripe_customer_id_is_a_field_error_without_asking_stripe(
    vendor_api: VendorApi, customer: Customer, stripe_api: RunningServer, value: Any
) -> None:
    response = link(vendor_api, customer, value)

    assert response.status_code == 400
    assert list(response.json()["field_errors"]) == ["stripe_customer_id"]
    assert stripe_api.admin.requests() == []


def test_a_stripe_customer_that_pays_for_another_customer_is_refused(
    vendor_api: VendorApi, customer: Customer, stripe_api: RunningServer
) -> None:
    theirs = CustomerFactory.create()  # another vendor's customer, linked first
    stripe_id = stripe_customer_made_outside(stripe_api, card="pm_card_visa")
    assert link(make_vendor_api(theirs.vendor), theirs, stripe_id).status_code == 200
    made_for_theirs = stripe_customer_made_outside(
        stripe_api, metadata={"verity_customer_id": str(theirs.pk)}
    )
    before = snapshot(customer)

    for taken in (stripe_id, made_for_theirs):
        response = link(vendor_api, customer, taken)
        assert response.status_code == 400
        assert response.json()["field_errors"]["stripe_customer_id"][0]["code"] == (
            "stripe_customer_linked_elsewhere"
        )
    assert snapshot(customer) == before


def test_relinking_names_the_link_it_replaces_and_the_same_link_again_changes_nothing(
    vendor_api: VendorApi, customer: Customer, stripe_api: RunningServer
) -> None:
    first, second = (
        stripe_customer_made_outside(stripe_api),
        stripe_customer_made_outside(stripe_api, card="pm_card_visa"),
    )
    link(vendor_api, customer, first)

    assert link(vendor_api, customer, second).status_code == 200
    assert link(vendor_api, customer, second).status_code == 200

    entries = AuditEntry.objects.filter(action="customer.stripe_linked").order_by("id")
    assert [e.details["previous_stripe_customer_id"] for e in entries] == ["", first]


def test_unlinking_forgets_the_stripe_customer(
    vendor_api: VendorApi, customer: Customer, stripe_api: RunningServer
) -> None:
    stripe_id = stripe_customer_made_outside(stripe_api, card="pm_card_visa")
    link(vendor_api, customer, stripe_id)

    response = vendor_api.client.delete(f"/api/v1/customers/{customer.pk}/stripe")

    assert response.status_code == 204
    customer.refresh_from_db()
    assert (customer.stripe_customer_id, customer.stripe_default_payment_method) == ("", "")
    assert AuditEntry.objects.get(action="customer.stripe_unlinked").details == {
        "stripe_customer_id": stripe_id
    }
    assert vendor_api.client.delete(f"/api/v1/customers/{customer.pk}/stripe").status_code == 204
    assert AuditEntry.objects.filter(action="customer.stripe_unlinked").count() == 1


def test_a_read_only_key_may_not_link_unlink_or_make_a_setup_link(
    vendor_api: VendorApi, customer: Customer, stripe_api: RunningServer
) -> None:
    reader = make_vendor_api(vendor_api.vendor, scope=ApiKey.Scope.READ)
    stripe_id = stripe_customer_made_outside(stripe_api)
    before = snapshot(customer)

    responses = [
        link(reader, customer, stripe_id),
        reader.client.delete(f"/api/v1/customers/{customer.pk}/stripe"),
        reader.client.post(f"/api/v1/customers/{customer.pk}/stripe/setup-link", {}, format="json"),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403]
    assert snapshot(customer) == before


# --- the card setup link and Stripe's events --------------------------------------------------------


def session_id_of(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def post_stripe_event(event: dict[str, Any]) -> Any:
    body = json.dumps(event).encode()
    timestamp = int(time.time())
    signature = hmac.new(
        STRIPE_WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return Client().post(
        "/webhooks/stripe",
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=f"t={timestamp},v1={signature}",
    )


def deliver(server: RunningServer, type_: str, capture: Any) -> None:
    """Post every event of `type_` the server recorded to Verity's endpoint, running what they enqueue."""
    for event in server.admin.events(type_):
        with capture(execute=True):
            assert post_stripe_event(event).status_code == 200


def test_a_setup_link_for_a_customer_without_stripe_makes_its_stripe_customer_first(
    vendor_api: VendorApi, customer: Customer, stripe_api: RunningServer
) -> None:
    response = vendor_api.client.post(
        f"/api/v1/customers/{customer.pk}/stripe/setup-link",
        {"success_url": "https://vendor.test/thanks", "cancel_url": "https://vendor.test/billing"},
        format="json",
    )

    assert response.status_code == 201
    customer.refresh_from_db()
    assert response.json()["stripe_customer_id"] == customer.stripe_customer_id != ""
    remote = stripe_api.admin.state()["customers"][customer.stripe_customer_id]
    assert remote["metadata"]["verity_customer_id"] == str(customer.pk)
    session = stripe_sdk(stripe_api).v1.checkout.sessions.retrieve(session_id_of(response.json()["url"]))
    assert (session.mode, session.customer, session.url) == (
        "setup",
        customer.stripe_customer_id,
        response.json()["url"],
    )
    assert (session.success_url, session.cancel_url) == (
        "https://vendor.test/thanks",
        "https://vendor.test/billing",
    )
    made = [r for r in stripe_api.admin.requests() if (r["method"], r["path"]) == ("POST", "/v1/customers")]
    assert [r["idempotency_key"] for r in made] == [f"verity:v1:customer:{customer.pk}"]
    assert AuditEntry.objects.get(action="customer.setup_link_created").details == {
        "stripe_customer_id": customer.stripe_customer_id
    }


def test_a_setup_link_defaults_to_verity_thank_you_page_and_refuses_other_urls(
    vendor_api: VendorApi, customer: Customer, stripe_api: RunningServer
) -> None:
    url = f"/api/v1/customers/{customer.pk}/stripe/setup-link"
    bad = vendor_api.client.post(url, {"success_url": "javascript:alert(1)"}, format="json")
    made = vendor_api.client.post(url)  # no body at all

    assert bad.status_code == 400
    assert bad.json()["field_errors"]["success_url"][0]["code"] == "invalid_url"
    session = stripe_sdk(stripe_api).v1.checkout.sessions.retrieve(session_id_of(made.json()["url"]))
    assert session.success_url == "http://testserver/billing/card-saved/"
    assert Client().get("/billing/card-saved/").status_code == 200


def test_a_setup_link_while_stripe_is_down_is_a_503(
    vendor_api: VendorApi, customer: Customer, stripe_api: RunningServer
) -> None:
    stripe_api.admin.add_faults(
        {"action": "500", "method": "POST", "path": r"^/v1/checkout/sessions$", "count": 10}
    )
    stripe_id = stripe_customer_made_outside(stripe_api)
    link(vendor_api, customer, stripe_id)

    response = vendor_api.client.post(f"/api/v1/customers/{customer.pk}/stripe/setup-link", {}, format="json")

    assert response.status_code == 503
    assert response.json()["code"] == "stripe_unavailable"
    assert not AuditEntry.objects.filter(action="customer.setup_link_created").exists()


def test_a_card_saved_through_the_link_becomes_the_default_and_the_customer_chargeable(
    vendor_api: VendorApi,
    customer: Customer,
    stripe_api: RunningServer,
    django_capture_on_commit_callbacks: Any,
) -> None:
    url = vendor_api.client.post(
        f"/api/v1/customers/{customer.pk}/stripe/setup-link", {}, format="json"
    ).json()["url"]
    customer.refresh_from_db()
    assert not customer.can_be_charged_automatically

    completed = stripe_api.admin.complete_checkout(session_id_of(url))
    deliver(stripe_api, "checkout.session.completed", django_capture_on_commit_callbacks)

    intent = stripe_sdk(stripe_api).v1.setup_intents.retrieve(completed["setup_intent"])
    assert stripe_default_payment_method(stripe_api, customer.stripe_customer_id) == intent.payment_method
    customer.refresh_from_db()
    assert customer.stripe_default_payment_method == intent.payment_method
    assert customer.can_be_charged_automatically
    entry = AuditEntry.objects.get(action="customer.payment_method_changed")
    assert (entry.actor, entry.details["default_payment_method"]) == ("stripe", intent.payment_method)
    set_default = [
        r for r in stripe_api.admin.requests() if r["path"] == f"/v1/customers/{customer.stripe_customer_id}"
    ]
    assert [r["idempotency_key"] for r in set_default if r["method"] == "POST"] == [
        f"verity:v1:setup_intent:{intent.id}:default"
    ]
    # Delivered again (Stripe retries): nothing new.
    deliver(stripe_api, "checkout.session.completed", django_capture_on_commit_callbacks)
    assert AuditEntry.objects.filter(action="customer.payment_method_changed").count() == 1


def test_a_setup_session_verity_did_not_make_changes_nothing(
    vendor_api: VendorApi,
    customer: Customer,
    stripe_api: RunningServer,
    django_capture_on_commit_callbacks: Any,
) -> None:
    stripe_id = stripe_customer_made_outside(stripe_api)
    link(vendor_api, customer, stripe_id)
    session = stripe_sdk(stripe_api).v1.checkout.sessions.create(
        params={"mode": "setup", "customer": stripe_id, "currency": "usd", "success_url": "https://x.test/"}
    )
    stripe_api.admin.complete_checkout(session.id)

    deliver(stripe_api, "checkout.session.completed", django_capture_on_commit_callbacks)

    assert stripe_default_payment_method(stripe_api, stripe_id) is None
    assert snapshot(customer)[1] == ""


def test_a_customer_updated_in_stripe_is_read_again_whatever_the_order_of_events(
    vendor_api: VendorApi,
    customer: Customer,
    stripe_api: RunningServer,
    django_capture_on_commit_callbacks: Any,
) -> None:
    stripe_id = stripe_customer_made_outside(stripe_api)
    link(vendor_api, customer, stripe_id)
    sdk = stripe_sdk(stripe_api)
    card = sdk.v1.payment_methods.attach("pm_card_visa", params={"customer": stripe_id}).id
    sdk.v1.customers.update(stripe_id, params={"invoice_settings": {"default_payment_method": card}})
    sdk.v1.customers.update(stripe_id, params={"invoice_settings": {"default_payment_method": ""}})
    set_event, removed_event = stripe_api.admin.events("customer.updated")[-2:]

    with django_capture_on_commit_callbacks(execute=True):
        post_stripe_event(removed_event)
    customer.refresh_from_db()
    assert customer.stripe_default_payment_method == ""

    # The older event, delivered late, says a card is set; Stripe says otherwise now.
    with django_capture_on_commit_callbacks(execute=True):
        post_stripe_event(set_event)
    customer.refresh_from_db()
    assert customer.stripe_default_payment_method == ""

    sdk.v1.customers.update(stripe_id, params={"invoice_settings": {"default_payment_method": card}})
    with django_capture_on_commit_callbacks(execute=True):
        post_stripe_event(stripe_api.admin.events("customer.updated")[-1])
    customer.refresh_from_db()
    assert customer.stripe_default_payment_method == card


def test_an_event_about_a_stripe_customer_verity_does_not_know_asks_stripe_nothing(
    stripe_api: RunningServer, django_capture_on_commit_callbacks: Any
) -> None:
    stripe_id = stripe_customer_made_outside(stripe_api)
    stripe_sdk(stripe_api).v1.customers.update(stripe_id, params={"name": "Somebody else"})
    asked = len(stripe_api.admin.requests())
    event = {
        "id": "evt_unknown_customer",
        "object": "event",
        "type": "customer.updated",
        "created": int(time.time()),
        "data": {"object": {"id": stripe_id, "object": "customer"}},
    }

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert post_stripe_event(event).status_code == 200

    assert callbacks == []
    assert len(stripe_api.admin.requests()) == asked

"""Settings > Webhooks out: endpoints added (secret shown once), the delivery log with its attempts, resends
of one event or everything since a time, a test event, rotation, deletion, and the notice of a disabled
endpoint on the dashboard and settings with its Enable button."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest
import time_machine
from django.test import Client

from contracts.models import AuditEntry
from core.crypto import decrypt
from notifications.models import Attempt, Delivery, DeliveryStatus, Endpoint, EndpointSecret, Event
from notifications.services.endpoints import endpoint_create
from tests.factories import CustomerFactory
from tests.portal.test_contracts import errors_beside
from tests.support.estate import db_fingerprint
from tests.support.portal import Member, make_member

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
URL = "https://hooks.example.com/verity"
SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]{20,}")
LIST = "/settings/webhooks-out/"


@pytest.fixture(autouse=True)
def _frozen_clock() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def endpoint_of(member: Member, **fields: Any) -> Endpoint:
    endpoint, _ = endpoint_create(vendor=member.vendor, url=URL, actor="system", **fields)
    return endpoint


def detail(endpoint: Endpoint) -> str:
    return f"{LIST}{endpoint.pk}/"


def failed_delivery(endpoint: Endpoint, *, minutes_ago: int = 30) -> Delivery:
    at = NOW - dt.timedelta(minutes=minutes_ago)
    event = Event.objects.create(
        type="invoice.finalized",
        vendor_id=endpoint.vendor_id,
        object_id="inv-1",
        data={},
        occurred_at=at,
        created_at=at,
        fanned_out=True,
    )
    delivery = Delivery.objects.create(
        event=event,
        endpoint=endpoint,
        status=DeliveryStatus.FAILED,
        attempts=2,
        last_status_code=500,
        created_at=at,
    )
    Attempt.objects.create(
        delivery=delivery,
        endpoint=endpoint,
        at=at,
        status_code=500,
        succeeded=False,
        latency_ms=87,
        response_excerpt="upstream exploded",
    )
    Attempt.objects.create(
        delivery=delivery,
        endpoint=endpoint,
        at=at + dt.timedelta(minutes=5),
        status_code=None,
        succeeded=False,
        latency_ms=5003,
        error="read timeout",
    )
    return delivery


def disable(endpoint: Endpoint) -> None:
    Endpoint.objects.filter(pk=endpoint.pk).update(
        disabled_at=NOW - dt.timedelta(hours=1),
        disabled_reason="Every delivery failed for 72 hours (at least 10 attempts).",
        failing_since=NOW - dt.timedelta(days=3, hours=2),
        consecutive_failures=14,
    )


# --- adding an endpoint ---------------------------------------------------------------------------


def test_adding_an_endpoint_shows_its_secret_once(owner_client: Client, owner: Member) -> None:
    customer = CustomerFactory.create(vendor=owner.vendor)
    assert LIST in owner_client.get("/settings/").content.decode()  # the settings sub-navigation

    response = owner_client.post(
        f"{LIST}new/",
        {
            "url": URL,
            "description": "ERP",
            "customer_id": str(customer.pk),
            "event_types": ["invoice.paid", "invoice.finalized"],
            "form_token": "t1",
        },
    )

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    content = response.content.decode()
    assert "shown only once" in content
    secret = SECRET.findall(content)[0]
    endpoint = Endpoint.objects.get(vendor=owner.vendor)
    assert (endpoint.url, endpoint.description, endpoint.customer, endpoint.event_types) == (
        URL,
        "ERP",
        customer,
        ["invoice.paid", "invoice.finalized"],
    )
    assert decrypt(EndpointSecret.objects.get(endpoint=endpoint).secret_encrypted) == secret
    listed, shown = (
        owner_client.get(LIST).content.decode(),
        owner_client.get(detail(endpoint)).content.decode(),
    )
    assert URL in listed
    assert secret not in listed
    assert secret not in shown
    assert f"whsec_…{secret[-4:]}" in shown
    assert AuditEntry.objects.get(action="webhook_endpoint.created").actor == f"user:{owner.user.email}"
    # The secret's page reloaded sends the form again: nothing is made twice.
    again = owner_client.post(f"{LIST}new/", {"url": URL, "form_token": "t1"})
    assert (again.status_code, again["Location"]) == (302, detail(endpoint))
    assert Endpoint.objects.count() == 1


def test_a_refused_endpoint_shows_the_apis_errors_beside_its_inputs(
    owner_client: Client, owner: Member
) -> None:
    response = owner_client.post(f"{LIST}new/", {"url": "ftp://hooks.example.com", "event_types": ["nope"]})

    assert response.status_code == 400
    content = response.content.decode()
    assert errors_beside(content, "url", "endpoint") == [
        "The URL must be an absolute http:// or https:// URL."
    ]
    assert errors_beside(content, "event_types", "endpoint") == []  # the URL is refused first
    assert not Endpoint.objects.exists()

    response = owner_client.post(f"{LIST}new/", {"url": URL, "event_types": ["invoice.paid", "nope"]})

    assert response.status_code == 400
    assert errors_beside(response.content.decode(), "event_types", "endpoint") == [
        "[1]: No event type 'nope'."
    ]
    assert 'value="invoice.paid" checked' in response.content.decode()  # what was ticked stays ticked
    assert not Endpoint.objects.exists()


# --- an endpoint and its delivery log --------------------------------------------------------------


def test_the_delivery_log_shows_attempts_status_codes_latency_and_excerpts(
    owner_client: Client, owner: Member
) -> None:
    endpoint = endpoint_of(owner)
    delivery = failed_delivery(endpoint)

    content = owner_client.get(detail(endpoint)).content.decode()

    assert delivery.event.webhook_id in content
    assert "invoice.finalized" in content
    assert "HTTP 500" in content
    assert "87 ms" in content
    assert "upstream exploded" in content
    assert "read timeout" in content
    assert "5003 ms" in content
    assert f"{detail(endpoint)}deliveries/{delivery.pk}/resend/" in content


def test_resend_one_delivery_from_the_log(owner_client: Client, owner: Member) -> None:
    endpoint = endpoint_of(owner)
    delivery = failed_delivery(endpoint)

    response = owner_client.post(f"{detail(endpoint)}deliveries/{delivery.pk}/resend/", follow=True)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.next_attempt_at) == (DeliveryStatus.PENDING, NOW)
    assert f"invoice.finalized ({delivery.event.webhook_id}) will be sent again." in response.content.decode()


def test_resend_everything_since_a_time(owner_client: Client, owner: Member) -> None:
    endpoint = endpoint_of(owner)
    delivery = failed_delivery(endpoint, minutes_ago=90)

    response = owner_client.post(f"{detail(endpoint)}resend/", {"since": "2026-03-10T10:00"}, follow=True)
    refused = owner_client.post(f"{detail(endpoint)}resend/", {"since": "tomorrow"})

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert "1 event will be sent again." in response.content.decode()
    assert refused.status_code == 400
    assert errors_beside(refused.content.decode(), "since") == [
        "Datetime has wrong format. Use one of these formats instead: "
        "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
    ]


def test_send_a_test_event(owner_client: Client, owner: Member) -> None:
    endpoint = endpoint_of(owner)

    response = owner_client.post(f"{detail(endpoint)}test/", follow=True)

    event = Event.objects.get()
    assert (event.type, event.object_id) == ("webhook.test", str(endpoint.pk))
    assert Delivery.objects.get().endpoint == endpoint
    assert "A webhook.test event is on its way" in response.content.decode()
    assert event.webhook_id in response.content.decode()  # its delivery is in the log


def test_edit_the_description_event_types_and_state(owner_client: Client, owner: Member) -> None:
    endpoint = endpoint_of(owner)
    edit = f"{detail(endpoint)}edit/"

    saved = owner_client.post(
        edit,
        {"description": "Billing ERP", "event_types": ["invoice.paid", "dispute.opened"], "enabled": "false"},
    )

    assert (saved.status_code, saved["Location"]) == (302, detail(endpoint))
    endpoint.refresh_from_db()
    assert (endpoint.description, endpoint.event_types, endpoint.is_enabled) == (
        "Billing ERP",
        ["invoice.paid", "dispute.opened"],
        False,
    )
    page = owner_client.get(detail(endpoint)).content.decode()
    assert 'value="invoice.paid" checked' in page
    assert 'value="dispute.deadline_approaching"' in page  # the vendor's endpoint is offered every type
    actions = list(
        AuditEntry.objects.filter(object_id=str(endpoint.pk), action__startswith="webhook_endpoint.")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions[-2:] == ["webhook_endpoint.updated", "webhook_endpoint.disabled"]


def test_an_edit_refused_is_shown_beside_its_input_and_changes_nothing(
    owner_client: Client, owner: Member
) -> None:
    endpoint = endpoint_of(owner, description="ERP", event_types=["invoice.paid"])
    before = db_fingerprint()

    refused = owner_client.post(
        f"{detail(endpoint)}edit/",
        {"description": "x" * 201, "event_types": ["no.such_type"], "enabled": "true"},
    )

    assert refused.status_code == 400
    assert errors_beside(refused.content.decode(), "description", "endpoint_edit") == [
        "Ensure this field has no more than 200 characters."
    ]
    assert db_fingerprint() == before


def test_rotate_the_secret_shows_the_new_one_once_and_the_old_one_expiring(
    owner_client: Client, owner: Member
) -> None:
    endpoint = endpoint_of(owner)
    old = EndpointSecret.objects.get()

    response = owner_client.post(
        f"{detail(endpoint)}rotate/", {"overlap_seconds": "3600", "form_token": "r1"}
    )

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    secret = SECRET.findall(response.content.decode())[0]
    assert decrypt(EndpointSecret.objects.exclude(pk=old.pk).get().secret_encrypted) == secret
    old.refresh_from_db()
    assert old.expires_at == NOW + dt.timedelta(hours=1)
    page = owner_client.get(detail(endpoint)).content.decode()
    assert secret not in page
    assert "expiring" in page.lower()


def test_delete_an_endpoint(owner_client: Client, owner: Member) -> None:
    endpoint = endpoint_of(owner)
    failed_delivery(endpoint)

    response = owner_client.post(f"{detail(endpoint)}delete/", follow=True)

    assert response.redirect_chain == [(LIST, 302)]
    assert f"Endpoint {URL} deleted" in html.unescape(response.content.decode())
    assert not Endpoint.objects.exists()
    assert not Delivery.objects.exists()
    assert owner_client.get(detail(endpoint)).status_code == 404


# --- a disabled endpoint --------------------------------------------------------------------------


def test_a_disabled_endpoint_is_noticed_on_the_dashboard_and_settings_and_enabled_from_the_list(
    owner_client: Client, owner: Member
) -> None:
    endpoint = endpoint_of(owner)
    disable(endpoint)
    reason = "Every delivery failed for 72 hours (at least 10 attempts)."

    for page in ("/", "/settings/", LIST):
        content = owner_client.get(page).content.decode()
        assert "A webhook endpoint is disabled" in content, page
        assert reason in content, page
    listed = owner_client.get(LIST).content.decode()
    assert f"{detail(endpoint)}enable/" in listed
    # Other sections stay quiet; the detail page says it itself.
    assert "A webhook endpoint is disabled" not in owner_client.get("/contracts/").content.decode()
    assert "resend what it missed" in owner_client.get(detail(endpoint)).content.decode()

    response = owner_client.post(f"{detail(endpoint)}enable/", follow=True)

    endpoint.refresh_from_db()
    assert (
        endpoint.disabled_at,
        endpoint.disabled_reason,
        endpoint.consecutive_failures,
        endpoint.failing_since,
    ) == (None, "", 0, None)
    assert "Events recorded while it was disabled were not sent" in response.content.decode()
    assert "A webhook endpoint is disabled" not in owner_client.get("/").content.decode()


def test_another_vendors_disabled_endpoint_is_not_noticed(owner_client: Client, owner: Member) -> None:
    theirs = endpoint_of(make_member())
    disable(theirs)

    assert "webhook endpoint is disabled" not in owner_client.get("/").content.decode()


# --- viewers ------------------------------------------------------------------------------------


def test_a_viewer_reads_the_log_but_has_no_controls_and_forged_posts_change_nothing(
    viewer_client: Client, viewer: Member
) -> None:
    endpoint = endpoint_of(viewer)
    delivery = failed_delivery(endpoint)
    disable(endpoint)
    before = db_fingerprint()

    page = viewer_client.get(detail(endpoint)).content.decode()
    listed = viewer_client.get(LIST).content.decode()
    posts = {
        path: viewer_client.post(
            detail(endpoint) + path, {"since": "2026-03-10T00:00", "overlap_seconds": "0"}
        ).status_code
        for path in (
            "enable/",
            "edit/",
            "delete/",
            "test/",
            "resend/",
            "rotate/",
            f"deliveries/{delivery.pk}/resend/",
        )
    }
    created = viewer_client.post(f"{LIST}new/", {"url": URL}).status_code

    assert "upstream exploded" in page
    for control in (
        "Send test event",
        "Rotate secret",
        "Delete this endpoint",
        "Resend",
        "Description, event types",
    ):
        assert control not in page
    assert "Add an endpoint" not in listed
    assert "enable/" not in listed
    assert set(posts.values()) == {403}
    assert created == 403
    assert db_fingerprint() == before


def test_several_disabled_endpoints_are_counted_in_one_notice(owner_client: Client, owner: Member) -> None:
    first, second = endpoint_of(owner), endpoint_of(owner, description="second")
    disable(first)
    disable(second)
    endpoint_of(owner)  # enabled: not counted

    content = owner_client.get("/").content.decode()

    assert content.count("webhooks-out-notice") == 1
    assert "2 webhook endpoints are disabled</strong> after failing too long, the latest:" in content

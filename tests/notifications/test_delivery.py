"""End to end through the dispatcher to the real loopback receiver: signed, verified, retried on each
failure with the same webhook-id, Retry-After honoured, redirects not followed, the right audience."""

from __future__ import annotations

import datetime as dt
import uuid

import orjson
import pytest
import time_machine
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper
from standardwebhooks import Webhook

from core.events import DomainEvent
from devtools.webhook_receiver import Failure, Receiver
from notifications import dispatch as dispatcher
from notifications.dispatch import dispatch
from notifications.models import Attempt, Delivery, DeliveryStatus, EndpointSecret, Event
from notifications.signing import secret_generate
from tests.factories import CustomerFactory, VendorFactory
from tests.notifications.conftest import SECRET, endpoint_make, publish

pytestmark = pytest.mark.django_db


def billable(vendor_id: object, customer_id: object, **data: object) -> DomainEvent:
    return DomainEvent(
        type="outcome.billable",
        vendor_id=vendor_id,
        object_id=str(uuid.uuid4()),
        customer_id=customer_id,
        contract_id=uuid.uuid4(),
        data={"state": "billable", "previous_state": "maturing", **data},
        occurred_at=timezone.now(),
    )


def test_an_event_reaches_the_vendor_endpoint_signed_in_the_standard_webhooks_envelope(
    receiver: Receiver, settings: SettingsWrapper
) -> None:
    settings.PUBLIC_BASE_URL = "https://verity.example.com"
    vendor = VendorFactory.create()
    customer = CustomerFactory.create(vendor=vendor)
    endpoint_make(vendor=vendor, url=receiver.url)
    event = billable(vendor.pk, customer.pk)
    publish(event)

    summary = dispatch()

    assert (summary.fanned_out, summary.attempts, summary.succeeded) == (1, 1, 1)
    [got] = receiver.snapshot()
    assert got.verified
    assert got.answered == "200"
    outbox = Event.objects.get()
    assert got.webhook_id == outbox.webhook_id
    # The receiver's own check, again here with the library, over the exact bytes it got.
    assert Webhook(SECRET).verify(got.body, got.headers) == got.payload
    assert got.payload == {
        "type": "outcome.billable",
        "timestamp": outbox.created_at.isoformat().replace("+00:00", "Z"),
        "data": {
            "object": "outcome",
            "id": event.object_id,
            "vendor_id": str(vendor.pk),
            "customer_id": str(customer.pk),
            "contract_id": str(event.contract_id),
            "updated_at": outbox.occurred_at.isoformat().replace("+00:00", "Z"),
            "links": {
                "portal": f"https://verity.example.com/outcomes/{event.object_id}/",
                "api": f"https://verity.example.com/api/v1/outcomes/{event.object_id}",
            },
            "state": "billable",
            "previous_state": "maturing",
        },
    }
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        DeliveryStatus.SUCCEEDED,
        1,
        200,
    )
    attempt = Attempt.objects.get()
    assert (attempt.succeeded, attempt.status_code, attempt.error, attempt.response_excerpt) == (
        True,
        200,
        "",
        '{"ok": true}',
    )

    # Dispatching again sends nothing more.
    assert dispatch().attempts == 0
    assert len(receiver.snapshot()) == 1


def test_during_a_rotation_both_secrets_sign_and_an_expired_one_does_not(receiver: Receiver) -> None:
    vendor = VendorFactory.create()
    old, new, expired = secret_generate(), secret_generate(), secret_generate()
    endpoint = endpoint_make(vendor=vendor, url=receiver.url, secrets=(old, new, expired))
    first, _, last = endpoint.secrets.order_by("id")
    EndpointSecret.objects.filter(pk=first.pk).update(expires_at=timezone.now() + dt.timedelta(hours=24))
    EndpointSecret.objects.filter(pk=last.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    receiver.reset(secrets=[old])
    publish(billable(vendor.pk, None))

    dispatch()

    [got] = receiver.snapshot()
    signatures = got.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    for secret in (old, new):
        Webhook(secret).verify(got.body, got.headers)
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(expired).verify(got.body, got.headers)
    assert got.verified


@pytest.mark.parametrize("failure", list(Failure), ids=[failure.name for failure in Failure])
def test_each_failure_is_retried_on_schedule_then_delivered_with_the_same_webhook_id(
    receiver: Receiver, failure: Failure
) -> None:
    vendor = VendorFactory.create()
    endpoint_make(vendor=vendor, url=receiver.url)
    receiver.fail_next(1, failure, sleep=1.5)
    start = timezone.now()
    with time_machine.travel(start, tick=True) as clock:
        publish(billable(vendor.pk, None))
        first = dispatch()

        assert (first.attempts, first.succeeded) == (1, 0)
        delivery = Delivery.objects.get()
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
        assert delivery.next_attempt_at is not None
        assert delivery.last_attempt_at is not None
        delay = (delivery.next_attempt_at - delivery.last_attempt_at).total_seconds()
        assert 4.5 <= delay <= 5.5  # the schedule's 5 s, ±10 %
        failed = Attempt.objects.get()
        assert failed.succeeded is False
        assert dispatch().attempts == 0  # not due yet

        clock.shift(dt.timedelta(seconds=6))
        second = dispatch()

    assert (second.attempts, second.succeeded) == (1, 1)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 2)
    got = receiver.snapshot()
    assert [item.answered for item in got] == [failure.value, "200"]
    assert got[0].webhook_id == got[1].webhook_id == Event.objects.get().webhook_id
    assert receiver.counts_by_webhook_id() == {got[0].webhook_id: 1}
    expected_error = {
        Failure.ERROR: "",
        Failure.TOO_MANY: "",
        Failure.TIMEOUT: "timed out",
        Failure.CLOSE: "connection closed without an answer",
        Failure.REDIRECT: "redirect not followed (to /moved)",
    }[failure]
    assert failed.error.startswith(expected_error)
    assert failed.status_code == {Failure.ERROR: 500, Failure.TOO_MANY: 429, Failure.REDIRECT: 307}.get(
        failure
    )


def test_a_redirect_is_not_followed(receiver: Receiver) -> None:
    vendor = VendorFactory.create()
    endpoint_make(vendor=vendor, url=receiver.url)
    receiver.fail_next(1, Failure.REDIRECT)
    publish(billable(vendor.pk, None))

    dispatch()

    assert [item.path for item in receiver.snapshot()] == ["/webhooks"]  # never /moved
    assert Delivery.objects.get().status == DeliveryStatus.PENDING


def test_retry_after_is_honoured_when_longer_than_the_schedule(receiver: Receiver) -> None:
    vendor = VendorFactory.create()
    endpoint_make(vendor=vendor, url=receiver.url)
    receiver.fail_next(1, Failure.TOO_MANY, retry_after="120")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        publish(billable(vendor.pk, None))
        dispatch()
        delivery = Delivery.objects.get()
        assert delivery.next_attempt_at == timezone.now() + dt.timedelta(seconds=120)

        clock.shift(dt.timedelta(seconds=60))  # past the schedule's 5 s, not the endpoint's 120
        assert dispatch().attempts == 0
        clock.shift(dt.timedelta(seconds=61))
        assert dispatch().succeeded == 1

    assert [item.answered for item in receiver.snapshot()] == ["429", "200"]


def test_retry_after_as_an_http_date_and_capped_at_a_day() -> None:
    now = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    from core.transport import retry_after_seconds

    assert retry_after_seconds("Sun, 01 Mar 2026 12:02:00 GMT", now=now) == 120.0
    assert retry_after_seconds("Sun, 01 Mar 2026 11:00:00 GMT", now=now) == 0.0
    assert retry_after_seconds("999999", now=now) == 86400.0
    assert retry_after_seconds("soon", now=now) is None
    assert retry_after_seconds(None, now=now) is None


def test_the_schedule_spans_about_three_days_then_the_delivery_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatcher.random, "uniform", lambda low, high: 1.0)
    delays = [
        dispatcher.retry_delay(attempts=n, retry_after=None) for n in range(1, dispatcher.MAX_ATTEMPTS + 1)
    ]

    assert delays[:7] == [
        dt.timedelta(seconds=5),
        dt.timedelta(minutes=5),
        dt.timedelta(minutes=30),
        dt.timedelta(hours=2),
        dt.timedelta(hours=5),
        dt.timedelta(hours=10),
        dt.timedelta(hours=10),
    ]
    assert delays[-1] is None
    total = sum((delay for delay in delays if delay is not None), dt.timedelta())
    assert dt.timedelta(days=2, hours=18) < total < dt.timedelta(days=3, hours=6)
    assert dispatcher.retry_delay(attempts=1, retry_after=10 * 86400) == dt.timedelta(days=1)


def test_a_delivery_fails_for_good_when_the_schedule_is_exhausted(
    receiver: Receiver, settings: SettingsWrapper
) -> None:
    settings.WEBHOOKS_OUT_DISABLE_AFTER_FAILURES = 100  # not disabled meanwhile
    vendor = VendorFactory.create()
    endpoint_make(vendor=vendor, url=receiver.url)
    receiver.fail_next(dispatcher.MAX_ATTEMPTS + 5, Failure.ERROR)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        publish(billable(vendor.pk, None))
        for _ in range(dispatcher.MAX_ATTEMPTS + 2):
            dispatch()
            clock.shift(dt.timedelta(hours=16))

    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
        DeliveryStatus.FAILED,
        dispatcher.MAX_ATTEMPTS,
        None,
    )
    assert len(receiver.snapshot()) == dispatcher.MAX_ATTEMPTS


def test_the_response_excerpt_is_truncated(receiver: Receiver, settings: SettingsWrapper) -> None:
    vendor = VendorFactory.create()
    endpoint_make(vendor=vendor, url=receiver.url)
    receiver.ok_body = {"echo": "x" * 5000}
    publish(billable(vendor.pk, None), billable(vendor.pk, None))

    dispatch(limit=1)
    settings.WEBHOOKS_OUT_RESPONSE_READ_BYTES = 20
    dispatch()

    first, second = Attempt.objects.order_by("id")
    assert first.succeeded
    assert second.succeeded
    assert first.response_excerpt == orjson.dumps({"echo": "x" * 5000}).decode().replace(":", ": ")[:1000]
    assert len(first.response_excerpt) == 1000
    assert second.response_excerpt == '{"echo": "xxxxxxxxxx'


def test_a_customer_endpoint_gets_its_customers_events_without_vendor_internals(receiver: Receiver) -> None:
    vendor = VendorFactory.create()
    customer, other = CustomerFactory.create_batch(2, vendor=vendor)
    endpoint_make(vendor=vendor, customer=customer, url=receiver.url, registered_by="customer")
    flagged = DomainEvent(
        type="outcome.flagged",
        vendor_id=vendor.pk,
        object_id=str(uuid.uuid4()),
        customer_id=customer.pk,
        contract_id=uuid.uuid4(),
        data={"state": "flagged", "flag_facts": {"secret": "internal"}, "reason": "duplicate"},
    )
    someone_elses = billable(vendor.pk, other.pk)
    vendor_only = DomainEvent(
        type="dispute.deadline_approaching",
        vendor_id=vendor.pk,
        object_id=str(uuid.uuid4()),
        customer_id=customer.pk,
        data={"deadline": "2026-03-01"},
    )
    publish(flagged, someone_elses, vendor_only)

    dispatch()

    [got] = receiver.delivered()
    assert got.type == "outcome.flagged"
    assert got.payload["data"]["customer_id"] == str(customer.pk)
    assert "flag_facts" not in got.payload["data"]
    assert got.payload["data"]["reason"] == "duplicate"
    assert got.payload["data"]["links"]["api"].endswith(f"/api/v1/customer/outcomes/{flagged.object_id}")
    assert Delivery.objects.count() == 1

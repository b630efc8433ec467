"""An endpoint that keeps failing is disabled (its pending deliveries cancelled, `endpoint.disabled` sent to
the vendor's other endpoints only); the retention sweep keeps what is still pending."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from core.events import DomainEvent
from devtools.webhook_receiver import Failure, Receiver
from notifications.dispatch import dispatch, prune
from notifications.models import Attempt, Delivery, DeliveryStatus, Endpoint, Event
from tests.factories import CustomerFactory, VendorFactory
from tests.notifications.conftest import endpoint_make, publish

pytestmark = pytest.mark.django_db


def event(vendor_id: object, customer_id: object = None) -> DomainEvent:
    return DomainEvent(
        type="outcome.billable",
        vendor_id=vendor_id,
        object_id=str(uuid.uuid4()),
        customer_id=customer_id,
        contract_id=uuid.uuid4(),
        data={"state": "billable"},
    )


def test_an_endpoint_failing_past_the_threshold_is_disabled_and_the_vendors_other_endpoints_are_told(
    receiver: Receiver, settings: SettingsWrapper
) -> None:
    settings.WEBHOOKS_OUT_DISABLE_AFTER_HOURS = 1
    settings.WEBHOOKS_OUT_DISABLE_AFTER_FAILURES = 3
    vendor = VendorFactory.create()
    customer = CustomerFactory.create(vendor=vendor)
    failing = endpoint_make(vendor=vendor, url=receiver.url + "/failing", event_types=["outcome.billable"])
    other = endpoint_make(vendor=vendor, url=receiver.url + "/other", event_types=["endpoint.disabled"])
    customers = endpoint_make(vendor=vendor, customer=customer, url=receiver.url + "/customer")
    someone_else = endpoint_make(vendor=VendorFactory.create(), url=receiver.url + "/someone-else")
    receiver.fail_next(100, Failure.ERROR)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        publish(event(vendor.pk), event(vendor.pk))
        dispatch()  # two failures at once
        failing.refresh_from_db()
        assert (failing.consecutive_failures, failing.is_enabled) == (2, True)
        clock.shift(dt.timedelta(minutes=61))
        publish(event(vendor.pk))
        dispatch()  # the third failure, an hour after the first: disabled
        disabled_at = timezone.now()

    failing.refresh_from_db()
    assert failing.disabled_at == disabled_at
    assert failing.disabled_reason == "Every delivery failed for 1 hours (at least 3 attempts)."
    assert set(Delivery.objects.filter(endpoint=failing).values_list("status", flat=True)) == {
        DeliveryStatus.CANCELLED
    }
    notice = Event.objects.get(type="endpoint.disabled")
    assert (notice.object_id, notice.vendor_id) == (str(failing.pk), vendor.pk)
    assert list(notice.deliveries.values_list("endpoint_id", flat=True)) == [other.pk]
    assert not Delivery.objects.filter(endpoint__in=[customers, someone_else]).exists()
    # The notice went out (failing on demand answers every POST 500: one attempt, to `other` only).
    assert Attempt.objects.filter(endpoint=other).count() == 1
    assert [item.path for item in receiver.snapshot() if item.type == "endpoint.disabled"] == [
        "/webhooks/other"
    ]
    # A disabled endpoint gets nothing new.
    receiver.reset()
    publish(event(vendor.pk))
    dispatch()
    assert not Delivery.objects.filter(endpoint=failing, status=DeliveryStatus.PENDING).exists()


def test_one_success_resets_the_failure_run(receiver: Receiver) -> None:
    vendor = VendorFactory.create()
    endpoint = endpoint_make(vendor=vendor, url=receiver.url)
    receiver.fail_next(2, Failure.ERROR)
    publish(event(vendor.pk), event(vendor.pk), event(vendor.pk))

    dispatch(limit=2)
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 2
    assert endpoint.failing_since is not None
    dispatch(limit=1)

    endpoint.refresh_from_db()
    assert (endpoint.consecutive_failures, endpoint.failing_since, endpoint.is_enabled) == (0, None, True)
    assert endpoint.last_success_at is not None


def test_prune_deletes_old_finished_work_and_keeps_pending(
    receiver: Receiver, settings: SettingsWrapper
) -> None:
    settings.WEBHOOKS_OUT_RETENTION_DAYS = 30
    vendor = VendorFactory.create()
    endpoint_make(vendor=vendor, url=receiver.url)
    with time_machine.travel(timezone.now() - dt.timedelta(days=31), tick=False):
        publish(event(vendor.pk), event(vendor.pk))
        receiver.fail_next(1, Failure.ERROR)
        dispatch()  # one delivered, one failed once and pending
    pending = Delivery.objects.get(status=DeliveryStatus.PENDING)
    delivered = Delivery.objects.get(status=DeliveryStatus.SUCCEEDED)
    publish(event(vendor.pk))
    receiver.reset()
    Delivery.objects.filter(pk=pending.pk).update(next_attempt_at=timezone.now() + dt.timedelta(hours=1))
    dispatch()  # today's event delivered
    recent = Event.objects.order_by("-id")[0]

    summary = prune()

    assert (summary.attempts, summary.deliveries, summary.events) == (2, 1, 1)
    assert not Event.objects.filter(pk=delivered.event_id).exists()
    assert Delivery.objects.get(pk=pending.pk).status == DeliveryStatus.PENDING
    assert Event.objects.filter(pk=pending.event_id).exists()
    assert Event.objects.filter(pk=recent.pk).exists()
    assert Attempt.objects.count() == 1  # today's
    assert Endpoint.objects.count() == 1

"""A resend is one more attempt now, with the same `webhook-id`, logged as asked for by a person; if it fails,
the delivery goes on with its schedule where it left off."""

from __future__ import annotations

import pytest

from devtools.webhook_receiver import Failure, Receiver
from notifications.dispatch import dispatch
from notifications.models import Attempt, Delivery, DeliveryStatus, Event
from notifications.services.deliveries import delivery_resend
from tests.factories import CustomerFactory, VendorFactory
from tests.notifications.conftest import endpoint_make, publish
from tests.notifications.test_delivery import billable

pytestmark = pytest.mark.django_db


def test_a_resent_delivery_is_attempted_now_with_its_webhook_id_and_logged_as_manual(
    receiver: Receiver,
) -> None:
    vendor = VendorFactory.create()
    endpoint = endpoint_make(vendor=vendor, url=receiver.url)
    publish(billable(vendor.pk, CustomerFactory.create(vendor=vendor).pk))
    dispatch()
    event = Event.objects.get()

    delivery_resend(endpoint=endpoint, event=event, actor="member:ops@vendor.test")
    dispatch()

    assert receiver.counts_by_webhook_id() == {event.webhook_id: 2}
    assert list(Attempt.objects.order_by("id").values_list("succeeded", "manual")) == [
        (True, False),
        (True, True),
    ]
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.resend_requested) == (
        DeliveryStatus.SUCCEEDED,
        2,  # every attempt counts, the resent one too
        False,
    )


def test_a_failed_resend_goes_on_with_the_schedule_where_it_left_off(receiver: Receiver) -> None:
    vendor = VendorFactory.create()
    endpoint = endpoint_make(vendor=vendor, url=receiver.url)
    publish(billable(vendor.pk, CustomerFactory.create(vendor=vendor).pk))
    dispatch()
    receiver.fail_next(1, Failure.ERROR)

    delivery_resend(endpoint=endpoint, event=Event.objects.get(), actor="member:ops@vendor.test")
    dispatch()

    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.PENDING, 2, 500)
    assert delivery.next_attempt_at is not None
    assert list(Attempt.objects.order_by("id").values_list("status_code", "manual")) == [
        (200, False),
        (500, True),
    ]

"""End to end with a real Celery worker process and Redis: a committed outbox event is delivered, signed,
to the loopback receiver (woken through the broker, not eagerly)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator

import pytest

from core.events import DomainEvent
from devtools.webhook_receiver import Receiver
from notifications.models import Delivery, DeliveryStatus
from tests.factories import CustomerFactory, VendorFactory
from tests.notifications.conftest import endpoint_make, publish
from tests.support.polling import wait_until
from tests.support.workers import real_celery_worker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def celery_worker_process() -> Iterator[subprocess.Popen[bytes]]:
    with real_celery_worker(
        WEBHOOKS_OUT_ALLOWED_NETWORKS="127.0.0.0/8", WEBHOOKS_OUT_REQUIRE_HTTPS="false"
    ) as worker:
        yield worker


def test_a_real_worker_delivers_an_outbox_event_to_the_receiver(
    receiver: Receiver, celery_worker_process: subprocess.Popen[bytes]
) -> None:
    vendor = VendorFactory.create()
    customer = CustomerFactory.create(vendor=vendor)
    endpoint_make(vendor=vendor, url=receiver.url)
    endpoint_make(vendor=vendor, customer=customer, url=receiver.url + "/customer", registered_by="customer")
    event = DomainEvent(
        type="outcome.billable",
        vendor_id=vendor.pk,
        object_id=str(uuid.uuid4()),
        customer_id=customer.pk,
        contract_id=uuid.uuid4(),
        data={"state": "billable"},
    )

    publish(event)  # commits: the wake-up goes through Redis to the worker

    def delivered_while_alive() -> bool:
        assert celery_worker_process.poll() is None, "the worker died"
        return len(receiver.delivered()) == 2

    def recorded() -> bool:
        # the worker records a batch's attempts after its POSTs return, so the receiver sees them first
        return set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}

    wait_until(
        delivered_while_alive, timeout=60, interval=0.2, message="the worker to deliver to both endpoints"
    )
    wait_until(recorded, timeout=30, interval=0.2, message="the worker to record both deliveries")
    assert sorted(item.path for item in receiver.delivered()) == ["/webhooks", "/webhooks/customer"]
    assert len(receiver.counts_by_webhook_id()) == 1  # one event, one webhook-id, each endpoint once

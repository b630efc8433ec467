"""Outbound webhooks under faults: a worker killed mid-POST, the broker down while domain changes commit,
the receiver down for a day, and a transaction that rolls back. Each ends with every committed event
delivered to each endpoint that should get it, once by `webhook-id` (a repeat only of the same id),
nothing to another customer's endpoint, and nothing of a rolled-back change.

One vendor with three endpoints throughout: its own (every event), customer A's and customer B's
(their own events only).
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import time_machine
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from contracts.models import Contract, ContractStatus, Customer, Vendor
from contracts.services.contracts import contract_activate
from core import transport
from core.events import DomainEvent
from devtools.webhook_receiver import Failure, Receiver, running_receiver
from devtools.webhook_receiver.server import receiver_start, receiver_stop
from notifications import dispatch as dispatcher
from notifications.models import Attempt, Delivery, DeliveryStatus, Endpoint, Event
from notifications.tasks import dispatch_webhooks
from tests.factories import CustomerFactory, VendorFactory, contract_create_for
from tests.notifications.conftest import SECRET, endpoint_make, publish
from tests.support.faults import TcpProxy, forget_unacknowledged_messages, kill, post, web_process
from tests.support.polling import wait_until
from tests.support.vendors import make_vendor_api
from tests.support.workers import real_celery_worker, worker_done_with

DISPATCH_TASK = "notifications.tasks.dispatch_webhooks"
# What a worker needs to reach the loopback receiver over plain HTTP (tests/notifications' settings).
WORKER_ENV = {"WEBHOOKS_OUT_ALLOWED_NETWORKS": "127.0.0.0/8", "WEBHOOKS_OUT_REQUIRE_HTTPS": "false"}


@dataclass
class Audience:
    """A vendor, two of its customers, and an endpoint for each of the three on one receiver."""

    vendor: Vendor
    customer_a: Customer
    customer_b: Customer
    vendor_endpoint: Endpoint
    a_endpoint: Endpoint
    b_endpoint: Endpoint

    def expected(self, customers_of_events: dict[str, object]) -> dict[str, set[str]]:
        """The webhook-ids each endpoint's path should receive, from {webhook-id: customer id}."""
        return {
            "/webhooks/vendor": set(customers_of_events),
            "/webhooks/a": {wid for wid, cid in customers_of_events.items() if cid == self.customer_a.pk},
            "/webhooks/b": {wid for wid, cid in customers_of_events.items() if cid == self.customer_b.pk},
        }


def audience_make(receiver_url: str, vendor: Vendor | None = None) -> Audience:
    vendor = vendor if vendor is not None else VendorFactory.create()
    customer_a, customer_b = CustomerFactory.create_batch(2, vendor=vendor)
    return Audience(
        vendor=vendor,
        customer_a=customer_a,
        customer_b=customer_b,
        vendor_endpoint=endpoint_make(vendor=vendor, url=receiver_url + "/vendor"),
        a_endpoint=endpoint_make(
            vendor=vendor, customer=customer_a, url=receiver_url + "/a", registered_by="customer"
        ),
        b_endpoint=endpoint_make(
            vendor=vendor, customer=customer_b, url=receiver_url + "/b", registered_by="customer"
        ),
    )


def billable(audience: Audience, customer: Customer) -> DomainEvent:
    return DomainEvent(
        type="outcome.billable",
        vendor_id=audience.vendor.pk,
        object_id=str(uuid.uuid4()),
        customer_id=customer.pk,
        contract_id=uuid.uuid4(),
        data={"state": "billable", "previous_state": "maturing"},
        occurred_at=timezone.now(),
    )


def outbox_customers() -> dict[str, object]:
    """{webhook-id: customer id} of every event in the outbox."""
    return {event.webhook_id: event.customer_id for event in Event.objects.all()}


def delivered_by_path(receiver: Receiver) -> Counter[tuple[str, str]]:
    """(path, webhook-id) → how often it was verified and answered 200."""
    return Counter((item.path, item.webhook_id) for item in receiver.delivered())


def once_each(expected: dict[str, set[str]]) -> Counter[tuple[str, str]]:
    return Counter({(path, wid): 1 for path, ids in expected.items() for wid in ids})


@pytest.fixture
def loopback(settings: SettingsWrapper) -> Iterator[None]:
    """This process's dispatcher may reach the loopback receiver, with short timeouts."""
    settings.WEBHOOKS_OUT_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.WEBHOOKS_OUT_REQUIRE_HTTPS = False
    settings.WEBHOOKS_OUT_CONNECT_TIMEOUT = 1.0
    settings.WEBHOOKS_OUT_READ_TIMEOUT = 0.5
    transport.pools_clear()  # the pools keep the timeouts they were made with
    yield
    transport.pools_clear()


@pytest.fixture
def no_stray_messages() -> Iterator[None]:
    yield
    forget_unacknowledged_messages()


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_post_leaves_its_deliveries_leased_then_delivered_by_the_next(
    no_stray_messages: None,
) -> None:
    with running_receiver(secrets=[SECRET]) as receiver:
        audience = audience_make(receiver.url)
        events = [
            billable(audience, audience.customer_a),
            billable(audience, audience.customer_a),
            billable(audience, audience.customer_b),
        ]
        # 3 to the vendor, 2 to A, 1 to B: six POSTs in one batch, side by side; each stalls well past
        # the moment of the kill (the worker's read timeout is longer still: it would wait for them).
        receiver.fail_next(6, Failure.TIMEOUT, sleep=20)

        with real_celery_worker(**WORKER_ENV, WEBHOOKS_OUT_READ_TIMEOUT="30") as worker:
            publish(*events)  # commits: woken through Redis
            wait_until(lambda: len(receiver.snapshot()) == 6, message="six POSTs in flight")
            kill(worker.pid)
            worker.wait(timeout=10)

        expected = audience.expected(outbox_customers())
        stalled = Counter((item.path, item.webhook_id) for item in receiver.snapshot())
        assert stalled == once_each(expected)
        assert receiver.delivered() == []
        # Nothing was recorded of the killed POSTs; each delivery is leased, not due to another worker.
        assert not Attempt.objects.exists()
        leased = Delivery.objects.filter(
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at__gt=timezone.now() + dispatcher.LEASE_MARGIN,
        )
        assert leased.count() == Delivery.objects.count() == 6

        with real_celery_worker(**WORKER_ENV):
            dispatch_webhooks.delay()  # the beat's sweep, while the lease runs: nothing is due
            wait_until(lambda: worker_done_with({DISPATCH_TASK: 1}), message="the sweep to finish")
            assert len(receiver.snapshot()) == 6
            assert not Attempt.objects.exists()

            # The lease ends (as its `next_attempt_at` says; moved rather than waited for, 5 minutes).
            Delivery.objects.update(next_attempt_at=timezone.now())
            dispatch_webhooks.delay()
            wait_until(lambda: len(receiver.delivered()) == 6, message="every delivery, once the lease ended")
            wait_until(lambda: worker_done_with({DISPATCH_TASK: 2}), message="the worker to be idle")

        assert delivered_by_path(receiver) == once_each(expected)
        # Each endpoint saw each of its events twice (the stalled POST, the delivery), by one webhook-id.
        everything = Counter((item.path, item.webhook_id) for item in receiver.snapshot())
        assert everything == Counter(dict.fromkeys(once_each(expected), 2))
        assert all(item.verified for item in receiver.snapshot())
    assert set(Delivery.objects.values_list("status", "attempts")) == {(DeliveryStatus.SUCCEEDED, 1)}
    assert Attempt.objects.filter(succeeded=True).count() == Attempt.objects.count() == 6


@pytest.mark.django_db(transaction=True)
def test_domain_changes_commit_while_the_broker_is_down_and_are_delivered_once_it_is_back(
    encryption_key: str, tmp_path: Path, no_stray_messages: None
) -> None:
    broker = urlsplit(settings.CELERY_BROKER_URL)
    to_redis = TcpProxy(broker.hostname or "127.0.0.1", broker.port or 6379)  # not up: Redis unreachable
    log = tmp_path / "web.log"
    api = make_vendor_api()
    with running_receiver(secrets=[SECRET]) as receiver:
        audience = audience_make(receiver.url, vendor=api.vendor)
        contracts = [
            contract_create_for(audience.customer_a, reference="CTR-A1"),
            contract_create_for(audience.customer_a, reference="CTR-A2"),
            contract_create_for(audience.customer_b, reference="CTR-B1"),
        ]

        with web_process(log, CELERY_BROKER_URL=f"redis://127.0.0.1:{to_redis.port}{broker.path}") as base:
            statuses = [
                post(
                    base,
                    f"/api/v1/contracts/{contract.pk}/activate",
                    b"{}",
                    {"Authorization": f"Bearer {api.raw_key}"},
                )[0]
                for contract in contracts
            ]

        assert statuses == [200, 200, 200]
        assert set(Contract.objects.values_list("status", flat=True)) == {ContractStatus.ACTIVE}
        # Each change committed with its event; the wake-up failed in the web process, quietly.
        assert sorted(Event.objects.values_list("type", "contract_id", "fanned_out")) == sorted(
            ("contract.activated", contract.pk, False) for contract in contracts
        )
        text = log.read_text()
        assert "Waking the webhook dispatcher failed" in text
        assert "Internal Server Error" not in text
        assert not Delivery.objects.exists()
        assert receiver.snapshot() == []

        to_redis.up()
        with real_celery_worker(**WORKER_ENV, FIELD_ENCRYPTION_KEYS=encryption_key):
            dispatch_webhooks.delay()  # what the beat sends every 10 seconds
            wait_until(lambda: len(receiver.delivered()) == 6, message="the backlog to be delivered")
            wait_until(lambda: worker_done_with({DISPATCH_TASK: 1}), message="the worker to be idle")
        to_redis.down()

        expected = audience.expected(outbox_customers())
        assert {path: len(ids) for path, ids in expected.items()} == {
            "/webhooks/vendor": 3,
            "/webhooks/a": 2,
            "/webhooks/b": 1,
        }
        assert delivered_by_path(receiver) == once_each(expected)
        assert len(receiver.snapshot()) == 6  # no failed or unverified POST either
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}


@pytest.mark.django_db
def test_a_receiver_down_for_a_day_gets_every_event_when_it_returns_each_attempt_logged(
    loopback: None,
) -> None:
    stopped = receiver_start(secrets=[SECRET])
    url, port = stopped.url, int(urlsplit(stopped.url).port or 0)
    receiver_stop(stopped)  # its port now refuses connections
    audience = audience_make(url)
    start = timezone.now()
    back_at = start + dt.timedelta(hours=24)

    def next_due() -> dt.datetime | None:
        return (
            Delivery.objects.filter(status=DeliveryStatus.PENDING)
            .order_by("next_attempt_at")
            .values_list("next_attempt_at", flat=True)
            .first()
        )

    def dispatch_when_due(*, until: dt.datetime) -> None:
        """Dispatch at each moment a delivery comes due, before `until`."""
        while (due := next_due()) is not None and due < until:
            clock.move_to(due)
            dispatcher.dispatch(now=due)

    with time_machine.travel(start, tick=False) as clock:
        publish(
            billable(audience, audience.customer_a),
            billable(audience, audience.customer_a),
            billable(audience, audience.customer_b),
        )
        dispatcher.dispatch(now=start)
        dispatch_when_due(until=back_at)

        assert Attempt.objects.count() == 6 * 7  # 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h: 7 within a day
        assert not Attempt.objects.filter(succeeded=True).exists()
        vendor_endpoint = Endpoint.objects.get(pk=audience.vendor_endpoint.pk)
        assert vendor_endpoint.consecutive_failures == 3 * 7
        assert vendor_endpoint.failing_since == start

        clock.move_to(back_at)
        with running_receiver(secrets=[SECRET], port=port) as receiver:
            dispatch_when_due(until=back_at + dt.timedelta(days=3))
            expected = audience.expected(outbox_customers())
            assert delivered_by_path(receiver) == once_each(expected)
            assert len(receiver.snapshot()) == 6

    assert set(Delivery.objects.values_list("status", "attempts")) == {(DeliveryStatus.SUCCEEDED, 8)}
    for delivery in Delivery.objects.all():
        attempts = list(delivery.attempt_log.order_by("at"))
        assert [(a.succeeded, a.status_code, a.error) for a in attempts] == [
            *[(False, None, "connection refused")] * 7,
            (True, 200, ""),
        ]
        gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(attempts)]
        for gap, scheduled in zip(gaps, dispatcher.RETRY_DELAYS, strict=False):
            assert scheduled * (1 - dispatcher.JITTER) <= gap <= scheduled * (1 + dispatcher.JITTER)
        assert attempts[-1].at > back_at
    # About 28 hours of failures: under the 72 hours that disable an endpoint.
    assert set(Endpoint.objects.values_list("disabled_at", "consecutive_failures", "failing_since")) == {
        (None, 0, None)
    }
    assert not Event.objects.filter(type="endpoint.disabled").exists()


def activate_then_fail(contract: Contract) -> None:
    """A request that activates the contract and then fails: its whole transaction rolls back."""
    with transaction.atomic():
        contract_activate(contract=contract, actor="test")
        raise RuntimeError("the request failed after the change")


@pytest.mark.django_db(transaction=True)
def test_an_event_of_a_rolled_back_change_is_never_recorded_nor_delivered(loopback: None) -> None:
    with running_receiver(secrets=[SECRET]) as receiver:
        audience = audience_make(receiver.url)
        contract = contract_create_for(audience.customer_a)

        with pytest.raises(RuntimeError, match="after the change"):
            activate_then_fail(contract)

        contract.refresh_from_db()
        assert contract.status == ContractStatus.DRAFT
        assert not Event.objects.exists()
        summary = dispatcher.dispatch()
        assert (summary.fanned_out, summary.attempts) == (0, 0)
        assert receiver.snapshot() == []

        # The same change committed is one event (its once-only key left free by the rollback),
        # delivered on commit (Celery eager here) to the vendor and to A, not to B.
        contract_activate(contract=contract, actor="test")

        [event] = Event.objects.all()
        assert (event.type, event.dedup_key) == ("contract.activated", f"contract.activated:{contract.pk}")
        assert delivered_by_path(receiver) == Counter(
            {("/webhooks/vendor", event.webhook_id): 1, ("/webhooks/a", event.webhook_id): 1}
        )
        assert len(receiver.snapshot()) == 2

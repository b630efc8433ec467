"""A property over random event streams: a customer's endpoint never gets another customer's event nor a
vendor-only type; a vendor's endpoint gets every event of its vendor it subscribes to, exactly once."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.models import Customer, Vendor
from core.events import CUSTOMER, DomainEvent, events_publish
from notifications.catalogue import EVENT_TYPES_BY_NAME
from notifications.dispatch import events_fan_out
from notifications.models import Delivery, Endpoint, Event
from tests.factories import CustomerFactory, VendorFactory

pytestmark = pytest.mark.django_db

TYPES = sorted(EVENT_TYPES_BY_NAME)
endpoint_specs = st.lists(
    st.tuples(
        st.integers(0, 1),  # vendor
        st.none() | st.integers(0, 1),  # none: the vendor's endpoint; else which of its customers
        st.lists(st.sampled_from(TYPES), max_size=3, unique=True),  # subscriptions (empty: all)
        st.booleans(),  # disabled
    ),
    min_size=1,
    max_size=5,
)
event_specs = st.lists(
    st.tuples(st.integers(0, 1), st.none() | st.integers(0, 1), st.sampled_from(TYPES)),
    min_size=1,
    max_size=25,
)


@pytest.fixture
def estate() -> list[tuple[Vendor, list[Customer]]]:
    vendors = VendorFactory.create_batch(2)
    return [(vendor, CustomerFactory.create_batch(2, vendor=vendor)) for vendor in vendors]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(endpoints=endpoint_specs, events=event_specs)
def test_fan_out_respects_audiences_and_subscriptions(
    estate: list[tuple[Vendor, list[Customer]]],
    endpoints: list[tuple[int, int | None, list[str], bool]],
    events: list[tuple[int, int | None, str]],
) -> None:
    Event.objects.all().delete()
    Endpoint.objects.all().delete()
    made = [
        Endpoint.objects.create(
            vendor=estate[v][0],
            customer=None if c is None else estate[v][1][c],
            url="https://hooks.example.com/",
            event_types=types,
            disabled_at="2026-01-01T00:00:00Z" if disabled else None,
        )
        for v, c, types, disabled in endpoints
    ]
    with transaction.atomic():
        events_publish(
            [
                DomainEvent(
                    type=name,
                    vendor_id=estate[v][0].pk,
                    customer_id=None if c is None else estate[v][1][c].pk,
                    object_id=str(uuid.uuid4()),
                    data={},
                )
                for v, c, name in events
            ]
        )

    events_fan_out(now=Event.objects.first().created_at)  # type: ignore[union-attr]
    events_fan_out(now=Event.objects.first().created_at)  # type: ignore[union-attr]  # nothing twice

    got = Counter(Delivery.objects.values_list("endpoint_id", "event_id"))
    assert set(got.values()) <= {1}
    for endpoint in made:
        received = {event_id for endpoint_id, event_id in got if endpoint_id == endpoint.pk}
        expected = set()
        for event in Event.objects.all():
            if endpoint.disabled_at is not None or event.vendor_id != endpoint.vendor_id:
                continue
            if endpoint.event_types and event.type not in endpoint.event_types:
                continue
            if endpoint.customer_id is not None:
                event_type = EVENT_TYPES_BY_NAME[event.type]
                if CUSTOMER not in event_type.audiences or event.customer_id != endpoint.customer_id:
                    continue
            expected.add(event.pk)
        assert received == expected
        if endpoint.customer_id is not None:
            for event in Event.objects.filter(pk__in=received):
                assert event.customer_id == endpoint.customer_id
                assert CUSTOMER in EVENT_TYPES_BY_NAME[event.type].audiences

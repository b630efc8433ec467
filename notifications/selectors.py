"""Reads of the outbound webhooks app, always scoped to one vendor or one customer: another's endpoint or
delivery is NotFound."""

from __future__ import annotations

import uuid

from django.db.models import Prefetch, Q, QuerySet

from contracts.models import Customer, Vendor
from core.errors import NotFound
from core.events import CUSTOMER
from notifications.catalogue import EVENT_TYPES
from notifications.domain_events import ENDPOINT_DISABLED, WEBHOOK_TEST
from notifications.models import Attempt, Delivery, Endpoint, Event

CUSTOMER_EVENT_TYPES = tuple(
    event_type.name for event_type in EVENT_TYPES if CUSTOMER in event_type.audiences
)


def _with_secrets(queryset: QuerySet[Endpoint]) -> QuerySet[Endpoint]:
    return queryset.select_related("vendor", "customer").prefetch_related("secrets")


def endpoint_list(*, vendor: Vendor, customer_id: str | uuid.UUID | None = None) -> QuerySet[Endpoint]:
    """The vendor's endpoints and those of its customers (however registered); `customer_id`: one customer's."""
    queryset = _with_secrets(Endpoint.objects.filter(vendor=vendor))
    if customer_id:
        queryset = queryset.filter(customer_id=customer_id)
    return queryset


def endpoint_list_for_customer(*, customer: Customer) -> QuerySet[Endpoint]:
    """The endpoints a customer registered with its own key: not those its vendor registered for it."""
    return _with_secrets(
        Endpoint.objects.filter(
            vendor_id=customer.vendor_id, customer=customer, registered_by=Endpoint.Owner.CUSTOMER
        )
    )


def _get_or_404(queryset: QuerySet[Endpoint], endpoint_id: str | uuid.UUID) -> Endpoint:
    try:
        pk = uuid.UUID(str(endpoint_id))
    except ValueError:
        raise NotFound("No such webhook endpoint.") from None
    endpoint = queryset.filter(pk=pk).first()
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


def endpoint_get(*, vendor: Vendor, endpoint_id: str | uuid.UUID) -> Endpoint:
    return _get_or_404(endpoint_list(vendor=vendor), endpoint_id)


def endpoint_get_for_customer(*, customer: Customer, endpoint_id: str | uuid.UUID) -> Endpoint:
    return _get_or_404(endpoint_list_for_customer(customer=customer), endpoint_id)


def endpoints_disabled(*, vendor: Vendor) -> QuerySet[Endpoint]:
    """The vendor's endpoints (its own and its customers') the dispatcher disabled, latest first."""
    return Endpoint.objects.filter(vendor=vendor, disabled_at__isnull=False).order_by("-disabled_at", "id")


def endpoint_events(*, endpoint: Endpoint) -> QuerySet[Event]:
    """The recorded events (fanned out: the dispatcher has placed them) this endpoint receives: its
    audience's (a customer's endpoint: that customer's, of types customers receive), of its subscribed
    types, without other endpoints' test events or the notice of its own disabling."""
    events = Event.objects.filter(vendor_id=endpoint.vendor_id, fanned_out=True)
    if endpoint.customer_id is not None:
        events = events.filter(customer_id=endpoint.customer_id, type__in=CUSTOMER_EVENT_TYPES)
    if endpoint.event_types:
        events = events.filter(type__in=endpoint.event_types)
    about_itself = Q(type=ENDPOINT_DISABLED.name, object_id=str(endpoint.pk))
    others_test = Q(type=WEBHOOK_TEST.name) & ~Q(object_id=str(endpoint.pk))
    return events.exclude(about_itself | others_test)


def delivery_list(*, endpoint: Endpoint, status: str | None = None) -> QuerySet[Delivery]:
    """The endpoint's delivery log, each delivery with its event and its attempts (latest first)."""
    queryset = (
        Delivery.objects.filter(endpoint=endpoint)
        .select_related("event")
        .prefetch_related(Prefetch("attempt_log", queryset=Attempt.objects.order_by("-at", "-id")))
    )
    if status:
        queryset = queryset.filter(status=status)
    return queryset


def delivery_get(*, endpoint: Endpoint, delivery_id: str | int) -> Delivery:
    try:
        pk = int(str(delivery_id))
    except ValueError:
        pk = 0
    # Out of bigint's range the database would refuse the query: no such row either.
    delivery = delivery_list(endpoint=endpoint).filter(pk=pk).first() if 0 < pk < 2**63 else None
    if delivery is None:
        raise NotFound("No such delivery.")
    return delivery

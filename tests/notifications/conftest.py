"""Fixtures of the outbound webhook tests: the loopback receiver (devtools.webhook_receiver), settings that
let the dispatcher reach it, and endpoints with their signing secrets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from pytest_django.fixtures import Settings as SettingsWrapper

from contracts.models import Customer, Vendor
from core import crypto, transport
from core.events import DomainEvent, events_publish
from devtools.webhook_receiver import Receiver, running_receiver
from notifications.models import Endpoint, EndpointSecret
from notifications.signing import secret_generate

SECRET = secret_generate()


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[Receiver]:
    with running_receiver(secrets=[SECRET]) as receiver:
        yield receiver


@pytest.fixture
def receiver(receiver_server: Receiver, loopback_allowed: None) -> Receiver:
    """The loopback receiver, emptied, verifying with SECRET; the dispatcher allowed to reach it."""
    receiver_server.reset(secrets=[SECRET])
    return receiver_server


@pytest.fixture
def loopback_allowed(settings: SettingsWrapper) -> Iterator[None]:
    """Loopback allowed by the operator's list, plain HTTP, and short timeouts (the timeout tests wait them)."""
    settings.WEBHOOKS_OUT_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.WEBHOOKS_OUT_REQUIRE_HTTPS = False
    settings.WEBHOOKS_OUT_CONNECT_TIMEOUT = 1.0
    settings.WEBHOOKS_OUT_READ_TIMEOUT = 0.5
    transport.pools_clear()  # the pools keep the timeouts they were made with
    yield
    transport.pools_clear()


def endpoint_make(
    *,
    vendor: Vendor,
    url: str,
    customer: Customer | None = None,
    event_types: list[str] | None = None,
    secrets: tuple[str, ...] = (SECRET,),
    **fields: Any,
) -> Endpoint:
    endpoint = Endpoint.objects.create(
        vendor=vendor,
        customer=customer,
        url=url,
        event_types=event_types or [],
        **{"registered_by": Endpoint.Owner.VENDOR, **fields},
    )
    for secret in secrets:
        EndpointSecret.objects.create(
            endpoint=endpoint, secret_encrypted=crypto.encrypt(secret), hint=secret[-4:]
        )
    return endpoint


def publish(*events: DomainEvent) -> None:
    """Publish as a domain service does: inside the transaction of the change."""
    with transaction.atomic():
        events_publish(list(events))

"""Safe to point at the internet: addresses refused after DNS resolution (SSRF) unless allowed by the
operator, HTTPS required when set; each refusal is a failed attempt with a clear error, and no request."""

from __future__ import annotations

import ipaddress
import uuid

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from core.events import DomainEvent
from core.transport import address_refusal
from devtools.webhook_receiver import Receiver
from notifications.dispatch import dispatch
from notifications.models import Attempt, Delivery, DeliveryStatus
from tests.factories import VendorFactory
from tests.notifications.conftest import endpoint_make, publish


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("169.254.169.254", "link-local or metadata"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - the address under test
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "private"),
        ("::1", "loopback"),
        ("fe80::1", "link-local or metadata"),
        ("fd00::1", "private"),
        ("::ffff:127.0.0.1", "loopback, in IPv6"),
        ("::ffff:169.254.169.254", "link-local or metadata, in IPv6"),
        ("64:ff9b::a00:1", "private, in IPv6"),
        ("2002:7f00:1::", "loopback, in IPv6"),
        ("93.184.216.34", None),
        ("2606:4700::1111", None),
    ],
)
def test_address_refusal(address: str, reason: str | None) -> None:
    assert address_refusal(ipaddress.ip_address(address)) == reason


def _event(vendor_id: object) -> DomainEvent:
    return DomainEvent(type="outcome.billable", vendor_id=vendor_id, object_id=str(uuid.uuid4()), data={})


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://127.0.0.1:{port}/webhooks", "address not allowed: 127.0.0.1 (loopback)"),
        ("http://10.0.0.7/webhooks", "address not allowed: 10.0.0.7 (private)"),
        (
            "http://169.254.169.254/latest/meta-data",
            "address not allowed: 169.254.169.254 (link-local or metadata)",
        ),
        ("http://localhost:{port}/webhooks", "address not allowed: localhost resolves to "),
        ("http://[::1]:{port}/webhooks", "address not allowed: ::1 (loopback)"),
        (
            "http://[::ffff:127.0.0.1]:{port}/webhooks",
            "address not allowed: ::ffff:127.0.0.1 (loopback, in IPv6)",
        ),
    ],
)
def test_refused_addresses_are_failed_attempts_and_nothing_is_sent(
    receiver: Receiver, settings: SettingsWrapper, url: str, error: str
) -> None:
    settings.WEBHOOKS_OUT_ALLOWED_NETWORKS = []  # not even loopback
    vendor = VendorFactory.create()
    port = receiver.url.split(":")[2].split("/")[0]
    endpoint_make(vendor=vendor, url=url.format(port=port))
    publish(_event(vendor.pk))

    summary = dispatch()

    assert (summary.attempts, summary.succeeded) == (1, 0)
    attempt = Attempt.objects.get()
    assert attempt.error.startswith(error)
    assert attempt.status_code is None
    assert Delivery.objects.get().status == DeliveryStatus.PENDING  # retried: the operator may allow it
    assert receiver.snapshot() == []


@pytest.mark.django_db
def test_the_operator_allow_list_lets_loopback_through(receiver: Receiver) -> None:
    vendor = VendorFactory.create()
    endpoint_make(vendor=vendor, url=receiver.url.replace("127.0.0.1", "localhost"))
    publish(_event(vendor.pk))

    assert dispatch().succeeded == 1
    assert len(receiver.delivered()) == 1


@pytest.mark.django_db
def test_https_is_required_when_set(receiver: Receiver, settings: SettingsWrapper) -> None:
    settings.WEBHOOKS_OUT_REQUIRE_HTTPS = True
    vendor = VendorFactory.create()
    endpoint_make(vendor=vendor, url=receiver.url)
    publish(_event(vendor.pk))

    dispatch()

    assert Attempt.objects.get().error == "HTTPS required: the endpoint's URL is plain http"
    assert receiver.snapshot() == []

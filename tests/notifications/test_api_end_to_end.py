"""The management API end to end, through the dispatcher to the real loopback receiver: an endpoint
registered by the API receives its test event signed with the secret the API showed once, and after a
rotation the receiver verifies with the new secret alone (both signatures are sent during the overlap)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from standardwebhooks import Webhook

from devtools.webhook_receiver import Receiver
from notifications.models import Delivery, DeliveryStatus
from tests.support.vendors import VendorApi

pytestmark = pytest.mark.django_db


def test_a_test_event_then_a_rotation_reach_the_receiver_signed_with_the_secret_shown_once(
    vendor_api: VendorApi, receiver: Receiver, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    created = vendor_api.client.post("/api/v1/webhook-endpoints", {"url": receiver.url}, format="json").json()
    base = f"/api/v1/webhook-endpoints/{created['id']}"
    receiver.reset(secrets=[created["signing_secret"]])

    with django_capture_on_commit_callbacks(execute=True):  # the commit wakes the (eager) dispatcher
        sent = vendor_api.client.post(f"{base}/test")
    [first] = receiver.delivered()
    rotated = vendor_api.client.post(f"{base}/rotate-secret", {"overlap_seconds": 3600}, format="json").json()
    receiver.reset(secrets=[rotated["signing_secret"]])  # the receiver switched to the new secret at once
    with django_capture_on_commit_callbacks(execute=True):
        vendor_api.client.post(f"{base}/test")
    [second] = receiver.delivered()

    assert sent.status_code == 202
    assert first.webhook_id == sent.json()["webhook_id"]
    assert first.payload["type"] == "webhook.test"
    assert first.payload["data"]["id"] == created["id"]
    assert Webhook(created["signing_secret"]).verify(first.body, first.headers) == first.payload
    assert len(second.headers["webhook-signature"].split()) == 2  # old and new, during the overlap
    assert Webhook(rotated["signing_secret"]).verify(second.body, second.headers) == second.payload
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}
    log = vendor_api.client.get(f"{base}/deliveries").json()["results"]
    assert [(d["status"], [a["status_code"] for a in d["attempt_log"]]) for d in log] == [
        ("succeeded", [200]),
        ("succeeded", [200]),
    ]

"""Waking the dispatcher after an outbox commit: inline when Celery is eager, else one task per moment;
never an error in the request that committed."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest

from config.celery import app as celery_app
from core.events import DomainEvent
from devtools.webhook_receiver import Receiver
from notifications import dispatch as dispatcher
from notifications import tasks
from tests.factories import VendorFactory
from tests.notifications.conftest import endpoint_make, publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker_mode(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Celery not eager, its task sending recorded instead of reaching a broker."""
    sent: list[str] = []
    celery_app.conf.task_always_eager = False  # restored by tests/conftest.py's eager_celery
    monkeypatch.setattr(tasks.dispatch_webhooks, "delay", lambda: sent.append("dispatch"))
    monkeypatch.setattr(dispatcher, "_last_wake", 0.0)
    return sent


def test_eager_celery_dispatches_on_commit(
    receiver: Receiver, django_capture_on_commit_callbacks: Callable[..., AbstractContextManager[Any]]
) -> None:
    vendor = VendorFactory.create()
    endpoint_make(vendor=vendor, url=receiver.url)

    with django_capture_on_commit_callbacks(execute=True):
        publish(
            DomainEvent(type="outcome.billable", vendor_id=vendor.pk, object_id=str(uuid.uuid4()), data={})
        )

    assert [item.type for item in receiver.delivered()] == ["outcome.billable"]


def test_a_burst_of_commits_sends_one_task(broker_mode: list[str]) -> None:
    for _ in range(5):
        dispatcher.wake()

    assert broker_mode == ["dispatch"]


def test_a_broker_error_does_not_reach_the_committer(
    monkeypatch: pytest.MonkeyPatch, broker_mode: list[str]
) -> None:
    def refuse() -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.dispatch_webhooks, "delay", refuse)

    dispatcher.wake()  # no exception: the beat sweep delivers

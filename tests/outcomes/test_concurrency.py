"""Concurrent resends against real Postgres: the database, not luck, keeps one copy."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import pytest
from django.db import connection

from outcomes.models import Delivery, Outcome, RawEvent
from tests.support.ingest import Ingest, event, make_ingest

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 50


def _post_concurrently(ingest: Ingest, bodies: list[Any], msg_ids: list[str]) -> list[int]:
    barrier = threading.Barrier(len(bodies))

    def post(index: int) -> int:
        try:
            barrier.wait()
            return int(ingest.post(bodies[index], msg_id=msg_ids[index]).status_code)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(post, range(len(bodies))))


@pytest.fixture
def live_ingest() -> Ingest:
    return make_ingest()


def test_fifty_concurrent_deliveries_of_one_event_store_one_event_and_one_outcome(
    live_ingest: Ingest,
) -> None:
    claim = event()

    statuses = _post_concurrently(live_ingest, [claim] * THREADS, [f"msg_{i}" for i in range(THREADS)])

    assert statuses == [200] * THREADS
    assert Delivery.objects.count() == THREADS
    assert RawEvent.objects.count() == 1
    assert Outcome.objects.count() == 1


def test_fifty_concurrent_copies_of_one_delivery_store_it_once(live_ingest: Ingest) -> None:
    body = orjson.dumps({"events": [event(), event()]})

    statuses = _post_concurrently(live_ingest, [body] * THREADS, ["msg_same"] * THREADS)

    assert statuses == [200] * THREADS
    assert Delivery.objects.count() == 1
    assert RawEvent.objects.count() == 2
    assert Outcome.objects.count() == 2

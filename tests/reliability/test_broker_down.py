"""Redis (the broker) unreachable: ingestion still stores every event and answers 2xx, enqueueing fails
quietly off the request's path, and the backlog is built when Redis returns: by the web process's
next enqueues and, for what was lost while it was down, by the beat's sweep of unprocessed events.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest
from django.conf import settings

from outcomes.models import Delivery, Outcome, OutcomeState, RawEvent
from outcomes.tasks import sweep_unprocessed_events
from tests.support.faults import TcpProxy, post, signed_headers, web_process
from tests.support.ingest import Ingest, event, make_ingest
from tests.support.polling import wait_until
from tests.support.workers import real_celery_worker

pytestmark = pytest.mark.django_db(transaction=True)

WHILE_DOWN = 8


def post_event(base_url: str, ingest: Ingest, natural_key: str) -> int:
    body = orjson.dumps(event(natural_key=natural_key))
    status, _ = post(base_url, ingest.url, body, signed_headers(ingest.secret, body))
    return status


def dropped(log: Path) -> set[int]:
    """The deliveries the web process said it could not enqueue (and left to the sweep)."""
    found = re.findall(r"Could not enqueue deliveries \[([\d, ]+)\]", log.read_text())
    return {int(delivery_id) for ids in found for delivery_id in ids.split(",")}


def maturing(*natural_keys: str) -> bool:
    return Outcome.objects.filter(natural_key__in=natural_keys, state=OutcomeState.MATURING).count() == len(
        natural_keys
    )


def test_events_are_stored_and_acknowledged_while_redis_is_down_and_built_when_it_returns(
    encryption_key: str, tmp_path: Path
) -> None:
    ingest = make_ingest()
    broker = urlsplit(settings.CELERY_BROKER_URL)
    to_redis = TcpProxy(broker.hostname or "127.0.0.1", broker.port or 6379)  # not up yet: Redis is down
    log = tmp_path / "web.log"
    backlog = [f"T-down-{i}" for i in range(WHILE_DOWN)]

    with web_process(log, CELERY_BROKER_URL=f"redis://127.0.0.1:{to_redis.port}{broker.path}") as base_url:
        statuses = [post_event(base_url, ingest, key) for key in backlog]

        assert statuses == [200] * WHILE_DOWN
        assert set(RawEvent.objects.values_list("natural_key", flat=True)) == set(backlog)  # stored
        delivered = set(Delivery.objects.values_list("id", flat=True))
        wait_until(lambda: dropped(log) == delivered, message="every enqueue to fail")
        assert not Outcome.objects.exists()

        to_redis.up()
        with real_celery_worker(OUTCOMES_SWEEP_GRACE_SECONDS="0"):
            # The web process enqueues again as soon as Redis is back...
            assert post_event(base_url, ingest, "T-after") == 200
            wait_until(lambda: maturing("T-after"), message="the event posted after Redis returned")
            # Nothing of the backlog reached the broker: only the sweep can build it.
            assert not Outcome.objects.filter(natural_key__in=backlog).exists()
            # ...and the beat's sweep builds what was stored while it was down.
            sweep_unprocessed_events.delay()
            wait_until(lambda: maturing(*backlog), message="the backlog to be built")

    to_redis.down()
    assert Outcome.objects.count() == WHILE_DOWN + 1
    assert not RawEvent.objects.filter(outcome_link__isnull=True).exists()

"""The database drops the web process's connections while signed events are posted (its sessions are
terminated over and over): no event answered with 2xx is missing, every failure is a 503 in the API's
error shape with no stack trace, and the sender's retries of the failed deliveries store each event once.
"""

from __future__ import annotations

import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import psycopg
import pytest

from config.celery import app as celery_app
from outcomes.models import RawEvent
from tests.support.faults import database_dsn, post, web_process
from tests.support.ingest import Ingest, event, make_ingest, sign

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS = 80
APPLICATION = "verity-web-under-test"


def terminate_sessions(stop: threading.Event, terminated: list[int]) -> None:
    """Kill the web process's database sessions every few milliseconds until told to stop."""
    pick = random.Random(3)
    with psycopg.connect(database_dsn(), autocommit=True) as admin:
        while not stop.wait(pick.uniform(0.01, 0.06)):
            [(count,)] = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
                [APPLICATION],
            ).fetchall()
            terminated.append(count)


def deliver(base_url: str, ingest: Ingest, msg_id: str, body: bytes) -> tuple[int, bytes]:
    """One delivery attempt as a Standard Webhooks sender makes it (a retry keeps the webhook-id)."""
    headers = {
        name.removeprefix("HTTP_").replace("_", "-").lower(): value
        for name, value in sign(ingest.secret, body, msg_id=msg_id).items()
    }
    return post(base_url, ingest.url, body, headers)


def test_dropped_database_connections_lose_no_acknowledged_event_and_leak_no_stack_trace(
    encryption_key: str, tmp_path: Path
) -> None:
    ingest = make_ingest()
    deliveries = {
        f"msg_{uuid.uuid4().hex}": (natural_key, orjson.dumps(event(natural_key=natural_key)))
        for natural_key in (f"T-db-{i}" for i in range(EVENTS))
    }
    stop, terminated = threading.Event(), list[int]()
    dsn = f"{database_dsn()}?application_name={APPLICATION}"

    with web_process(tmp_path / "web.log", DATABASE_URL=dsn) as base_url:
        killer = threading.Thread(target=terminate_sessions, args=(stop, terminated))
        killer.start()
        try:
            with ThreadPoolExecutor(max_workers=4) as pool:
                answers = dict(
                    zip(
                        deliveries,
                        pool.map(
                            lambda item: deliver(base_url, ingest, item[0], item[1][1]), deliveries.items()
                        ),
                        strict=True,
                    )
                )
        finally:
            stop.set()
            killer.join()
        acknowledged = {
            deliveries[msg_id][0] for msg_id, (status, _) in answers.items() if 200 <= status < 300
        }
        failed = {msg_id: answer for msg_id, answer in answers.items() if not 200 <= answer[0] < 300}
        stored = set(RawEvent.objects.values_list("natural_key", flat=True))

        # The sender retries what failed, with the same webhook-id, once the database is back.
        retried = [deliver(base_url, ingest, msg_id, deliveries[msg_id][1])[0] for msg_id in failed]
    celery_app.control.purge()  # the build tasks it enqueued; no worker runs here

    # The faults hit: sessions were terminated, some deliveries failed, and some got through.
    assert sum(terminated) > 0
    assert failed
    assert acknowledged
    assert acknowledged <= stored  # no acknowledged event is missing
    for status, body in failed.values():
        assert status == 503, (status, body)
        assert b"Traceback" not in body
        assert orjson.loads(body) == {
            "status": 503,
            "code": "service_unavailable",
            "message": "The service is briefly unavailable; try again shortly.",
            "field_errors": {},
        }
    assert retried == [200] * len(failed)
    assert sorted(RawEvent.objects.values_list("natural_key", flat=True)) == sorted(
        natural_key for natural_key, _ in deliveries.values()
    )  # every event stored, none twice

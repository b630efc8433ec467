"""The soak's core at a tiny size (bench.soak, `make bench-soak` runs it for minutes): a few seconds of the
same mixed traffic against the live test server and a real Celery worker, contracts terminated midway
and their period closed, then the same database checks. Counts and zero errors only, never timings."""

from __future__ import annotations

import subprocess
from typing import Any
from urllib.parse import urlparse

import pytest
from django.db import connection
from django.utils import timezone

from bench.seed import seed_soak
from bench.soak import (
    READ_KINDS,
    TERMINATE_KIND,
    WEBHOOK_KINDS,
    MemorySampler,
    Plan,
    Traffic,
    check_database,
    memory_trend,
    pending_work,
    wait_drained,
)
from config.celery import app as celery_app
from settlement.tasks import close_due_periods
from tests.support.polling import wait_until
from tests.support.workers import real_celery_worker

pytestmark = pytest.mark.django_db(transaction=True)

SECONDS = 4.0


def conninfo() -> str:
    db = connection.settings_dict
    return f"host={db['HOST']} port={db['PORT']} user={db['USER']} dbname={db['NAME']}"


def wait_until_ready(worker: subprocess.Popen[bytes]) -> None:
    def answers() -> bool:
        assert worker.poll() is None, "the worker died"
        return bool(celery_app.control.ping(timeout=1))

    wait_until(answers, timeout=60, interval=0, message="the worker to answer a ping")


def test_a_short_soak_loses_nothing_doubles_nothing_and_answers_every_request(live_server: Any) -> None:
    # given two contracts the traffic terminates midway, two that go on, and a running worker
    seed = seed_soak(closing=2, ongoing=2, now=timezone.now())
    closing = [c["id"] for c in seed["contracts"] if c["closing"]]
    ongoing = [c["id"] for c in seed["contracts"] if not c["closing"]]
    plan = Plan(seconds=SECONDS, rate=20, read_rate=6, threads=2, read_threads=2)
    with real_celery_worker() as worker:
        wait_until_ready(worker)
        traffic = Traffic(urlparse(live_server.url).port or 0, seed, plan, run="smoke")

        # when the mix runs, then beat's close job runs (directly: its schedule is minutes)
        with MemorySampler({"celery worker": (worker.pid, True)}, interval=0.25) as sampler:
            traffic.run_for(SECONDS)
        close_due_periods.delay()
        wait_drained(conninfo(), closing, 90, alive=lambda: worker.poll() is None)
        assert pending_work(conninfo(), closing) == {
            "unlinked_events": 0,
            "unverified_outcomes": 0,
            "closing_without_invoice": 0,
        }

    # then every request got its expected answer, of each kind that was sent
    kinds = {kind: stats.summary() for kind, stats in traffic.recorder.kinds.items()}
    assert set(kinds) >= {WEBHOOK_KINDS[0], READ_KINDS[0], READ_KINDS[2], TERMINATE_KIND}
    assert kinds[TERMINATE_KIND]["requests"] == 2
    for kind, summary in kinds.items():
        assert (summary["non_2xx"], summary["connection_errors"], summary["wrong_answers"]) == (0, 0, 0), kind
    sent = sum(kinds[kind]["requests"] for kind in WEBHOOK_KINDS if kind in kinds)
    assert sent == SECONDS * plan.rate

    # and the database holds each acknowledged event once, one outcome each, one invoice per ended period
    db = check_database(conninfo(), accepted=traffic.accepted, closing=closing, ongoing=ongoing)
    assert db["accepted"] == kinds[WEBHOOK_KINDS[0]]["requests"] > 0
    assert (db["stored"], db["lost"], db["doubled_events"], db["unacknowledged_stored"]) == (
        db["accepted"],
        0,
        0,
        0,
    )
    assert db["outcomes"] == db["events_linked"] == db["stored"]
    assert (db["doubled_outcomes"], db["doubled_links"]) == (0, 0)
    assert (db["closing_invoiced_once"], db["ongoing_invoiced"]) == (2, 0)
    assert db["lines_match"]
    assert db["doubled_line_outcomes"] == 0
    assert db["usage_quantity"] == db["line_outcomes"] == db["billable_before_end"]

    # and the memory sampler saw the worker's processes
    trend = memory_trend(sampler.samples, "celery worker", skip=0)
    assert sampler.samples[-1]["celery worker"] > 0
    assert trend["processes"] >= 1

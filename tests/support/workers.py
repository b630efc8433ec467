"""A real Celery worker process for end-to-end tests (tasks go through Redis to it, not eagerly), and what it
says it has done (through Celery's remote control), for checks that something did not happen."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app


@contextmanager
def real_celery_worker(*, pool: str = "solo", **extra_env: str) -> Iterator[subprocess.Popen[bytes]]:
    """A Celery worker process on the test database and this pytest worker's Redis database.

    Tasks published while it runs go through the broker to it (not eagerly); for transactional tests.
    `pool="prefork"` runs the tasks in one child process (the production pool) instead of in the worker.
    """
    if settings.CELERY_TASK_ALWAYS_EAGER:
        pytest.fail("CELERY_BROKER_URL must point at Redis for this test (make test sets it).")
    db = connection.settings_dict
    env = {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        **extra_env,
    }
    celery_app.control.purge()
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", f"--pool={pool}", "--concurrency=1"]
    worker = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [*command, "--loglevel=WARNING"],
        env=env,
        cwd=settings.BASE_DIR,
    )
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        yield worker
    finally:
        celery_app.conf.task_always_eager = previous
        worker.terminate()
        worker.wait(timeout=20)


def worker_task_counts() -> Counter[str]:
    """How many tasks of each name the running worker(s) have taken so far."""
    stats = celery_app.control.inspect(timeout=1).stats() or {}
    counts: Counter[str] = Counter()
    for worker in stats.values():
        counts.update(worker.get("total", {}))
    return counts


def worker_done_with(counts: Mapping[str, int]) -> bool:
    """Whether the worker has taken at least `counts[name]` tasks of each name, runs and holds none now, and
    the broker's queue is empty: those tasks, and any they enqueued, are over. The positive signal a check
    that something did *not* happen waits for (instead of sleeping and hoping the worker was quick)."""
    taken = worker_task_counts()
    if any(taken[name] < count for name, count in counts.items()):
        return False
    inspect = celery_app.control.inspect(timeout=1)
    busy = [*((inspect.active() or {}).values()), *((inspect.reserved() or {}).values())]
    if any(busy):
        return False
    with celery_app.connection_for_write() as connection:
        queued = connection.default_channel.client.llen(celery_app.conf.task_default_queue)
    return not queued

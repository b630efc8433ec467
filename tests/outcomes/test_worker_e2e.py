"""End to end with a real Celery worker process and Redis broker: a signed event becomes an outcome."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app
from outcomes.models import Outcome, OutcomeState
from tests.outcomes.conftest import event, make_ingest

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def celery_worker_process() -> Iterator[subprocess.Popen[bytes]]:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        pytest.fail("CELERY_BROKER_URL must point at Redis for this test (make test sets it).")
    db = connection.settings_dict
    env = {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }
    celery_app.control.purge()
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=WARNING"],
        env=env,
        cwd=settings.BASE_DIR,
    )
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    yield worker
    celery_app.conf.task_always_eager = previous
    worker.terminate()
    worker.wait(timeout=20)


def test_a_real_worker_builds_and_verifies_the_outcome_of_a_signed_delivery(
    celery_worker_process: subprocess.Popen[bytes],
) -> None:
    ingest = make_ingest()

    response = ingest.post(event(natural_key="T-worker"))

    assert response.status_code == 200
    deadline = time.monotonic() + 60
    verified = Outcome.objects.filter(natural_key="T-worker", state=OutcomeState.MATURING)
    while time.monotonic() < deadline and not verified.exists():
        assert celery_worker_process.poll() is None, "the worker died"
        time.sleep(0.2)
    outcome = Outcome.objects.get(natural_key="T-worker")
    assert outcome.state == OutcomeState.MATURING
    assert outcome.verdicts.filter(rule="maturation", reason="maturing").exists()

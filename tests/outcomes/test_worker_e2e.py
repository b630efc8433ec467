"""End to end with a real Celery worker process and Redis broker: a signed event becomes an outcome."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest

from outcomes.models import Outcome, OutcomeState
from tests.conftest import real_celery_worker
from tests.outcomes.conftest import event, make_ingest

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def celery_worker_process() -> Iterator[subprocess.Popen[bytes]]:
    with real_celery_worker() as worker:
        yield worker


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

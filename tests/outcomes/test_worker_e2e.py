"""End to end with a real Celery worker process and Redis broker: a signed event becomes an outcome."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from outcomes.models import Outcome, OutcomeState
from tests.support.ingest import event, make_ingest
from tests.support.polling import wait_until
from tests.support.workers import real_celery_worker

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
    verified = Outcome.objects.filter(natural_key="T-worker", state=OutcomeState.MATURING)

    def verified_while_alive() -> bool:
        assert celery_worker_process.poll() is None, "the worker died"
        return verified.exists()

    wait_until(verified_while_alive, interval=0.2, message="the worker to verify the outcome")
    outcome = Outcome.objects.get(natural_key="T-worker")
    assert outcome.state == OutcomeState.MATURING
    assert outcome.verdicts.filter(rule="maturation", reason="maturing").exists()

"""Celery tasks of the outcomes app: thin wrappers that take ids and call one service each."""

import logging

from celery import shared_task
from django.db import OperationalError

from outcomes.services.building import (
    outcomes_build_for_deliveries,
    outcomes_build_for_delivery,
    outcomes_build_sweep,
)
from outcomes.services.deadlines import deadlines_announce
from outcomes.services.verification import outcomes_evaluate_due
from outcomes.services.verifiers import verifiers_call_due

logger = logging.getLogger(__name__)


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=20,
)
def build_outcomes_for_delivery(delivery_id: int) -> int:
    return outcomes_build_for_delivery(delivery_id=delivery_id)


@shared_task(acks_late=True)
def sweep_unprocessed_events() -> int:
    return outcomes_build_sweep()


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=20,
)
def build_outcomes_for_deliveries(delivery_ids: list[int]) -> int:
    """Several deliveries in one message (what a busy web process enqueues: ingestion's BuildQueue),
    built in one pass. If that fails for a reason other than a transient database error, each delivery
    is retried as its own job, so one delivery's problem does not hold back the others."""
    try:
        return outcomes_build_for_deliveries(delivery_ids=delivery_ids)
    except OperationalError:
        raise
    except Exception:
        if len(delivery_ids) == 1:
            raise
        logger.exception(
            "Building %d deliveries together failed; building them one by one", len(delivery_ids)
        )
        for delivery_id in delivery_ids:
            build_outcomes_for_delivery.delay(delivery_id)
        return 0


@shared_task(acks_late=True)
def evaluate_due_outcomes() -> int:
    """Beat: move what time alone moves (maturation, match and silence windows, dispute and audit deadlines)."""
    return outcomes_evaluate_due().evaluated


@shared_task(acks_late=True, time_limit=300)
def announce_deadlines() -> int:
    """Beat: remind of dispute and audit-sample deadlines within a day (each once)."""
    return deadlines_announce()


@shared_task(acks_late=True, time_limit=900)
def call_verifiers() -> int:
    """Beat: call the external verifiers of the outcomes waiting for them (rule 6b), outside any transaction."""
    return verifiers_call_due()

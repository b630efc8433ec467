"""Celery tasks of the outcomes app: thin wrappers that take ids and call one service each."""

from celery import shared_task
from django.db import OperationalError

from outcomes.services.building import (
    outcomes_build_for_deliveries,
    outcomes_build_for_delivery,
    outcomes_build_sweep,
)
from outcomes.services.verification import outcomes_evaluate_due


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
    """Several deliveries in one message: what a busy web process enqueues (see ingestion's BuildQueue)."""
    return outcomes_build_for_deliveries(delivery_ids=delivery_ids)


@shared_task(acks_late=True)
def evaluate_due_outcomes() -> int:
    """Beat: move what time alone moves (maturation, match and silence windows, dispute and audit deadlines)."""
    return outcomes_evaluate_due().evaluated

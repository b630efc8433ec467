"""Celery tasks of the outcomes app: thin wrappers that take ids and call one service each."""

from celery import shared_task
from django.db import OperationalError

from outcomes.services.building import outcomes_build_for_delivery, outcomes_build_sweep


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

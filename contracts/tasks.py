"""Celery tasks of contracts: thin, idempotent; the beat's announcements of what is about to expire."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from contracts.services.announcements import deadlines_announce


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=10)
def announce_deadlines() -> int:
    """Beat: webhook source secrets about to expire, each announced once."""
    return deadlines_announce()

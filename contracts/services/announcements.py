"""Contracts' time-based events, announced by the beat (contracts.tasks.announce_deadlines): a webhook
source's signing secret that expires within SECRET_EXPIRY_NOTICE, once per secret (its dedup key)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from contracts import domain_events
from contracts.models import WebhookSecret
from core.events import events_publish

# How long before a secret expires its source's owner is told: a week to switch the sending system to
# the newer secret (a rotation's overlap is usually shorter: then the notice comes at the rotation).
SECRET_EXPIRY_NOTICE = dt.timedelta(days=7)


def deadlines_announce(*, now: dt.datetime | None = None) -> int:
    """Publish `source.secret_expiring` for each secret of an active source that expires within
    SECRET_EXPIRY_NOTICE (and has not expired). Returns how many were handed to the outbox (repeats
    included: it keeps the first of each)."""
    now = now or timezone.now()
    with transaction.atomic():
        events = [
            domain_events.secret_expiring(secret, now=now)
            for secret in WebhookSecret.objects.filter(
                source__revoked_at__isnull=True,
                expires_at__gt=now,
                expires_at__lte=now + SECRET_EXPIRY_NOTICE,
            )
            .select_related("source")
            .order_by("expires_at", "id")
        ]
        events_publish(events)
    return len(events)

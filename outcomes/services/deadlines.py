"""Reminders of deadlines coming up: a dispute the vendor has not answered, a sample the customer has
not attested, a contested disqualifier the customer has not answered. Announced as domain events once per object and deadline (their dedup keys), by a beat
task every quarter of an hour: a run that repeats one already announced records nothing."""

from __future__ import annotations

import datetime as dt
import itertools

from django.db import transaction
from django.utils import timezone

from core.events import events_publish
from outcomes.domain_events import (
    audit_sample_deadline_approaching,
    dispute_deadline_approaching,
    disqualifier_contest_deadline_approaching,
)
from outcomes.models import AuditSample, Dispute, DisqualifierContest

# How long before a deadline it is announced: a day leaves the party that must act a working day.
DEADLINE_NOTICE = dt.timedelta(hours=24)
# Deadlines announced per transaction (a period's samples may come due together).
BATCH = 1000


def deadlines_announce(*, now: dt.datetime | None = None) -> int:
    """Announce every open dispute, unanswered sample and open contest whose deadline falls within DEADLINE_NOTICE
    from now (not yet passed); returns how many were published (a repeat is not recorded again)."""
    now = now or timezone.now()
    due = (now, now + DEADLINE_NOTICE)
    disputes = (
        Dispute.objects.filter(status=Dispute.Status.OPEN, deadline__gt=due[0], deadline__lte=due[1])
        .select_related("outcome__contract")
        .order_by("pk")
    )
    samples = (
        AuditSample.objects.filter(answer="", deadline__gt=due[0], deadline__lte=due[1])
        .select_related("outcome__contract")
        .order_by("pk")
    )
    contests = (
        DisqualifierContest.objects.filter(
            status=DisqualifierContest.Status.OPEN, deadline__gt=due[0], deadline__lte=due[1]
        )
        .select_related("outcome__contract")
        .order_by("pk")
    )
    reminders = itertools.chain(
        (
            dispute_deadline_approaching(
                dispute=dispute, outcome=dispute.outcome, customer_id=dispute.outcome.contract.customer_id
            )
            for dispute in disputes.iterator(chunk_size=BATCH)
        ),
        (
            audit_sample_deadline_approaching(
                sample=sample, outcome=sample.outcome, customer_id=sample.outcome.contract.customer_id
            )
            for sample in samples.iterator(chunk_size=BATCH)
        ),
        (
            disqualifier_contest_deadline_approaching(
                contest=contest, outcome=contest.outcome, customer_id=contest.outcome.contract.customer_id
            )
            for contest in contests.iterator(chunk_size=BATCH)
        ),
    )
    published = 0
    while batch := list(itertools.islice(reminders, BATCH)):
        with transaction.atomic():
            events_publish(batch)
        published += len(batch)
    return published

"""Settlement's time-based events, announced by the beat (settlement.tasks.announce_deadlines): invoices
past their due date and unpaid, and contracts whose current period reached a budget alert threshold.

Nothing changes state here, so each event is once-only by its dedup key (the outbox keeps the first of
each): the sweep may run as often as it likes, and a run that dies halfway is simply run again.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from contracts.models import Contract, ContractStatus, ContractVersion
from contracts.periods import Period
from core.events import DomainEvent, events_publish
from settlement import domain_events
from settlement.invoicing.drafts import CONTRACT_CAP_KEY, contract_period
from settlement.invoicing.fees import version_at
from settlement.models import UNPAID_STATUSES, Invoice
from settlement.selectors.dashboard import DraftPreview, drafts_preview

# An invoice is announced overdue within this long of its due date: ample for a sweep that runs every few
# minutes, and well inside the outbox's retention, so a pruned announcement is never made a second time.
OVERDUE_WINDOW = dt.timedelta(days=7)
# Contracts whose period so far is rated at once (one set of queries per batch, as the dashboard does).
BUDGET_BATCH = 200


def deadlines_announce(*, now: dt.datetime | None = None) -> int:
    """Publish `invoice.overdue` for each invoice past its due date and unpaid, and
    `budget.threshold_reached` for each alert threshold the current period of a capped contract has
    reached; each once. Returns how many were handed to the outbox (repeats included: it keeps one)."""
    now = now or timezone.now()
    published = 0
    with transaction.atomic():
        overdue = [
            domain_events.overdue(invoice, now=now)
            for invoice in Invoice.objects.filter(
                status__in=UNPAID_STATUSES, due_at__lt=now, due_at__gte=now - OVERDUE_WINDOW
            )
            .select_related("contract")
            .order_by("due_at", "id")
        ]
        events_publish(overdue)
        published += len(overdue)
    for batch in _budgeted_in_batches(now):
        previews = drafts_preview(periods=[(budget.contract, budget.period) for budget in batch], now=now)
        events = list(_thresholds_reached(batch, previews, now))
        with transaction.atomic():
            events_publish(events)
        published += len(events)
    return published


@dataclass(frozen=True)
class Budget:
    """A contract's current period and the version whose cap and thresholds bill it."""

    contract: Contract
    period: Period
    version: ContractVersion


def _budgeted_in_batches(now: dt.datetime) -> Iterator[list[Budget]]:
    """Active contracts in force now whose version in force at the current period's start has a cap and
    alert thresholds, with that period, in batches of BUDGET_BATCH."""
    contracts = list(
        Contract.objects.filter(
            status=ContractStatus.ACTIVE, starts_at__lte=now, versions__cap_amount_minor__isnull=False
        )
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .distinct()
        .order_by("pk")
    )
    versions: dict[Any, list[ContractVersion]] = defaultdict(list)
    for stored in ContractVersion.objects.filter(contract__in=contracts):
        versions[stored.contract_id].append(stored)
    budgeted = []
    for contract in contracts:
        period = contract_period(contract, now)
        # The cap that bills the period is the version's in force at its start (as the invoice's).
        version = version_at(versions[contract.pk], period.start)
        if version is not None and version.cap_amount_minor is not None and version.budget_alert_percents:
            budgeted.append(Budget(contract, period, version))
    for start in range(0, len(budgeted), BUDGET_BATCH):
        yield budgeted[start : start + BUDGET_BATCH]


def threshold_minor(cap_amount_minor: int, percent: int) -> int:
    """`percent` of the cap in minor units, rounded up: a threshold is reached at that percent, not below."""
    return -(-cap_amount_minor * percent // 100)


def _thresholds_reached(
    budgets: Sequence[Budget], previews: Sequence[DraftPreview], now: dt.datetime
) -> Iterator[DomainEvent]:
    for budget, preview in zip(budgets, previews, strict=True):
        contract, period, version = budget.contract, budget.period, budget.version
        cap = version.cap_amount_minor
        assert cap is not None
        amount = preview.usage_minor
        # The contract's cap held outcomes back: the period bills all the cap allows (its usage lines stop
        # just under the cap, at the last outcome that fits), so every threshold is reached.
        capped = CONTRACT_CAP_KEY in preview.held_over_cap
        for percent in version.budget_alert_percents:
            threshold = threshold_minor(cap, percent)
            if amount >= threshold or capped:
                yield domain_events.budget_threshold_reached(
                    vendor_id=contract.vendor_id,
                    customer_id=contract.customer_id,
                    contract_id=contract.pk,
                    percent=percent,
                    threshold_minor=threshold,
                    amount_minor=amount,
                    cap_amount_minor=cap,
                    currency=contract.currency,
                    period_start=period.start,
                    period_end=period.end,
                    now=now,
                )

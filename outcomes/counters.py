"""The counters kept beside the outcomes: the daily counts behind the window statistics (velocity,
suppression, rejection rate) and the aggregates the dashboards read instead of a period's outcomes.

OutcomeDayCount: outcomes and confirmed outcomes per (contract, outcome type, UTC day of occurred_at).
SourceDayCount: outcomes and rejected outcomes per (source, UTC day of created_at).
OutcomeStateDayCount: outcomes per (contract, UTC day of occurred_at, outcome type, state).
BillableCount: outcomes billable and never billed, and their values' sum, per (contract, version,
outcome type, price percent): what rating needs (settlement.invoicing.usage).
PricedDayCount: outcomes billable or billed, and their values' sum, per (contract, UTC day of
occurred_at, outcome type, version, price percent): what the customer's amount cap prices
(outcomes.services.cap_amounts).

Whatever creates an outcome or changes what is counted (its occurrence, whether it is confirmed,
whether it is rejected, its state, version, share of the price, value, whether it is billed) collects
the changes in a `Deltas` (`counted` notes what an outcome counts as before it changes) and applies
them with `apply`, in the same transaction and as its last statement: one upsert per table, keys in
sorted order. So two transactions lock shared counter rows in the same order, and a transaction
holding counter rows waits for nothing else before it commits (no lock cycle with the outcome rows it
locked first).

`recount` and `aggregates_recount` compute what the tables must hold from the outcomes themselves (the
migrations' backfills do the same); `rebuild` replaces them all with it (bulk loads that bypass the
services).
Hand-written SQL: Django has no upsert that adds to the stored value.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, NamedTuple, cast

from django.db import connection, models
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate

from core.db.bulk import any_of
from outcomes.models import (
    BillableCount,
    Outcome,
    OutcomeDayCount,
    OutcomeState,
    OutcomeStateDayCount,
    PricedDayCount,
    SourceDayCount,
)

# Rows per statement: well under SQLite's parameter limit, one statement per batch on PostgreSQL.
_ROWS_PER_STATEMENT = 1000

DayKey = tuple[Any, str, dt.date]  # (contract id, outcome type key, day)
SourceKey = tuple[Any, dt.date]  # (source id, day)
StateKey = tuple[Any, dt.date, str, str]  # (contract id, day, outcome type key, state)
BillableKey = tuple[Any, int, str, int]  # (contract id, version id, outcome type key, price percent)
PricedKey = tuple[
    Any, dt.date, str, int, int
]  # (contract id, day, outcome type key, version id, price percent)

# The states whose outcomes the customer's amount cap prices (PricedDayCount).
PRICED = (OutcomeState.BILLABLE, OutcomeState.BILLED)


def utc_day(instant: dt.datetime) -> dt.date:
    return instant.astimezone(dt.UTC).date()


class Counted(NamedTuple):
    """What the state and billable aggregates count of one outcome."""

    state: StateKey
    billable: BillableKey | None  # None unless billable and never billed
    priced: PricedKey | None  # None unless billable or billed (with a version)
    value_minor: int


def counted(outcome: Outcome) -> Counted:
    """The outcome as the aggregates count it now (take it before changing the outcome in memory)."""
    billable = priced = None
    day = utc_day(outcome.occurred_at)
    if outcome.state in PRICED and outcome.version_id is not None:
        priced = (
            outcome.contract_id,
            day,
            outcome.outcome_type_key,
            outcome.version_id,
            outcome.price_percent,
        )
    # Rating needs the version (settlement.invoicing.usage): a billable outcome always has one.
    if (
        outcome.state == OutcomeState.BILLABLE
        and outcome.billed_at is None
        and outcome.version_id is not None
    ):
        billable = (outcome.contract_id, outcome.version_id, outcome.outcome_type_key, outcome.price_percent)
    return Counted(
        (outcome.contract_id, day, outcome.outcome_type_key, outcome.state),
        billable,
        priced,
        outcome.value_minor or 0,
    )


class Deltas:
    """Changes to the counters, collected while outcomes are written."""

    def __init__(self) -> None:
        self.days: dict[DayKey, list[int]] = defaultdict(lambda: [0, 0])  # outcomes, confirmed
        self.sources: dict[SourceKey, list[int]] = defaultdict(lambda: [0, 0])  # outcomes, rejected
        self.states: dict[StateKey, list[int]] = defaultdict(lambda: [0])  # outcomes
        self.billable: dict[BillableKey, list[int]] = defaultdict(lambda: [0, 0])  # outcomes, value_minor
        self.priced: dict[PricedKey, list[int]] = defaultdict(lambda: [0, 0])  # outcomes, value_minor

    def _counted(self, count: Counted, sign: int) -> None:
        self.states[count.state][0] += sign
        if count.billable is not None:
            row = self.billable[count.billable]
            row[0] += sign
            row[1] += sign * count.value_minor
        if count.priced is not None:
            row = self.priced[count.priced]
            row[0] += sign
            row[1] += sign * count.value_minor

    def recounted(self, before: dict[int, Counted], outcomes: Sequence[Outcome]) -> None:
        """These outcomes changed from what `before` (by id, from `counted`) says to their current values."""
        for outcome in outcomes:
            now = counted(outcome)
            if now != before[outcome.pk]:
                self._counted(before[outcome.pk], -1)
                self._counted(now, 1)

    def _day(self, outcome: Outcome, occurred_at: dt.datetime, confirmed: bool, sign: int) -> None:
        row = self.days[(outcome.contract_id, outcome.outcome_type_key, utc_day(occurred_at))]
        row[0] += sign
        row[1] += sign * confirmed

    def created(self, outcome: Outcome) -> None:
        """A new outcome, as it stands (its occurrence, confirmation and state)."""
        self._day(outcome, outcome.occurred_at, outcome.confirmed_at is not None, 1)
        self._counted(counted(outcome), 1)
        if outcome.source_id is not None:
            row = self.sources[(outcome.source_id, utc_day(outcome.created_at))]
            row[0] += 1
            row[1] += outcome.state == OutcomeState.REJECTED

    def occurred_moved(self, outcome: Outcome, before: dt.datetime) -> None:
        """The outcome's occurred_at changed from `before` to its current value."""
        if utc_day(before) == utc_day(outcome.occurred_at):
            return
        confirmed = outcome.confirmed_at is not None
        self._day(outcome, before, confirmed, -1)
        self._day(outcome, outcome.occurred_at, confirmed, 1)

    def changed(self, outcome: Outcome, *, state_before: str, confirmed_before: dt.datetime | None) -> None:
        """The outcome's state and confirmed_at changed from these to their current values."""
        was, now = confirmed_before is not None, outcome.confirmed_at is not None
        if was != now:
            self.days[(outcome.contract_id, outcome.outcome_type_key, utc_day(outcome.occurred_at))][1] += (
                1 if now else -1
            )
        was_rejected = state_before == OutcomeState.REJECTED
        is_rejected = outcome.state == OutcomeState.REJECTED
        if was_rejected != is_rejected and outcome.source_id is not None:
            self.sources[(outcome.source_id, utc_day(outcome.created_at))][1] += 1 if is_rejected else -1


def billing(outcome_ids: Sequence[int]) -> Deltas:
    """The changes billing these outcomes (billable, never billed) makes to the aggregates: read with
    two GROUP BYs before they are updated, so a large invoice is not read row by row. (PricedDayCount
    counts billable and billed outcomes alike: billing leaves it as it is.)"""
    deltas = Deltas()
    outcomes = _billable_outcomes().filter(pk__in=any_of(outcome_ids))
    for contract_id, day, type_key, count in (
        outcomes.annotate(day=TruncDate("occurred_at", tzinfo=dt.UTC))
        .values_list("contract_id", "day", "outcome_type_key")
        .annotate(count=Count("id"))
        .order_by()
    ):
        deltas.states[(contract_id, day, type_key, OutcomeState.BILLABLE)][0] -= count
        deltas.states[(contract_id, day, type_key, OutcomeState.BILLED)][0] += count
    for contract_id, version_id, type_key, percent, count, value in (
        outcomes.values_list("contract_id", "version_id", "outcome_type_key", "price_percent")
        .annotate(count=Count("id"), value=Sum("value_minor"))
        .order_by()
    ):
        row = deltas.billable[(contract_id, version_id, type_key, percent)]
        row[0] -= count
        row[1] -= value or 0
    return deltas


def _upsert(
    model: type[models.Model], keys: Sequence[str], values: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    table = model._meta.db_table
    columns = ", ".join([*keys, *values])
    conflict = f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET " + ", ".join(
        f"{name} = {table}.{name} + excluded.{name}" for name in values
    )
    fields = [
        cast("models.Field[Any, Any]", model._meta.get_field(name.removesuffix("_id")))
        for name in (*keys, *values)
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One array per column (a placeholder per column, not per value), rows kept in their order.
            # (A foreign key's db_type is its target's: uuid, bigint.)
            arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in fields)
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "  # noqa: S608 (names are ours)
                f"SELECT {columns} FROM unnest({arrays}) WITH ORDINALITY AS r({columns}, n) ORDER BY n {conflict}",
                [list(column) for column in zip(*rows, strict=True)],
            )
            return
        width = len(keys) + len(values)
        for start in range(0, len(rows), _ROWS_PER_STATEMENT):
            chunk = rows[start : start + _ROWS_PER_STATEMENT]
            placeholders = ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {placeholders} {conflict}",  # noqa: S608
                # Values as the backend stores them (SQLite: a uuid as 32 hex digits, a date as text).
                [
                    field.get_db_prep_value(value, connection)
                    for row in chunk
                    for field, value in zip(fields, row, strict=True)
                ],
            )


def apply(deltas: Deltas) -> None:
    """Add the deltas to the counters: one statement per table, in key order (see the module's note)."""
    days = sorted((*key, *values) for key, values in deltas.days.items() if any(values))
    sources = sorted((*key, *values) for key, values in deltas.sources.items() if any(values))
    states = sorted((*key, *values) for key, values in deltas.states.items() if any(values))
    billable = sorted((*key, *values) for key, values in deltas.billable.items() if any(values))
    priced = sorted((*key, *values) for key, values in deltas.priced.items() if any(values))
    if days:
        _upsert(
            OutcomeDayCount,
            ("contract_id", "outcome_type_key", "day"),
            ("outcomes", "confirmed"),
            days,
        )
    if sources:
        _upsert(SourceDayCount, ("source_id", "day"), ("outcomes", "rejected"), sources)
    if states:
        _upsert(
            OutcomeStateDayCount, ("contract_id", "day", "outcome_type_key", "state"), ("outcomes",), states
        )
    if billable:
        _upsert(
            BillableCount,
            ("contract_id", "version_id", "outcome_type_key", "price_percent"),
            ("outcomes", "value_minor"),
            billable,
        )
    if priced:
        _upsert(
            PricedDayCount,
            ("contract_id", "day", "outcome_type_key", "version_id", "price_percent"),
            ("outcomes", "value_minor"),
            priced,
        )


def recount() -> tuple[dict[DayKey, tuple[int, int]], dict[SourceKey, tuple[int, int]]]:
    """What the counters must hold, from the outcomes (zero rows left out)."""
    days = {
        (contract_id, type_key, day): (outcomes, confirmed)
        for contract_id, type_key, day, outcomes, confirmed in Outcome.objects.annotate(
            day=TruncDate("occurred_at", tzinfo=dt.UTC)
        )
        .values_list("contract_id", "outcome_type_key", "day")
        .annotate(outcomes=Count("id"), confirmed=Count("confirmed_at"))
        .order_by()
    }
    sources = {
        (source_id, day): (outcomes, rejected)
        for source_id, day, outcomes, rejected in Outcome.objects.filter(source__isnull=False)
        .annotate(day=TruncDate("created_at", tzinfo=dt.UTC))
        .values_list("source_id", "day")
        .annotate(outcomes=Count("id"), rejected=Count("id", filter=Q(state=OutcomeState.REJECTED)))
        .order_by()
    }
    return days, sources


def stored() -> tuple[dict[DayKey, tuple[int, int]], dict[SourceKey, tuple[int, int]]]:
    """What the counters hold (zero rows left out): equal to recount() when they are kept right."""
    days = {
        (c, t, d): (n, k)
        for c, t, d, n, k in OutcomeDayCount.objects.values_list(
            "contract_id", "outcome_type_key", "day", "outcomes", "confirmed"
        )
        if n or k
    }
    sources = {
        (s, d): (n, r)
        for s, d, n, r in SourceDayCount.objects.values_list("source_id", "day", "outcomes", "rejected")
        if n or r
    }
    return days, sources


Aggregates = tuple[dict[StateKey, int], dict[BillableKey, tuple[int, int]], dict[PricedKey, tuple[int, int]]]


def _billable_outcomes() -> models.QuerySet[Outcome]:
    return Outcome.objects.filter(state=OutcomeState.BILLABLE, billed_at__isnull=True, version__isnull=False)


def aggregates_recount() -> Aggregates:
    """What OutcomeStateDayCount, BillableCount and PricedDayCount must hold, from the outcomes (zero rows
    left out)."""
    states = {
        (contract_id, day, type_key, state): outcomes
        for contract_id, day, type_key, state, outcomes in Outcome.objects.annotate(
            day=TruncDate("occurred_at", tzinfo=dt.UTC)
        )
        .values_list("contract_id", "day", "outcome_type_key", "state")
        .annotate(outcomes=Count("id"))
        .order_by()
    }
    billable = {
        (contract_id, version_id, type_key, percent): (outcomes, value or 0)
        for contract_id, version_id, type_key, percent, outcomes, value in _billable_outcomes()
        .values_list("contract_id", "version_id", "outcome_type_key", "price_percent")
        .annotate(outcomes=Count("id"), value=Sum("value_minor"))
        .order_by()
    }
    priced = {
        (contract_id, day, type_key, version_id, percent): (outcomes, value or 0)
        for contract_id, day, type_key, version_id, percent, outcomes, value in Outcome.objects.filter(
            state__in=PRICED, version__isnull=False
        )
        .annotate(day=TruncDate("occurred_at", tzinfo=dt.UTC))
        .values_list("contract_id", "day", "outcome_type_key", "version_id", "price_percent")
        .annotate(outcomes=Count("id"), value=Sum("value_minor"))
        .order_by()
    }
    return states, billable, priced


def aggregates_stored() -> Aggregates:
    """What OutcomeStateDayCount, BillableCount and PricedDayCount hold (zero rows left out):
    aggregates_recount() when they are kept right."""
    states = {
        (c, d, t, s): n
        for c, d, t, s, n in OutcomeStateDayCount.objects.values_list(
            "contract_id", "day", "outcome_type_key", "state", "outcomes"
        )
        if n
    }
    billable = {
        (c, v, t, p): (n, value)
        for c, v, t, p, n, value in BillableCount.objects.values_list(
            "contract_id", "version_id", "outcome_type_key", "price_percent", "outcomes", "value_minor"
        )
        if n or value
    }
    priced = {
        (c, d, t, v, p): (n, value)
        for c, d, t, v, p, n, value in PricedDayCount.objects.values_list(
            "contract_id", "day", "outcome_type_key", "version_id", "price_percent", "outcomes", "value_minor"
        )
        if n or value
    }
    return states, billable, priced


def rebuild() -> None:
    """Replace the counters with a recount (after bulk loads that bypass the services)."""
    days, sources = recount()
    states, billable, priced = aggregates_recount()
    OutcomeDayCount.objects.all().delete()
    SourceDayCount.objects.all().delete()
    OutcomeStateDayCount.objects.all().delete()
    BillableCount.objects.all().delete()
    PricedDayCount.objects.all().delete()
    OutcomeDayCount.objects.bulk_create(
        (
            OutcomeDayCount(contract_id=c, outcome_type_key=t, day=d, outcomes=n, confirmed=k)
            for (c, t, d), (n, k) in days.items()
        ),
        batch_size=5000,
    )
    SourceDayCount.objects.bulk_create(
        (SourceDayCount(source_id=s, day=d, outcomes=n, rejected=r) for (s, d), (n, r) in sources.items()),
        batch_size=5000,
    )
    OutcomeStateDayCount.objects.bulk_create(
        (
            OutcomeStateDayCount(contract_id=c, day=d, outcome_type_key=t, state=s, outcomes=n)
            for (c, d, t, s), n in states.items()
        ),
        batch_size=5000,
    )
    BillableCount.objects.bulk_create(
        (
            BillableCount(
                contract_id=c,
                version_id=v,
                outcome_type_key=t,
                price_percent=p,
                outcomes=n,
                value_minor=value,
            )
            for (c, v, t, p), (n, value) in billable.items()
        ),
        batch_size=5000,
    )
    PricedDayCount.objects.bulk_create(
        (
            PricedDayCount(
                contract_id=c,
                day=d,
                outcome_type_key=t,
                version_id=v,
                price_percent=p,
                outcomes=n,
                value_minor=value,
            )
            for (c, d, t, v, p), (n, value) in priced.items()
        ),
        batch_size=5000,
    )

"""Rule 9a: reversal anomalies. A customer's system reversing far more outcomes than it usually does, above
all just before their lock date (the end of the clawback window, rule 9), has the reversals held: no
void and no credit, the outcome flagged for a person.

The statistic, per contract and per customer source, on the UTC day a reversal was received (our clock,
not the sender's): the reversals received over the last `window_days` days per outcome of the contract
in as many days (its average daily volume over the window and the baseline days, from its first day with
outcomes), against the same rate over the `baseline_days` days before the window. A reversal is
anomalous when its window holds at least `min_reversals` reversals and the rate is above both a floor
and `baseline_multiple` times the baseline; the floor is lower (`lock_rate_threshold`) for a reversal of a
billed outcome that arrives within `lock_days` days of the outcome's lock date. Only the customer's
system of record counts and is held: a vendor's own reversal concedes money and cannot be made to hold
the customer's. Reversals come from the raw events (one aggregate query per batch that holds a
reversal); volumes from the daily counters (outcomes.counters).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from django.db.models import Count, F, Sum
from django.db.models.functions import TruncDate
from pydantic import Field

from contracts.models import WebhookSource
from contracts.policy import RuleParams, percent_text
from outcomes.counters import utc_day
from outcomes.models import Decision, EventKind, OutcomeDayCount, Party, RawEvent
from outcomes.rules.base import FlagReason, OutcomeFacts, Reason, Rule, Verdict, accept, flag, iso
from outcomes.rules.maturation import money_moving_reversal


class ReversalAnomalyParams(RuleParams):
    """Rule 9a: hold a customer's reversals when their rate is far above its own baseline."""

    title = "Reversal anomalies"
    enabled: Annotated[
        bool,
        Field(description="Hold the customer's reversals for review when far more arrive than usual."),
    ] = True
    window_days: Annotated[
        int, Field(ge=1, le=31, description="Days of recent reversals whose rate is watched (1 to 31).")
    ] = 7
    baseline_days: Annotated[
        int, Field(ge=7, le=366, description="Days before the window the usual rate is taken from.")
    ] = 56
    min_reversals: Annotated[
        int,
        Field(ge=1, le=100_000, description="Reversals needed in the window before any can be held."),
    ] = 10
    rate_threshold: Annotated[
        float,
        Field(
            gt=0,
            le=10,
            description="Reversals per outcome in the window above which they are held (0.25 = 25 %).",
        ),
    ] = 0.25
    lock_days: Annotated[
        int,
        Field(
            ge=0,
            le=366,
            description="Days before an outcome's lock date in which its reversal meets the lower threshold.",
        ),
    ] = 3
    lock_rate_threshold: Annotated[
        float,
        Field(
            gt=0,
            le=10,
            description="The lower threshold for reversals arriving close to the lock date (0.1 = 10 %).",
        ),
    ] = 0.1
    baseline_multiple: Annotated[
        float,
        Field(
            ge=1,
            le=100,
            description="How many times its usual rate the window's rate must also exceed.",
        ),
    ] = 3.0

    def describe(self) -> str | None:
        if not self.enabled:
            return None
        return (
            f"The customer's reversals are held for review when, over {self.window_days} days and "
            f"{self.min_reversals}+ reversals, they exceed "
            f"{percent_text(Decimal(str(self.rate_threshold)) * 100)} of outcomes "
            f"({percent_text(Decimal(str(self.lock_rate_threshold)) * 100)} within {self.lock_days} days "
            f"of the lock date) and {self.baseline_multiple:g} times the usual rate over "
            f"{self.baseline_days} days."
        )


# Suspected clawback gaming; the flag protects the vendor. Accepting (clearing) it refuses the reversal and
# keeps the outcome billed, which bills the customer: the customer withdrawing its reversal, or a neutral
# operator with the vendor's evidence, accepts it, never the vendor alone. Rejecting it lets the reversal
# stand (a void or a credit): the vendor may concede that, the customer who reversed may not decide it.
REVERSAL_ANOMALY = FlagReason(
    "reversal_anomaly",
    (
        "Far more reversals than usual from the customer's system, often just before the lock date: "
        "possible clawback gaming (the customer reversing to get credits). Held: no void or credit yet."
    ),
    suspicion="reversal anomaly",
    deciders=frozenset({Party.VENDOR}),
    silence_against=Party.CUSTOMER,
    evidence_to_clear=True,
    who_decides=(
        "A reversal anomaly flag holds the customer's reversal. The vendor may reject the flag, conceding "
        "the reversal (void or credit as usual); clearing it refuses the reversal and keeps the outcome "
        "billed, so only the customer (withdrawing its reversal) or a neutral operator, with the vendor's "
        "evidence, clears it."
    ),
)
REVERSAL_RATE_NORMAL = "reversal_rate_normal"


@dataclass(frozen=True)
class RateStatistic:
    """Reversals per outcome in the window and over the baseline days before it."""

    reversals: int
    expected_outcomes: float
    rate: float | None  # None: no outcomes to compare with
    baseline_reversals: int
    baseline_rate: float | None  # None: no baseline days yet

    def threshold(self, floor: float, multiple: float) -> float:
        return max(floor, multiple * (self.baseline_rate or 0.0))

    def is_anomalous(self, params: ReversalAnomalyParams, floor: float) -> bool:
        if self.reversals < params.min_reversals:
            return False
        return self.rate is None or self.rate > self.threshold(floor, params.baseline_multiple)

    def trail(self, params: ReversalAnomalyParams, floor: float) -> dict[str, Any]:
        return {
            "reversals": self.reversals,
            "expected_outcomes": round(self.expected_outcomes, 2),
            "rate": None if self.rate is None else round(self.rate, 4),
            "baseline_reversals": self.baseline_reversals,
            "baseline_rate": None if self.baseline_rate is None else round(self.baseline_rate, 4),
            "threshold": round(self.threshold(floor, params.baseline_multiple), 4),
        }


def rate_statistic(
    params: ReversalAnomalyParams, day: dt.date, reversals: dict[dt.date, int], outcomes: dict[dt.date, int]
) -> RateStatistic:
    """The statistic of the window ending on `day` (inclusive), from daily reversal and outcome counts.

    Volume is the average daily outcome count since the contract's first day with outcomes in the window
    or baseline (so a young contract is not diluted by days it did not exist), times the days counted."""
    span_start = day - dt.timedelta(days=params.window_days + params.baseline_days - 1)
    window_start = day - dt.timedelta(days=params.window_days - 1)
    first_day = min((d for d, n in outcomes.items() if span_start <= d <= day and n > 0), default=day)
    active_days = (day - first_day).days + 1
    per_day = sum(n for d, n in outcomes.items() if first_day <= d <= day) / active_days
    window_days = min(params.window_days, active_days)
    baseline_days = active_days - window_days
    window_reversals = sum(n for d, n in reversals.items() if window_start <= d <= day)
    baseline_reversals = sum(n for d, n in reversals.items() if span_start <= d < window_start)
    expected = per_day * window_days
    return RateStatistic(
        reversals=window_reversals,
        expected_outcomes=expected,
        rate=window_reversals / expected if expected else None,
        baseline_reversals=baseline_reversals,
        baseline_rate=baseline_reversals / (per_day * baseline_days) if baseline_days and per_day else None,
    )


class ReversalAnomaly(Rule[ReversalAnomalyParams]):
    name = "reversal_anomaly"
    params_model = ReversalAnomalyParams
    policy_key = "reversal_anomaly"
    reasons = (
        REVERSAL_ANOMALY,
        Reason(REVERSAL_RATE_NORMAL, "The customer's reversals are within their usual rate."),
    )

    def holds_reversal(self, verdict: Verdict) -> bool:
        # While flagged, and once a person cleared the flag (the reversal rejected for good).
        return verdict.decision == Decision.FLAG or verdict.reason == f"{REVERSAL_ANOMALY.code}_cleared"

    def prepare(self, batch: Sequence[OutcomeFacts], now: dt.datetime) -> dict[str, Any]:
        reversals: dict[tuple[Any, Any], dict[dt.date, int]] = defaultdict(lambda: defaultdict(int))
        outcomes: dict[Any, dict[dt.date, int]] = defaultdict(dict)
        watched = [
            (f, held[0])
            for f in batch
            if self.params(f).enabled and (held := money_moving_reversal(f)) is not None
        ]
        if not watched:
            return {"reversals": reversals, "outcomes": outcomes}
        span = max(self.params(f).window_days + self.params(f).baseline_days for f, _ in watched)
        days = [utc_day(event.received_at) for _, event in watched]
        first_day, last_day = min(days) - dt.timedelta(days=span - 1), max(days)
        contracts = {f.outcome.contract_id for f, _ in watched}
        start = dt.datetime.combine(first_day, dt.time(), tzinfo=dt.UTC)
        end = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        # One aggregate over the span: reversed outcomes (distinct natural keys) per contract, customer
        # source and UTC day received.
        rows = (
            RawEvent.objects.filter(
                contract_id__in=contracts,
                kind=EventKind.OUTCOME_REVERSED,
                # The events that speak for the customer (WebhookSource.speaks_for_customer).
                source__kind=WebhookSource.Kind.CUSTOMER_SYSTEM,
                source__approved_at__lte=F("received_at"),
                received_at__gte=start,
                received_at__lt=end,
            )
            .annotate(day=TruncDate("received_at", tzinfo=dt.UTC))
            .values_list("contract_id", "source_id", "day")
            .annotate(n=Count("natural_key", distinct=True))
            .order_by()
        )
        for contract_id, source_id, day, n in rows:
            reversals[(contract_id, None)][day] += n
            reversals[(contract_id, source_id)][day] += n
        volume = (
            OutcomeDayCount.objects.filter(
                contract_id__in=contracts, day__gte=first_day, day__lte=last_day, outcomes__gt=0
            )
            .values_list("contract_id", "day")
            .annotate(n=Sum("outcomes"))
            .order_by()
        )
        for contract_id, day, n in volume:
            outcomes[contract_id][day] = n
        return {"reversals": reversals, "outcomes": outcomes}

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict | None:
        params = self.params(facts)
        held = money_moving_reversal(facts) if params.enabled else None
        if held is None:
            return None
        event, lock_date = held
        stats = prepared[self.name]
        contract_id = facts.outcome.contract_id
        day = utc_day(event.received_at)
        days_to_lock = None if lock_date is None else (lock_date - event.received_at) / dt.timedelta(days=1)
        near_lock = days_to_lock is not None and days_to_lock <= params.lock_days
        floor = params.lock_rate_threshold if near_lock else params.rate_threshold
        volume = stats["outcomes"].get(contract_id, {})
        scopes = {
            "contract": rate_statistic(params, day, stats["reversals"].get((contract_id, None), {}), volume),
            "source": rate_statistic(
                params, day, stats["reversals"].get((contract_id, event.source_id), {}), volume
            ),
        }
        anomalous = sorted(scope for scope, stat in scopes.items() if stat.is_anomalous(params, floor))
        details = {
            "event_id": event.event_id,
            "day": day.isoformat(),
            "window_days": params.window_days,
            "baseline_days": params.baseline_days,
            "min_reversals": params.min_reversals,
            "lock_date": iso(lock_date),
            "days_to_lock": None if days_to_lock is None else round(days_to_lock, 2),
            "near_lock": near_lock,
            **{scope: stat.trail(params, floor) for scope, stat in scopes.items()},
            "anomalous": anomalous,
        }
        # A person's decision stands: the statistic of a later look (late claims moving the volume) does
        # not undo it.
        if anomalous or REVERSAL_ANOMALY.code in facts.decisions:
            return flag(REVERSAL_ANOMALY.code, **details)
        return accept(REVERSAL_RATE_NORMAL, **details)

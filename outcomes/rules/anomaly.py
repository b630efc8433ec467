"""Rule 12: velocity and rate anomalies.

Velocity: the day's outcome count for a contract and type against its own baseline, by the robust
z-score 0.6745·(x - median)/MAD over the previous `baseline_days` days; above the threshold the
outcome is flagged (inflation: the customer's confirmation clears it). Applies only once the contract
has `min_history_days` of history (its first day with outcomes within the baseline days). Rejection
rate: a source whose outcomes created since the UTC day 30 days ago are mostly rejected has its new
outcomes held. Days are UTC days; the counts come from the daily counters (outcomes.counters), so
they cost the same whatever the history's size.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any

from django.db.models import Sum
from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from contracts.policy import RuleParams, percent_text
from outcomes.counters import utc_day
from outcomes.models import Decision, OutcomeDayCount, Party, SourceDayCount
from outcomes.rules.base import (
    BILLS_CUSTOMER,
    FlagReason,
    OutcomeFacts,
    Reason,
    Rule,
    Verdict,
    accept,
    flag,
    hold,
)


class AnomalyParams(RuleParams):
    """Rule 12: robust z-score of the daily count against the contract's own baseline; rejection rate."""

    title = "Anomalies"
    velocity_enabled: Annotated[
        bool, Field(description="Flag a day whose count is far above the contract's own history.")
    ] = True
    z_threshold: Annotated[
        float,
        Field(
            gt=0, le=100, description="How far above the usual a day must be to be flagged (robust z-score)."
        ),
    ] = 3.5
    baseline_days: Annotated[
        int, Field(ge=7, le=366, description="Days of history the usual is taken from.")
    ] = 28
    min_history_days: Annotated[
        int, Field(ge=3, le=366, description="Days of history needed before a day can be flagged.")
    ] = 14
    rejection_rate_threshold: Annotated[
        float,
        Field(
            gt=0,
            le=1,
            description="Share of a source's claims rejected at which its outcomes are held (0 to 1).",
        ),
    ] = 0.5
    rejection_rate_min_outcomes: Annotated[
        int, Field(ge=1, le=100_000, description="Outcomes needed before the rejection rate counts.")
    ] = 20

    @model_validator(mode="after")
    def _history_within_baseline(self) -> AnomalyParams:
        if self.min_history_days > self.baseline_days:
            raise PydanticCustomError(
                "history_exceeds_baseline", "min_history_days must not exceed baseline_days."
            )
        return self

    def describe(self) -> str | None:
        if not self.velocity_enabled:
            return None
        return (
            f"Daily volume is flagged above a robust z-score of {self.z_threshold:g} against "
            f"{self.baseline_days} days (after {self.min_history_days} days of history); "
            f"a rejection rate above {percent_text(Decimal(str(self.rejection_rate_threshold)) * 100)} "
            f"over {self.rejection_rate_min_outcomes}+ outcomes is flagged too."
        )


RATE_WINDOW = dt.timedelta(days=30)
RATE_HOLD = dt.timedelta(hours=24)
MAD_SCALE = 0.6745
# Suspected inflation: the customer, who would pay for a wrong decision, decides; or a vendor admin
# with a justification the customer sees.
VELOCITY_ANOMALY = FlagReason(
    "velocity_anomaly",
    (
        "Far more outcomes than usual on one day for this contract and type: possible inflation "
        "(the vendor billing too much)."
    ),
    suspicion="inflation",
    # Accepting bills the customer, so the vendor never accepts it alone; the customer, whom it
    # protects, may also reject it.
    on_accept=BILLS_CUSTOMER,
    deciders=frozenset({Party.CUSTOMER, Party.VENDOR_ADMIN}),
    silence_against=Party.VENDOR,
    evidence_to_clear=False,
    who_decides=(
        "An inflation flag (velocity_anomaly) is the customer's: accepting it bills the customer, so only "
        "the customer or a neutral operator accepts it; a vendor admin may only reject it, with a "
        "justification the customer can see."
    ),
)


def robust_z(value: float, history: Sequence[float]) -> float:
    """0.6745·(x - median)/MAD; with MAD 0, any excess over the median is infinitely anomalous."""
    median = statistics.median(history)
    mad = statistics.median(abs(h - median) for h in history)
    if mad == 0:
        return 0.0 if value <= median else float("inf")
    return MAD_SCALE * (value - median) / mad


class Anomaly(Rule[AnomalyParams]):
    name = "anomaly"
    params_model = AnomalyParams
    policy_key = "anomaly"
    reasons = (
        VELOCITY_ANOMALY,
        Reason("velocity_normal", "The day's count is within the contract's usual range."),
        Reason(
            "velocity_confirmed_by_customer",
            "An unusual day, but the customer's system confirmed this outcome.",
        ),
        Reason(
            "source_rejection_rate", "Most recent outcomes from this source were rejected: held for a day."
        ),
    )

    def prepare(self, batch: Sequence[OutcomeFacts], now: dt.datetime) -> dict[str, Any]:
        velocity: dict[tuple[Any, str], dict[dt.date, int]] = defaultdict(dict)
        pairs = {
            (f.outcome.contract_id, f.outcome.outcome_type_key): self.params(f)
            for f in batch
            if self.params(f).velocity_enabled and not f.is_billed
        }
        if pairs:
            # The daily counters (outcomes.counters) over every day a batch outcome's statistics read.
            days = max(p.baseline_days for p in pairs.values())
            occurred = [utc_day(f.outcome.occurred_at) for f in batch]
            rows = OutcomeDayCount.objects.filter(
                contract_id__in={c for c, _ in pairs},
                outcome_type_key__in={t for _, t in pairs},
                day__gte=min(occurred) - dt.timedelta(days=days),
                day__lte=max(occurred),
                outcomes__gt=0,
            ).values_list("contract_id", "outcome_type_key", "day", "outcomes")
            for contract_id, type_key, day, n in rows:
                velocity[(contract_id, type_key)][day] = n
        sources = {f.outcome.source_id for f in batch if f.outcome.source_id}
        rates = {
            source_id: (rejected, total)
            for source_id, total, rejected in SourceDayCount.objects.filter(
                source_id__in=sources, day__gte=utc_day(now - RATE_WINDOW)
            )
            .values_list("source_id")
            .annotate(total=Sum("outcomes"), rejected=Sum("rejected"))
            .order_by()
        }
        return {"velocity": velocity, "rates": rates}

    @staticmethod
    def _velocity_details(
        params: AnomalyParams, day: dt.date, counts: dict[dt.date, int]
    ) -> tuple[float, dict[str, Any]] | None:
        """The day's z-score and the verdict's details; None while the history is too short.

        Everything is read from the `baseline_days` days before `day` and the day itself, so the
        statistics of a day do not depend on what else is in the batch."""
        window_start = day - dt.timedelta(days=params.baseline_days)
        first_day = min((d for d in counts if window_start <= d <= day), default=day)
        if (day - first_day).days < params.min_history_days:
            return None
        history = [
            counts.get(day - dt.timedelta(days=offset), 0)
            for offset in range(1, params.baseline_days + 1)
            if day - dt.timedelta(days=offset) >= first_day
        ]
        count = counts.get(day, 0)
        z = robust_z(count, history)
        details = {
            "day": day.isoformat(),
            "count": count,
            "baseline_median": statistics.median(history),
            "z": None if z == float("inf") else round(z, 3),
            "z_threshold": params.z_threshold,
        }
        return z, details

    @staticmethod
    def _velocity(
        params: AnomalyParams, found: tuple[float, dict[str, Any]] | None
    ) -> tuple[Verdict, Verdict] | None:
        """The velocity verdicts of one contract, type and day: for an outcome the customer's system
        did not confirm, and for one it did (None while the history is too short). Every outcome of
        the group gets one of the two (shared: a verdict is never changed once made)."""
        if found is None:
            return None
        z, details = found
        if z > params.z_threshold:
            # The system of record confirmed it; a person's decision shows as such.
            return flag(VELOCITY_ANOMALY.code, **details), accept("velocity_confirmed_by_customer", **details)
        normal = accept("velocity_normal", **details)
        return normal, normal

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict | None:
        return self.evaluate_batch([facts], prepared, now)[0]

    def evaluate_batch(
        self, batch: Sequence[OutcomeFacts], prepared: dict[str, Any], now: dt.datetime
    ) -> list[Verdict | None]:
        """The batch at once: the velocity verdicts once per contract, type, UTC day of occurrence and
        parameters, the rejection rate's hold once per source and parameters."""
        stats = prepared[self.name]
        velocity: dict[tuple[Any, ...], tuple[Verdict, Verdict] | None] = {}
        held: dict[tuple[Any, int], Verdict | None] = {}
        verdicts: list[Verdict | None] = []
        for facts in batch:
            if facts.is_billed:
                verdicts.append(None)
                continue
            outcome = facts.outcome
            params = self.params(facts)
            verdict = None
            if params.velocity_enabled:
                day = outcome.occurred_at.astimezone(dt.UTC).date()
                # The parameters by identity: an outcome type's policy is one object (a policy equal to
                # another but not the same object only computes its group again).
                group = (outcome.contract_id, outcome.outcome_type_key, day, id(params))
                if group not in velocity:
                    counts = stats["velocity"].get((outcome.contract_id, outcome.outcome_type_key), {})
                    velocity[group] = self._velocity(params, self._velocity_details(params, day, counts))
                pair = velocity[group]
                verdict = None if pair is None else pair[1] if facts.confirmations else pair[0]
                if verdict is not None and verdict.decision == Decision.FLAG:
                    verdicts.append(verdict)
                    continue
            source = (outcome.source_id, id(params))
            if source not in held:
                held[source] = self._rejection_rate(
                    params, stats["rates"].get(outcome.source_id, (0, 0)), now
                )
            verdicts.append(held[source] or verdict)
        return verdicts

    @staticmethod
    def _rejection_rate(params: AnomalyParams, rate: tuple[int, int], now: dt.datetime) -> Verdict | None:
        """The hold of a source whose recent outcomes were mostly rejected, else None."""
        rejected, total = rate
        if (
            total >= params.rejection_rate_min_outcomes
            and rejected / total >= params.rejection_rate_threshold
        ):
            return hold(
                now + RATE_HOLD,
                "source_rejection_rate",
                rejected=rejected,
                total=total,
                threshold=params.rejection_rate_threshold,
            )
        return None

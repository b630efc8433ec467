"""Rule 16 (optional): bill only outcomes above a counterfactual baseline agreed before the work began:
the first N outcomes of each period are what the customer's own process would have achieved."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Any

from django.db.models import Exists, OuterRef
from pydantic import Field

from contracts.periods import period_at
from contracts.policy import RuleParams, count_text
from outcomes.models import Decision, Outcome, OutcomeState, OutcomeVerdict
from outcomes.rules.base import OutcomeFacts, Reason, Rule, Verdict, accept, iso, reject
from outcomes.verdict_trail import superseded


class BaselineLiftParams(RuleParams):
    """Rule 16: bill only outcomes above a counterfactual baseline agreed before the work began."""

    title = "Baseline lift"
    enabled: Annotated[
        bool, Field(description="Bill only the outcomes above a baseline agreed before the work began.")
    ] = False
    baseline_units_per_period: Annotated[
        int, Field(ge=0, le=10**12, description="Outcomes per period that would have happened anyway.")
    ] = 0

    def describe(self) -> str | None:
        if not self.enabled:
            return None
        return (
            f"Only outcomes above a baseline of {count_text(self.baseline_units_per_period)}"
            " per period are billed."
        )


WITHIN_BASELINE = "within_baseline"


def _period_of(facts: OutcomeFacts) -> tuple[dt.datetime, dt.datetime]:
    contract = facts.contract
    period = period_at(
        facts.outcome.occurred_at,
        tz_name=contract.timezone,
        anchor_day=contract.anchor_day,
        months=contract.period_count,
        contract_start=contract.starts_at,
        contract_end=contract.ends_at,
    )
    return period.start, period.end


class BaselineLift(Rule[BaselineLiftParams]):
    name = "baseline_lift"
    params_model = BaselineLiftParams
    policy_key = "baseline_lift"
    reasons = (
        Reason(
            "within_baseline", "Among the period's first outcomes, the customer's own baseline: not billed."
        ),
        Reason("above_baseline", "Above the period's agreed baseline: the vendor's lift."),
    )

    def prepare(self, batch: Sequence[OutcomeFacts], now: dt.datetime) -> dict[tuple[Any, ...], set[int]]:
        """For each (contract, type, period) in the batch, the ids of its first N outcomes (one LIMIT query each)."""
        baseline: dict[tuple[Any, ...], set[int]] = {}
        # Another rule's current (latest) verdict on the outcome is a reject.
        rejected_elsewhere = (
            OutcomeVerdict.objects.filter(outcome_id=OuterRef("pk"), decision=Decision.REJECT)
            .exclude(rule=self.name)
            .exclude(superseded())
        )
        for facts in batch:
            params = self.params(facts)
            if not params.enabled:
                continue
            start, end = _period_of(facts)
            key = (facts.outcome.contract_id, facts.outcome.outcome_type_key, start)
            if key in baseline:
                continue
            baseline[key] = set(
                Outcome.objects.filter(
                    contract_id=facts.outcome.contract_id,
                    outcome_type_key=facts.outcome.outcome_type_key,
                    occurred_at__gte=start,
                    occurred_at__lt=end,
                )
                # Outcomes reversed or refused by another rule (bad evidence, a merged split, never
                # confirmed, even when this rule decided first) take no baseline unit, but the ones only
                # this rule rejected keep theirs: otherwise the baseline would slide on to each new outcome.
                .exclude(state=OutcomeState.REVERSED)
                .exclude(Exists(rejected_elsewhere))
                .order_by("occurred_at", "natural_key")
                .values_list("id", flat=True)[: params.baseline_units_per_period]
            )
        return baseline

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict | None:
        params = self.params(facts)
        if not params.enabled:
            return None
        start, _ = _period_of(facts)
        within = prepared[self.name][(facts.outcome.contract_id, facts.outcome.outcome_type_key, start)]
        details = {"baseline_units_per_period": params.baseline_units_per_period, "period_start": iso(start)}
        if facts.outcome.pk in within:
            return reject(WITHIN_BASELINE, **details)
        return accept("above_baseline", **details)

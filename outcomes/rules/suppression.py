"""Rule 14: the customer's confirmations fall against the vendor's steady activity (the confirmation
ratio drops below a share of its own baseline). Ratios are over UTC days from the daily counters
(outcomes.counters): the last 7 days (today included) against the `baseline_days` before them. Then an unconfirmed claim is flagged for the vendor's
evidence instead of rejected (see the confirmation rule), so silence cannot avoid paying."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from django.db.models import Min, Q, Sum
from django.db.models.functions import Coalesce
from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from contracts.policy import RuleParams
from outcomes.counters import utc_day
from outcomes.models import Decision, OutcomeDayCount, OutcomeState, OutcomeVerdict, Party
from outcomes.rules.base import FlagReason, OutcomeFacts, Reason, Rule, Verdict, accept, flag


class SuppressionParams(RuleParams):
    """Rule 14: the customer's confirmations fall against the vendor's steady activity."""

    title = "Withheld confirmations"
    enabled: Annotated[
        bool,
        Field(description="Flag when the customer's confirmations drop while the vendor's activity holds."),
    ] = True
    min_ratio_of_baseline: Annotated[
        float,
        Field(
            gt=0,
            lt=1,
            description="Confirmations below this share of their usual ratio to activity are flagged (0 to 1).",
        ),
    ] = 1 / 3
    baseline_days: Annotated[
        int, Field(ge=7, le=366, description="Days of history the usual is taken from.")
    ] = 28
    min_history_days: Annotated[
        int, Field(ge=3, le=366, description="Days of history needed before anything is flagged.")
    ] = 14

    @model_validator(mode="after")
    def _history_within_baseline(self) -> SuppressionParams:
        if self.min_history_days > self.baseline_days:
            raise PydanticCustomError(
                "history_exceeds_baseline", "min_history_days must not exceed baseline_days."
            )
        return self

    def describe(self) -> str | None:
        if not self.enabled:
            return None
        return (
            f"Flagged when the customer's confirmations fall below "
            f"{round(self.min_ratio_of_baseline * 100)} % of the vendor's steady activity "
            f"({self.baseline_days}-day baseline)."
        )


RECENT_DAYS = 7
# The flag this rule and the confirmation rule raise: the vendor, who would lose from a wrong decision,
# clears it with its evidence.
SUSPECTED = FlagReason(
    "suppression_suspected",
    (
        "The customer's system confirms far fewer outcomes than it used to: possible suppression "
        "(the customer confirming too little)."
    ),
    suspicion="suppression",
    deciders=frozenset({Party.VENDOR}),
    evidence_to_clear=True,
    who_decides="A suppression flag is the vendor's to clear, with evidence.",
)
SUPPRESSION_SUSPECTED = SUSPECTED.code
# A contract without outcomes in the window: what the aggregate over no rows gives.
EMPTY: dict[str, Any] = {
    "first_day": None,
    "recent": 0,
    "recent_confirmed": 0,
    "baseline": 0,
    "baseline_confirmed": 0,
}


@dataclass(frozen=True)
class SuppressionStats:
    """Per contract, its confirmation ratios; and which outcomes of the batch carry an open flag."""

    contracts: dict[Any, dict[str, Any]]
    flagged: frozenset[int]

    def in_question(self, facts: OutcomeFacts) -> dict[str, Any] | None:
        """The contract's ratios when suppression is in question for this outcome, else None.

        It is when suppression is suspected now, and also when this outcome's flag is still open or a
        person has decided it: a flag stands until decided and a decision stands once made, even after
        the ratios have moved on (the quiet week leaving the window must not turn the claim into an
        "unconfirmed" rejection, whoever triggers the re-evaluation).
        """
        stats = self.contracts.get(facts.outcome.contract_id)
        if stats is None:
            return None
        if stats["suspected"] or facts.outcome.pk in self.flagged or SUPPRESSION_SUSPECTED in facts.decisions:
            return stats
        return None


class Suppression(Rule[SuppressionParams]):
    name = "suppression"
    params_model = SuppressionParams
    policy_key = "suppression"
    reasons = (
        SUSPECTED,
        Reason("confirmations_steady", "The customer's system confirms as it used to."),
    )

    def prepare(self, batch: Sequence[OutcomeFacts], now: dt.datetime) -> SuppressionStats:
        contracts = {f.outcome.contract_id: self.params(f) for f in batch if self.params(f).enabled}
        # UTC days from the daily counters (outcomes.counters): the recent week is today and the six
        # days before it; the baseline, the `baseline_days` days before that.
        today = utc_day(now)
        rows = _day_counts(contracts, today)
        stats = {
            contract_id: _ratios(rows.get(contract_id, EMPTY), params, today)
            for contract_id, params in contracts.items()
        }
        return SuppressionStats(contracts=stats, flagged=self._open_flags(batch, contracts))

    def _open_flags(self, batch: Sequence[OutcomeFacts], contracts: Mapping[Any, object]) -> frozenset[int]:
        """The outcomes of the batch whose latest verdict of this rule is a flag."""
        flagged = [
            f.outcome.pk
            for f in batch
            if f.outcome.state == OutcomeState.FLAGGED and f.outcome.contract_id in contracts
        ]
        latest: dict[int, str] = {}
        if flagged:
            for outcome_id, decision in (
                OutcomeVerdict.objects.filter(outcome_id__in=flagged, rule=self.name)
                .order_by("id")
                .values_list("outcome_id", "decision")
            ):
                latest[outcome_id] = decision
        return frozenset(pk for pk, decision in latest.items() if decision == Decision.FLAG)

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict | None:
        suppression: SuppressionStats = prepared[self.name]
        stats = suppression.contracts.get(facts.outcome.contract_id)
        if stats is None or facts.is_billed:
            return None
        # Imported here: the confirmation rule imports this module (its flag is this rule's suspicion).
        from outcomes.rules.confirmation import Confirmation

        window_closed = now >= facts.claimed_at + dt.timedelta(
            hours=Confirmation.params(facts).match_window_hours
        )
        if suppression.in_question(facts) and facts.confirmed_at is None and window_closed:
            return flag(SUPPRESSION_SUSPECTED, **stats)
        return accept("confirmations_steady", **stats)


def _day_counts(contracts: Mapping[Any, SuppressionParams], today: dt.date) -> dict[Any, dict[str, Any]]:
    """Per contract, its outcomes and confirmations over the recent week and over its baseline (and its
    first day with outcomes): one aggregate per baseline length, usually one for the whole batch."""
    recent_from = today - dt.timedelta(days=RECENT_DAYS - 1)
    by_baseline: dict[int, list[Any]] = defaultdict(list)
    for contract_id, params in contracts.items():
        by_baseline[params.baseline_days].append(contract_id)
    rows: dict[Any, dict[str, Any]] = {}
    recent, baseline = Q(day__gte=recent_from), Q(day__lt=recent_from)
    for baseline_days, contract_ids in by_baseline.items():
        for row in (
            OutcomeDayCount.objects.filter(
                contract_id__in=contract_ids,
                day__gte=recent_from - dt.timedelta(days=baseline_days),
                day__lte=today,
                outcomes__gt=0,
            )
            .values("contract_id")
            .annotate(
                first_day=Min("day"),
                recent=Coalesce(Sum("outcomes", filter=recent), 0),
                recent_confirmed=Coalesce(Sum("confirmed", filter=recent), 0),
                baseline=Coalesce(Sum("outcomes", filter=baseline), 0),
                baseline_confirmed=Coalesce(Sum("confirmed", filter=baseline), 0),
            )
            .order_by()
        ):
            rows[row.pop("contract_id")] = row
    return rows


def _ratios(row: dict[str, Any], params: SuppressionParams, today: dt.date) -> dict[str, Any]:
    """A contract's confirmation ratios, and whether they suggest suppression."""
    enough_history = (
        row["first_day"] is not None
        and row["first_day"] <= today - dt.timedelta(days=params.min_history_days)
        and row["baseline_confirmed"] > 0
    )
    baseline_ratio = row["baseline_confirmed"] / row["baseline"] if row["baseline"] else 0.0
    recent_ratio = row["recent_confirmed"] / row["recent"] if row["recent"] else None
    # "Steady activity": the vendor still claims at least half its baseline daily rate.
    steady = (
        row["recent"] / RECENT_DAYS >= 0.5 * row["baseline"] / params.baseline_days
        if row["baseline"]
        else False
    )
    suspected = bool(
        enough_history
        and steady
        and recent_ratio is not None
        and recent_ratio < params.min_ratio_of_baseline * baseline_ratio
    )
    return {
        "suspected": suspected,
        "recent_confirmation_ratio": None if recent_ratio is None else round(recent_ratio, 4),
        "baseline_confirmation_ratio": round(baseline_ratio, 4),
        "min_ratio_of_baseline": round(params.min_ratio_of_baseline, 4),
    }

"""Rule 14: the customer's confirmations fall against the vendor's steady activity (the confirmation
ratio drops below a share of its own baseline). Ratios are over UTC days from the daily counters
(outcomes.counters), each against the `baseline_days` before the last 7 days: the last 7 days (today
included), and the 1 and 3 days ending on the claim's own day, so that a stop of a day or two is
caught too. Then an unconfirmed claim is flagged for the vendor's evidence instead of rejected (see
the confirmation rule), so silence cannot avoid paying."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from django.db.models import Min, Q, Sum
from django.db.models.functions import Coalesce
from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from contracts.policy import RuleParams
from outcomes.counters import utc_day
from outcomes.models import Decision, OutcomeDayCount, OutcomeState, OutcomeVerdict, Party
from outcomes.rules.base import BILLS_CUSTOMER, FlagReason, OutcomeFacts, Reason, Rule, Verdict, accept, flag
from outcomes.verdict_trail import superseded


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
    min_outcomes_1_day: Annotated[
        int,
        Field(
            ge=1,
            le=100_000,
            description=(
                "Claims the vendor must have made on a claim's day for that one day's fall in "
                "confirmations to count."
            ),
        ),
    ] = 5
    min_outcomes_3_days: Annotated[
        int,
        Field(
            ge=1,
            le=100_000,
            description=(
                "Claims the vendor must have made over the three days ending on a claim's day for "
                "their fall in confirmations to count."
            ),
        ),
    ] = 10

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
            f"({self.baseline_days}-day baseline): over a week, or over the one or three days of a claim "
            f"(with at least {self.min_outcomes_1_day} or {self.min_outcomes_3_days} claims)."
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
    silence_against=Party.CUSTOMER,
    evidence_to_clear=True,
    on_accept=BILLS_CUSTOMER,
    who_decides=(
        "Accepting a suppression flag bills the customer: the customer accepts it, or an operator does with the "
        "vendor's evidence; the vendor may reject it (give the claim up)."
    ),
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
class Baseline:
    """What a contract's short windows are compared with: its baseline, per day of it."""

    params: SuppressionParams
    enough_history: bool
    confirmation_ratio: float
    outcomes_per_day: float
    confirmed_per_day: float


# The short windows: name, length in days, the parameter holding its minimum count of claims.
SHORT_WINDOWS = (("1_day", 1, "min_outcomes_1_day"), ("3_days", 3, "min_outcomes_3_days"))


@dataclass(frozen=True)
class SuppressionStats:
    """Per contract, its 7-day confirmation ratios, its baseline and its daily counts around the batch's
    claim days; and which outcomes of the batch carry an open flag."""

    contracts: dict[Any, dict[str, Any]]
    flagged: frozenset[int]
    baselines: dict[Any, Baseline] = field(default_factory=dict)
    # (contract id, UTC day) -> (outcomes, confirmed), for the days the short windows of the batch cover.
    days: dict[tuple[Any, dt.date], tuple[int, int]] = field(default_factory=dict)
    # The ratios by (contract id, UTC day): the batch's outcomes of one contract and day share them, so
    # they are computed once (both this rule and confirmation ask).
    judged: dict[tuple[Any, dt.date], dict[str, Any] | None] = field(default_factory=dict)

    def ratios(self, facts: OutcomeFacts) -> dict[str, Any] | None:
        """The ratios this outcome is judged by (None when its contract is not checked): the contract's
        week, and the 1 and 3 days ending on the outcome's own UTC day of occurrence. Shared by the
        outcomes of a contract and day: read, never changed."""
        key = (facts.outcome.contract_id, utc_day(facts.outcome.occurred_at))
        if key not in self.judged:
            self.judged[key] = self._judge(*key)
        return self.judged[key]

    def _judge(self, contract_id: Any, day: dt.date) -> dict[str, Any] | None:
        stats = self.contracts.get(contract_id)
        baseline = self.baselines.get(contract_id)
        if stats is None or baseline is None:
            return stats
        windows: dict[str, dict[str, Any]] = {}
        triggered: list[str] = []
        for name, length, minimum in SHORT_WINDOWS:
            first = day - dt.timedelta(days=length - 1)
            counts = [
                self.days.get((contract_id, first + dt.timedelta(days=i)), (0, 0)) for i in range(length)
            ]
            outcomes, confirmed = sum(c[0] for c in counts), sum(c[1] for c in counts)
            windows[name] = {
                "first_day": first.isoformat(),
                "last_day": day.isoformat(),
                "outcomes": outcomes,
                "confirmed": confirmed,
                "confirmation_ratio": round(confirmed / outcomes, 4) if outcomes else None,
            }
            if _short_fall(outcomes, confirmed, length, getattr(baseline.params, minimum), baseline):
                triggered.append(name)
        if stats["suspected"]:
            triggered.append("7_days")
        return {**stats, "suspected": bool(triggered), "triggered_by": triggered, "short_windows": windows}

    def in_question(self, facts: OutcomeFacts) -> dict[str, Any] | None:
        """The outcome's ratios when suppression is in question for it, else None.

        It is when suppression is suspected now, and also when this outcome's flag is still open or a
        person has decided it: a flag stands until decided and a decision stands once made, even after
        the ratios have moved on (the quiet week leaving the window must not turn the claim into an
        "unconfirmed" rejection, whoever triggers the re-evaluation).
        """
        stats = self.ratios(facts)
        return stats if stats is not None and self.questioned(facts, stats) else None

    def questioned(self, facts: OutcomeFacts, stats: dict[str, Any]) -> bool:
        """Whether suppression is in question for the outcome, given its `ratios`."""
        return bool(
            stats["suspected"] or facts.outcome.pk in self.flagged or SUPPRESSION_SUSPECTED in facts.decisions
        )


def _short_fall(outcomes: int, confirmed: int, length: int, minimum: int, baseline: Baseline) -> bool:
    """Whether confirmations fell over a short window while the vendor's activity held.

    Besides the share, the number of confirmations per day must have fallen as far: extra claims of
    the vendor's own (which its customer rightly leaves unconfirmed) lower the share but not that
    number, so padding a day cannot raise the suspicion, and with it a flag, on purpose.
    """
    share = baseline.params.min_ratio_of_baseline
    return bool(
        baseline.enough_history
        and outcomes >= minimum
        and outcomes / length >= 0.5 * baseline.outcomes_per_day
        and confirmed / outcomes < share * baseline.confirmation_ratio
        and confirmed / length < share * baseline.confirmed_per_day
    )


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
        baselines = {
            contract_id: _baseline(rows.get(contract_id, EMPTY), params, today)
            for contract_id, params in contracts.items()
        }
        claim_days = [utc_day(f.outcome.occurred_at) for f in batch if f.outcome.contract_id in contracts]
        return SuppressionStats(
            contracts=stats,
            flagged=self._open_flags(batch, contracts),
            baselines=baselines,
            days=_days_around(contracts, claim_days),
        )

    def _open_flags(self, batch: Sequence[OutcomeFacts], contracts: Mapping[Any, object]) -> frozenset[int]:
        """The outcomes of the batch whose latest verdict of this rule is a flag."""
        flagged = [
            f.outcome.pk
            for f in batch
            if f.outcome.state == OutcomeState.FLAGGED and f.outcome.contract_id in contracts
        ]
        if not flagged:
            return frozenset()
        return frozenset(
            OutcomeVerdict.objects.filter(outcome_id__in=flagged, rule=self.name, decision=Decision.FLAG)
            .exclude(superseded())
            .values_list("outcome_id", flat=True)
        )

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict | None:
        return self.evaluate_batch([facts], prepared, now)[0]

    def evaluate_batch(
        self, batch: Sequence[OutcomeFacts], prepared: dict[str, Any], now: dt.datetime
    ) -> list[Verdict | None]:
        """The batch at once: the outcomes of a contract and UTC day share their ratios, and so their
        two possible verdicts, made once (shared: a verdict is never changed once made)."""
        # Imported here: the confirmation rule imports this module (its flag is this rule's suspicion).
        from outcomes.rules.confirmation import Confirmation

        suppression: SuppressionStats = prepared[self.name]
        made: dict[int, tuple[Verdict, Verdict]] = {}  # by the identity of the ratios they carry
        verdicts: list[Verdict | None] = []
        for facts in batch:
            stats = suppression.ratios(facts)
            if stats is None or facts.is_billed:
                verdicts.append(None)
                continue
            pair = made.get(id(stats))
            if pair is None:
                pair = made[id(stats)] = (
                    flag(SUPPRESSION_SUSPECTED, **stats),
                    accept("confirmations_steady", **stats),
                )
            window_closed = now >= facts.claimed_at + dt.timedelta(
                hours=Confirmation.params(facts).match_window_hours
            )
            suspected = suppression.questioned(facts, stats) and facts.confirmed_at is None and window_closed
            verdicts.append(pair[0] if suspected else pair[1])
        return verdicts


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


def _days_around(
    contracts: Mapping[Any, SuppressionParams], claim_days: Sequence[dt.date]
) -> dict[tuple[Any, dt.date], tuple[int, int]]:
    """Per contract and UTC day, its outcomes and confirmations over the days the batch's short windows
    cover (from two days before its earliest claim day to its latest): one aggregate for the batch."""
    if not contracts or not claim_days:
        return {}
    longest = max(length for _, length, _ in SHORT_WINDOWS)
    return {
        (row["contract_id"], row["day"]): (row["outcomes"], row["confirmed"])
        for row in OutcomeDayCount.objects.filter(
            contract_id__in=list(contracts),
            day__gte=min(claim_days) - dt.timedelta(days=longest - 1),
            day__lte=max(claim_days),
        )
        .values("contract_id", "day")
        .annotate(outcomes=Sum("outcomes"), confirmed=Sum("confirmed"))
        .order_by()
    }


def _baseline(row: dict[str, Any], params: SuppressionParams, today: dt.date) -> Baseline:
    """A contract's baseline for its short windows: its rates per day over the baseline days it has
    history for (a contract younger than `baseline_days` is not diluted by the days before it)."""
    recent_from = today - dt.timedelta(days=RECENT_DAYS - 1)
    first = row["first_day"]
    span = (
        (recent_from - max(first, recent_from - dt.timedelta(days=params.baseline_days))).days if first else 0
    )
    return Baseline(
        params=params,
        enough_history=_enough_history(row, params, today),
        confirmation_ratio=row["baseline_confirmed"] / row["baseline"] if row["baseline"] else 0.0,
        outcomes_per_day=row["baseline"] / span if span > 0 else 0.0,
        confirmed_per_day=row["baseline_confirmed"] / span if span > 0 else 0.0,
    )


def _enough_history(row: dict[str, Any], params: SuppressionParams, today: dt.date) -> bool:
    return bool(
        row["first_day"] is not None
        and row["first_day"] <= today - dt.timedelta(days=params.min_history_days)
        and row["baseline_confirmed"] > 0
    )


def _ratios(row: dict[str, Any], params: SuppressionParams, today: dt.date) -> dict[str, Any]:
    """A contract's confirmation ratios, and whether they suggest suppression."""
    enough_history = _enough_history(row, params, today)
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

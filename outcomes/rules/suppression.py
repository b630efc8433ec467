"""Rule 14: the customer's confirmations fall against the vendor's steady activity (the confirmation
ratio drops below a share of its own baseline). Then an unconfirmed claim is flagged for the vendor's
evidence instead of rejected (see the confirmation rule), so silence cannot avoid paying."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db.models import Count, Min, Q

from outcomes.models import Outcome
from outcomes.rules.base import OutcomeFacts, Rule, Verdict, accept, flag

RECENT = dt.timedelta(days=7)
SUPPRESSION_SUSPECTED = "suppression_suspected"


def suppression_in_question(facts: OutcomeFacts, stats: dict[str, Any]) -> bool:
    """Suppression is suspected now, or was when a person decided this outcome's flag: the decision
    stands even once the ratio has moved on (a quiet week later would otherwise reject the claim)."""
    return bool(stats["suspected"]) or SUPPRESSION_SUSPECTED in facts.decisions


class Suppression(Rule):
    name = "suppression"

    def prepare(self, batch: Sequence[OutcomeFacts], now: dt.datetime) -> dict[Any, dict[str, Any]]:
        contracts = {
            f.outcome.contract_id: f.policy.suppression for f in batch if f.policy.suppression.enabled
        }
        stats: dict[Any, dict[str, Any]] = {}
        for contract_id, params in contracts.items():
            recent_from = now - RECENT
            baseline_from = recent_from - dt.timedelta(days=params.baseline_days)
            row = Outcome.objects.filter(
                contract_id=contract_id, occurred_at__gte=baseline_from, occurred_at__lt=now
            ).aggregate(
                first_at=Min("occurred_at"),
                recent=Count("id", filter=Q(occurred_at__gte=recent_from)),
                recent_confirmed=Count(
                    "id", filter=Q(occurred_at__gte=recent_from, confirmed_at__isnull=False)
                ),
                baseline=Count("id", filter=Q(occurred_at__lt=recent_from)),
                baseline_confirmed=Count(
                    "id", filter=Q(occurred_at__lt=recent_from, confirmed_at__isnull=False)
                ),
            )
            enough_history = (
                row["first_at"] is not None
                and row["first_at"] <= now - dt.timedelta(days=params.min_history_days)
                and row["baseline_confirmed"] > 0
            )
            baseline_ratio = row["baseline_confirmed"] / row["baseline"] if row["baseline"] else 0.0
            recent_ratio = row["recent_confirmed"] / row["recent"] if row["recent"] else None
            # "Steady activity": the vendor still claims at least half its baseline daily rate.
            steady = (
                row["recent"] / RECENT.days >= 0.5 * row["baseline"] / params.baseline_days
                if row["baseline"]
                else False
            )
            suspected = bool(
                enough_history
                and steady
                and recent_ratio is not None
                and recent_ratio < params.min_ratio_of_baseline * baseline_ratio
            )
            stats[contract_id] = {
                "suspected": suspected,
                "recent_confirmation_ratio": None if recent_ratio is None else round(recent_ratio, 4),
                "baseline_confirmation_ratio": round(baseline_ratio, 4),
                "min_ratio_of_baseline": round(params.min_ratio_of_baseline, 4),
            }
        return stats

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict | None:
        stats = prepared[self.name].get(facts.outcome.contract_id)
        if stats is None or facts.is_billed:
            return None
        window_closed = now >= facts.claimed_at + dt.timedelta(
            hours=facts.policy.confirmation.match_window_hours
        )
        if suppression_in_question(facts, stats) and facts.confirmed_at is None and window_closed:
            return flag(SUPPRESSION_SUSPECTED, **stats)
        return accept("confirmations_steady", **stats)

"""Rule 10: outcomes sharing a parent key (one conversation, one requester) within a window are billed
once: the earliest is kept, the rest are merged into it with a reason."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import Field

from contracts.policy import RuleParams
from outcomes.models import Outcome, OutcomeState
from outcomes.rules.base import OutcomeFacts, Reason, Rule, Verdict, accept, reject


class SplitDetectionParams(RuleParams):
    """Rule 10: outcomes sharing a parent key within a window are billed once."""

    title = "Split detection"
    enabled: Annotated[
        bool,
        Field(description="Bill once the outcomes that share a parent key (one conversation, one account)."),
    ] = False
    window_hours: Annotated[
        int, Field(gt=0, le=366 * 24, description="Hours within which outcomes of one parent count as one.")
    ] = 24

    def describe(self) -> str | None:
        if not self.enabled:
            return None
        return f"Outcomes sharing a parent key within {self.window_hours} h are billed once."


GroupKey = tuple[Any, str, str]


class SplitDetection(Rule[SplitDetectionParams]):
    name = "split_detection"
    params_model = SplitDetectionParams
    policy_key = "split_detection"
    reasons = (
        Reason("first_of_parent", "The first outcome of its parent within the window: kept."),
        Reason(
            "split_merged", "Another outcome of the same parent within the window is kept: merged into it."
        ),
    )

    def prepare(
        self, batch: Sequence[OutcomeFacts], now: dt.datetime
    ) -> dict[GroupKey, list[tuple[dt.datetime, str, int]]]:
        wanted = [f for f in batch if self.params(f).enabled and f.outcome.parent_key]
        if not wanted:
            return {}
        siblings: dict[GroupKey, list[tuple[dt.datetime, str, int]]] = defaultdict(list)
        rows = (
            Outcome.objects.filter(
                contract_id__in={f.outcome.contract_id for f in wanted},
                outcome_type_key__in={f.outcome.outcome_type_key for f in wanted},
                parent_key__in={f.outcome.parent_key for f in wanted},
            )
            .exclude(state=OutcomeState.REVERSED)
            .values_list("contract_id", "outcome_type_key", "parent_key", "occurred_at", "natural_key", "id")
        )
        for contract_id, type_key, parent_key, occurred_at, natural_key, outcome_id in rows:
            siblings[(contract_id, type_key, parent_key)].append((occurred_at, natural_key, outcome_id))
        for group in siblings.values():
            group.sort()
        return siblings

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict | None:
        params = self.params(facts)
        outcome = facts.outcome
        if not params.enabled or not outcome.parent_key:
            return None
        window = dt.timedelta(hours=params.window_hours)
        group = prepared[self.name].get(
            (outcome.contract_id, outcome.outcome_type_key, outcome.parent_key), []
        )
        # Walk the parent's outcomes in (time, natural key) order: each window starts at a kept one.
        kept: tuple[dt.datetime, str, int] | None = None
        for sibling in group:
            if kept is None or sibling[0] - kept[0] > window:
                kept = sibling
            if sibling[2] == outcome.pk:
                break
        if kept is None or kept[2] == outcome.pk:
            return accept("first_of_parent", parent_key=outcome.parent_key, window_hours=params.window_hours)
        return reject(
            "split_merged",
            parent_key=outcome.parent_key,
            kept_outcome_id=kept[2],
            kept_natural_key=kept[1],
            window_hours=params.window_hours,
        )

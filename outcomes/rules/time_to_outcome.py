"""Rule 5: from task start (an evidence field) to outcome, a minimum and a maximum duration."""

from __future__ import annotations

import datetime as dt
from typing import Any

from outcomes.rules.base import OutcomeFacts, Reason, Rule, Verdict, accept, reject


def parse_instant(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        instant = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return instant if instant.utcoffset() is not None else None


class TimeToOutcome(Rule):
    name = "time_to_outcome"
    reasons = (
        Reason("task_start_missing", "The evidence gives no task start (an instant with an offset)."),
        Reason("too_fast", "Done faster than the contract's minimum duration."),
        Reason("too_slow", "Done slower than the contract's maximum duration."),
        Reason("duration_plausible", "Done within the contract's duration bounds."),
    )

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict | None:
        params = facts.policy.time_to_outcome
        if not params.enabled:
            return None
        started_at = parse_instant(facts.evidence.get(params.started_at_field))
        if started_at is None:
            return reject("task_start_missing", field=params.started_at_field)
        seconds = (facts.outcome.occurred_at - started_at).total_seconds()
        bounds = {"seconds": seconds, "min_seconds": params.min_seconds, "max_seconds": params.max_seconds}
        if seconds < params.min_seconds:
            return reject("too_fast", **bounds)
        if seconds > params.max_seconds:
            return reject("too_slow", **bounds)
        return accept("duration_plausible", **bounds)

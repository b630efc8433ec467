"""Rule 5: from task start (an evidence field) to outcome, a minimum and a maximum duration."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from contracts.policy import DAY, RuleParams
from outcomes.rules.base import OutcomeFacts, Reason, Rule, Verdict, accept, reject


class TimeToOutcomeParams(RuleParams):
    """Rule 5: seconds from task start (evidence field) to outcome must fall inside bounds."""

    title = "Time to outcome"
    enabled: Annotated[bool, Field(description="Reject outcomes reached implausibly fast or slowly.")] = False
    started_at_field: Annotated[
        str,
        Field(min_length=1, max_length=64, description="The evidence field holding when the task started."),
    ] = "started_at"
    min_seconds: Annotated[
        int, Field(ge=0, le=365 * DAY, description="Seconds from start to outcome; faster is rejected.")
    ] = 0
    max_seconds: Annotated[
        int, Field(gt=0, le=3 * 365 * DAY, description="Seconds from start to outcome; slower is rejected.")
    ] = 120 * DAY

    @model_validator(mode="after")
    def _min_below_max(self) -> TimeToOutcomeParams:
        if self.min_seconds >= self.max_seconds:
            raise PydanticCustomError("min_not_below_max", "min_seconds must be below max_seconds.")
        return self

    def describe(self) -> str | None:
        if not self.enabled:
            return None
        return (
            f"From {self.started_at_field} to the outcome takes between "
            f"{self.min_seconds:,} s and {self.max_seconds:,} s."
        )


def parse_instant(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        instant = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return instant if instant.utcoffset() is not None else None


class TimeToOutcome(Rule[TimeToOutcomeParams]):
    name = "time_to_outcome"
    params_model = TimeToOutcomeParams
    policy_key = "time_to_outcome"
    reasons = (
        Reason("task_start_missing", "The evidence gives no task start (an instant with an offset)."),
        Reason("too_fast", "Done faster than the contract's minimum duration."),
        Reason("too_slow", "Done slower than the contract's maximum duration."),
        Reason("duration_plausible", "Done within the contract's duration bounds."),
    )

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict | None:
        params = self.params(facts)
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

"""Verification policy: per outcome type, which anti-gaming rules apply and their parameters.

One model per rule in PRODUCT.md ("Rules that resist gaming"); every parameter has a documented
default and bounds, so a stored policy is always complete and valid. The rules that evaluate
these parameters live in the outcomes app; authenticity and idempotency are enforced at
ingestion and have no parameters here.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

HOUR = 3600
DAY = 24 * HOUR

EvidenceKind = Literal["string", "integer", "number", "boolean", "datetime", "sha256", "url"]


class RuleParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventTimeParams(RuleParams):
    """Rule 4: the outcome happened while the contract was in force, not in the future, not too late."""

    max_clock_skew_seconds: Annotated[int, Field(ge=0, le=HOUR)] = 300
    late_arrival_days: Annotated[int, Field(ge=0, le=366)] = 35


class TimeToOutcomeParams(RuleParams):
    """Rule 5: seconds from task start (evidence field) to outcome must fall inside bounds."""

    enabled: bool = False
    started_at_field: Annotated[str, Field(min_length=1, max_length=64)] = "started_at"
    min_seconds: Annotated[int, Field(ge=0, le=365 * DAY)] = 0
    max_seconds: Annotated[int, Field(gt=0, le=3 * 365 * DAY)] = 120 * DAY

    @model_validator(mode="after")
    def _min_below_max(self) -> TimeToOutcomeParams:
        if self.min_seconds >= self.max_seconds:
            raise PydanticCustomError("min_not_below_max", "min_seconds must be below max_seconds.")
        return self


class EvidenceParams(RuleParams):
    """Rule 6: evidence fields that must be present and well-formed, by kind."""

    required_fields: Annotated[dict[str, EvidenceKind], Field(max_length=50)] = Field(default_factory=dict)


class ConfirmationParams(RuleParams):
    """Rule 7: a vendor claim needs the customer's confirmation of the same natural key."""

    required: bool = True
    match_window_hours: Annotated[int, Field(gt=0, le=366 * 24)] = 72
    on_unmatched: Literal["reject", "bill_unverified", "silence_is_consent"] = "reject"
    unverified_price_percent: Annotated[int, Field(ge=0, le=100)] = 50
    silence_window_hours: Annotated[int, Field(gt=0, le=366 * 24)] = 168


class MaturationParams(RuleParams):
    """Rule 8: billable only after a hold window in which no disqualifier arrived."""

    hold_hours: Annotated[int, Field(ge=0, le=366 * 24)] = 24
    disqualifiers: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=30)
    ] = Field(
        default_factory=lambda: [
            "reopened",
            "escalated_to_human",
            "human_reply",
            "negative_feedback",
        ]
    )


class ReversalParams(RuleParams):
    """Rule 9: after billing, a reversal is a credit until the lock date; after it, recorded only."""

    clawback_window_days: Annotated[int, Field(ge=0, le=3 * 366)] = 30


class SplitDetectionParams(RuleParams):
    """Rule 10: outcomes sharing a parent key within a window are billed once."""

    enabled: bool = False
    window_hours: Annotated[int, Field(gt=0, le=366 * 24)] = 24


class AnomalyParams(RuleParams):
    """Rule 12: robust z-score of the daily count against the contract's own baseline; rejection rate."""

    velocity_enabled: bool = True
    z_threshold: Annotated[float, Field(gt=0, le=100)] = 3.5
    baseline_days: Annotated[int, Field(ge=7, le=366)] = 28
    min_history_days: Annotated[int, Field(ge=3, le=366)] = 14
    rejection_rate_threshold: Annotated[float, Field(gt=0, le=1)] = 0.5
    rejection_rate_min_outcomes: Annotated[int, Field(ge=1, le=100_000)] = 20

    @model_validator(mode="after")
    def _history_within_baseline(self) -> AnomalyParams:
        if self.min_history_days > self.baseline_days:
            raise PydanticCustomError(
                "history_exceeds_baseline", "min_history_days must not exceed baseline_days."
            )
        return self


class AuditSamplingParams(RuleParams):
    """Rule 13: an unpredictable sample the customer must attest; errors extrapolated conservatively."""

    enabled: bool = False
    rate: Annotated[float, Field(gt=0, le=1)] = 0.02
    attestation_days: Annotated[int, Field(gt=0, le=90)] = 14
    confidence: Annotated[float, Field(ge=0.5, lt=1)] = 0.90


class SuppressionParams(RuleParams):
    """Rule 14: the customer's confirmations fall against the vendor's steady activity."""

    enabled: bool = True
    min_ratio_of_baseline: Annotated[float, Field(gt=0, lt=1)] = 1 / 3
    baseline_days: Annotated[int, Field(ge=7, le=366)] = 28
    min_history_days: Annotated[int, Field(ge=3, le=366)] = 14

    @model_validator(mode="after")
    def _history_within_baseline(self) -> SuppressionParams:
        if self.min_history_days > self.baseline_days:
            raise PydanticCustomError(
                "history_exceeds_baseline", "min_history_days must not exceed baseline_days."
            )
        return self


class DisputeParams(RuleParams):
    """Rule 15: the customer may dispute within a window; an unanswered dispute resolves at its deadline."""

    window_days: Annotated[int, Field(ge=0, le=366)] = 30
    response_days: Annotated[int, Field(gt=0, le=90)] = 14
    unanswered: Literal["credit_customer", "bill"] = "credit_customer"


class BaselineLiftParams(RuleParams):
    """Rule 16: bill only outcomes above a counterfactual baseline agreed before the work began."""

    enabled: bool = False
    baseline_units_per_period: Annotated[int, Field(ge=0, le=10**12)] = 0


class VerificationPolicy(BaseModel):
    """All rule parameters of one outcome type; omitted rules take their defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_time: EventTimeParams = Field(default_factory=EventTimeParams)
    time_to_outcome: TimeToOutcomeParams = Field(default_factory=TimeToOutcomeParams)
    evidence: EvidenceParams = Field(default_factory=EvidenceParams)
    confirmation: ConfirmationParams = Field(default_factory=ConfirmationParams)
    maturation: MaturationParams = Field(default_factory=MaturationParams)
    reversal: ReversalParams = Field(default_factory=ReversalParams)
    split_detection: SplitDetectionParams = Field(default_factory=SplitDetectionParams)
    anomaly: AnomalyParams = Field(default_factory=AnomalyParams)
    audit_sampling: AuditSamplingParams = Field(default_factory=AuditSamplingParams)
    suppression: SuppressionParams = Field(default_factory=SuppressionParams)
    disputes: DisputeParams = Field(default_factory=DisputeParams)
    baseline_lift: BaselineLiftParams = Field(default_factory=BaselineLiftParams)

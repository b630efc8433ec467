"""Verification policy: per outcome type, which anti-gaming rules apply and their parameters.

One model per rule in docs/product.md ("Rules that resist gaming"); every parameter has a documented
default and bounds, so a stored policy is always complete and valid. The rules that evaluate
these parameters live in the outcomes app; authenticity and idempotency are enforced at
ingestion and have no parameters here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

HOUR = 3600
DAY = 24 * HOUR

EvidenceKind = Literal["string", "integer", "number", "boolean", "datetime", "sha256", "url"]


def count_text(value: int) -> str:
    return f"{value:,}"


def percent_text(value: Decimal | float) -> str:
    return f"{Decimal(str(value)).normalize():f} %"


def listing_text(items: list[str]) -> str:
    return ", ".join(item.replace("_", " ") for item in items)


class RuleParams(BaseModel):
    """A rule's parameters; each has a `description` in plain words, the portal form's help beside its input,
    and the rule says what its parameters mean in one sentence (`describe`) for the contract's pages."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    title: ClassVar[str]  # the rule's name for people (the portal form's heading)

    def describe(self) -> str | None:
        """The rule's parameters as a sentence, or None when the rule is off (or has nothing to require)."""
        return None


class EventTimeParams(RuleParams):
    """Rule 4: the outcome happened while the contract was in force, not in the future, not too late."""

    title = "Event time"
    max_clock_skew_seconds: Annotated[
        int,
        Field(ge=0, le=HOUR, description="Seconds an event's time may lie ahead of our clock (0 to 3600)."),
    ] = 300
    late_arrival_days: Annotated[
        int,
        Field(
            ge=0, le=366, description="Days after it happened that an outcome may still arrive (0 to 366)."
        ),
    ] = 35

    def describe(self) -> str:
        return (
            f"Events may run {self.max_clock_skew_seconds} s ahead of our clock and arrive up to "
            f"{self.late_arrival_days} days late."
        )


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


class EvidenceParams(RuleParams):
    """Rule 6: evidence fields that must be present and well-formed, by kind."""

    title = "Evidence"
    required_fields: Annotated[
        dict[str, EvidenceKind],
        Field(
            max_length=50,
            description="Evidence fields an outcome must carry, one per line as name: kind (kinds: string,"
            " integer, number, boolean, datetime, sha256, url), e.g. ticket_status: string.",
        ),
    ] = Field(default_factory=dict)

    def describe(self) -> str | None:
        if not self.required_fields:
            return None
        fields = ", ".join(f"{name} ({kind})" for name, kind in self.required_fields.items())
        return f"Evidence required: {fields}."


class ConfirmationParams(RuleParams):
    """Rule 7: a vendor claim needs the customer's confirmation of the same natural key."""

    title = "Confirmation by the customer"
    required: Annotated[
        bool, Field(description="A claim is billable only once the customer's own system confirms it.")
    ] = True
    match_window_hours: Annotated[
        int,
        Field(
            gt=0, le=366 * 24, description="Hours a claim waits for its confirmation (either may come first)."
        ),
    ] = 72
    on_unmatched: Annotated[
        Literal["reject", "bill_unverified", "silence_is_consent"],
        Field(description="What happens to a claim still unconfirmed when the window closes."),
    ] = "reject"
    unverified_price_percent: Annotated[
        int, Field(ge=0, le=100, description="Share of the price billed for an unverified claim (0 to 100).")
    ] = 50
    silence_window_hours: Annotated[
        int,
        Field(
            gt=0,
            le=366 * 24,
            description="Hours of silence after a claim that count as the customer's consent.",
        ),
    ] = 168

    def describe(self) -> str:
        if not self.required:
            return "No confirmation by the customer is needed."
        text = f"Confirmation by the customer within {self.match_window_hours} hours"
        if self.on_unmatched == "reject":
            return text + "; unconfirmed claims are rejected."
        if self.on_unmatched == "bill_unverified":
            return text + (
                f"; unconfirmed claims are billed as unverified at "
                f"{self.unverified_price_percent} % of the price."
            )
        return text + f"; silence for {self.silence_window_hours} hours counts as consent."


class MaturationParams(RuleParams):
    """Rule 8: billable only after a hold window in which no disqualifier arrived."""

    title = "Maturation"
    hold_hours: Annotated[
        int, Field(ge=0, le=366 * 24, description="Hours an outcome is held before it becomes billable.")
    ] = 24
    disqualifiers: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=64)]],
        Field(
            max_length=30,
            description="Reasons of a reversal that void the outcome, separated by commas (at most 30).",
        ),
    ] = Field(
        default_factory=lambda: [
            "reopened",
            "escalated_to_human",
            "human_reply",
            "negative_feedback",
        ]
    )

    def describe(self) -> str:
        if not self.hold_hours:
            return "Billable at once (no maturation hold)."
        text = f"{self.hold_hours} h maturation before billing"
        if self.disqualifiers:
            text += f"; voided by {listing_text(self.disqualifiers)} meanwhile"
        return text + "."


class ReversalParams(RuleParams):
    """Rule 9: after billing, a reversal is a credit until the lock date; after it, recorded only."""

    title = "Reversal after billing"
    clawback_window_days: Annotated[
        int,
        Field(
            ge=0,
            le=3 * 366,
            description="Days after billing in which a reversal becomes a credit (0 to 1098).",
        ),
    ] = 30

    def describe(self) -> str:
        return f"A reversal within {self.clawback_window_days} days after billing becomes a credit."


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


class AuditSamplingParams(RuleParams):
    """Rule 13: an unpredictable sample the customer must attest; errors extrapolated conservatively."""

    title = "Audit sampling"
    enabled: Annotated[bool, Field(description="Ask the customer to attest a random sample of outcomes.")] = (
        False
    )
    rate: Annotated[float, Field(gt=0, le=1, description="Share of outcomes sampled (0.02 is 2 %).")] = 0.02
    attestation_days: Annotated[
        int, Field(gt=0, le=90, description="Days the customer has to attest a sampled outcome.")
    ] = 14
    confidence: Annotated[
        float,
        Field(
            ge=0.5, lt=1, description="Confidence with which sampled errors are extrapolated (0.9 is 90 %)."
        ),
    ] = 0.90

    def describe(self) -> str | None:
        if not self.enabled:
            return None
        return (
            f"{percent_text(Decimal(str(self.rate)) * 100)} of outcomes are sampled for the customer "
            f"to attest within {self.attestation_days} days ({percent_text(Decimal(str(self.confidence)) * 100)}"
            " confidence)."
        )


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


class DisputeParams(RuleParams):
    """Rule 15: the customer may dispute within a window; an unanswered dispute resolves at its deadline."""

    title = "Disputes"
    window_days: Annotated[
        int,
        Field(
            ge=0,
            le=366,
            description="Days after an outcome became billable in which the customer may dispute it.",
        ),
    ] = 30
    response_days: Annotated[
        int, Field(gt=0, le=90, description="Days the vendor has to answer a dispute.")
    ] = 14
    unanswered: Annotated[
        Literal["credit_customer", "bill"],
        Field(description="What happens to a dispute the vendor leaves unanswered."),
    ] = "credit_customer"

    def describe(self) -> str:
        unanswered = "the customer is credited" if self.unanswered == "credit_customer" else "it is billed"
        return (
            f"Disputes within {self.window_days} days; the vendor answers within "
            f"{self.response_days} days, else {unanswered}."
        )


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

"""Verification policy: complete defaults, every parameter's bounds, cross-field checks, unknown rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from contracts.policy import DAY
from contracts.terms import OutcomeTypeTerms, parse
from core.errors import ValidationFailed
from outcomes.rules import policy as rules_policy
from tests.factories import outcome_type_terms

# Built from the rules (outcomes.rules.policy): its sections are attributes at run time, not to mypy.
VerificationPolicy: Any = rules_policy.VerificationPolicy

DOCUMENTED_DEFAULTS: dict[str, dict[str, Any]] = {
    "event_time": {"max_clock_skew_seconds": 300, "late_arrival_days": 35},
    "time_to_outcome": {
        "enabled": False,
        "started_at_field": "started_at",
        "min_seconds": 0,
        "max_seconds": 120 * DAY,
    },
    "evidence": {"required_fields": {}},
    "evidence_content": {
        "checks": [],
        "conversation_enabled": False,
        "conversation_field": "transcript",
        "role_key": "role",
        "time_key": "at",
        "text_key": "text",
        "question_role": "customer",
        "reply_role": "agent",
        "min_substantive_messages": 2,
        "min_message_chars": 20,
    },
    "verifier": {
        "enabled": False,
        "verifier": "default",
        "sample_percent": 5.0,
        "timeout_seconds": 10,
        "retry_minutes": 15,
        "max_failures": 5,
    },
    "confirmation": {
        "required": True,
        "match_window_hours": 72,
        "on_unmatched": "reject",
        "unverified_price_percent": 50,
        "silence_window_hours": 168,
    },
    "maturation": {
        "hold_hours": 24,
        "disqualifiers": ["reopened", "escalated_to_human", "human_reply", "negative_feedback"],
        "reporting_windows_hours": {},
    },
    "reversal": {"clawback_window_days": 30},
    "reversal_anomaly": {
        "enabled": True,
        "window_days": 7,
        "baseline_days": 56,
        "min_reversals": 10,
        "rate_threshold": 0.25,
        "lock_days": 3,
        "lock_rate_threshold": 0.1,
        "baseline_multiple": 3.0,
    },
    "disqualifier_contest": {
        "contradicting_evidence": {},
        "vendor_window_hours": 24,
        "answer_window_days": 7,
        "unanswered": "keep_billed",
    },
    "split_detection": {"enabled": False, "window_hours": 24},
    "anomaly": {
        "velocity_enabled": True,
        "z_threshold": 3.5,
        "baseline_days": 28,
        "min_history_days": 14,
        "rejection_rate_threshold": 0.5,
        "rejection_rate_min_outcomes": 20,
    },
    "audit_sampling": {
        "enabled": False,
        "rate": 0.02,
        "attestation_days": 14,
        "confidence": 0.90,
        "unanswered": "error",
    },
    "suppression": {
        "enabled": True,
        "min_ratio_of_baseline": 1 / 3,
        "baseline_days": 28,
        "min_history_days": 14,
        "min_outcomes_1_day": 5,
        "min_outcomes_3_days": 10,
    },
    "disputes": {"window_days": 30, "response_days": 14, "unanswered": "credit_customer"},
    "baseline_lift": {"enabled": False, "baseline_units_per_period": 0},
    "flag_deadlines": {"response_days": 14, "on_silence": "against_suspected"},
    "sender": {"anonymising_networks": "flag", "shared_with_vendor": "flag", "shared_window_days": 30},
    "system_of_record": {
        "enabled": True,
        "occurred_at_from": "system_of_record",
        "value_from": "system_of_record",
        "occurred_at_tolerance_hours": 72,
        "value_tolerance_percent": 1,
        "value_tolerance_minor": 0,
    },
}


def refusal(data: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as caught:
        parse(VerificationPolicy, data)
    return {path: [item["code"] for item in items] for path, items in caught.value.field_errors.items()}


def test_empty_policy_takes_every_documented_default() -> None:
    # given no policy at all, when it is parsed, then every rule is present with its defaults
    policy = parse(VerificationPolicy, {})
    assert policy.model_dump(mode="json") == DOCUMENTED_DEFAULTS


def test_outcome_type_without_policy_stores_the_complete_default_policy() -> None:
    outcome_type = parse(OutcomeTypeTerms, outcome_type_terms())
    assert outcome_type.verification_policy.model_dump(mode="json") == DOCUMENTED_DEFAULTS


def test_a_partial_rule_keeps_the_defaults_of_its_other_parameters() -> None:
    # given only one parameter of one rule
    policy = parse(VerificationPolicy, {"confirmation": {"match_window_hours": 24}})

    # then that parameter changes and nothing else does
    dumped = policy.model_dump(mode="json")
    assert dumped["confirmation"] == {**DOCUMENTED_DEFAULTS["confirmation"], "match_window_hours": 24}
    assert {rule: params for rule, params in dumped.items() if rule != "confirmation"} == {
        rule: params for rule, params in DOCUMENTED_DEFAULTS.items() if rule != "confirmation"
    }


def test_stored_policy_round_trips() -> None:
    policy = parse(
        VerificationPolicy,
        {
            "time_to_outcome": {"enabled": True, "min_seconds": 60, "max_seconds": 3600},
            "evidence": {"required_fields": {"ticket_id": "string", "closed_at": "datetime"}},
            "anomaly": {"z_threshold": 4.25},
        },
    )
    assert parse(VerificationPolicy, policy.model_dump(mode="json")) == policy


@dataclass(frozen=True)
class Bound:
    """A numeric parameter's documented range: ge/gt below, le/lt above (exclusive bounds refused)."""

    path: str
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    context: dict[str, Any] = field(default_factory=dict)  # siblings that keep cross-field checks quiet

    @property
    def step(self) -> float:
        bounds = [v for v in (self.ge, self.gt, self.le, self.lt) if v is not None]
        return 1 if all(isinstance(v, int) for v in bounds) else 0.001

    @property
    def low(self) -> tuple[float, bool]:
        """The lower bound and whether it is inclusive."""
        if self.ge is not None:
            return self.ge, True
        assert self.gt is not None
        return self.gt, False

    @property
    def high(self) -> tuple[float, bool]:
        if self.le is not None:
            return self.le, True
        assert self.lt is not None
        return self.lt, False

    def accepted(self) -> list[float]:
        (low, low_inclusive), (high, high_inclusive) = self.low, self.high
        return [low if low_inclusive else low + self.step, high if high_inclusive else high - self.step]

    def refused(self) -> list[tuple[float, str]]:
        (low, low_inclusive), (high, high_inclusive) = self.low, self.high
        return [
            (low - self.step, "greater_than_equal") if low_inclusive else (low, "greater_than"),
            (high + self.step, "less_than_equal") if high_inclusive else (high, "less_than"),
        ]

    def policy(self, value: float) -> dict[str, Any]:
        rule, parameter = self.path.split(".")
        return {rule: {**self.context, parameter: value}}


HOURS_366_DAYS = 366 * 24

BOUNDS = [
    Bound("event_time.max_clock_skew_seconds", ge=0, le=3600),
    Bound("event_time.late_arrival_days", ge=0, le=366),
    Bound("time_to_outcome.min_seconds", ge=0, le=365 * DAY, context={"max_seconds": 3 * 365 * DAY}),
    Bound("time_to_outcome.max_seconds", gt=0, le=3 * 365 * DAY, context={"min_seconds": 0}),
    Bound("confirmation.match_window_hours", gt=0, le=HOURS_366_DAYS),
    Bound("confirmation.unverified_price_percent", ge=0, le=100),
    Bound("confirmation.silence_window_hours", gt=0, le=HOURS_366_DAYS),
    Bound("maturation.hold_hours", ge=0, le=HOURS_366_DAYS),
    Bound("reversal.clawback_window_days", ge=0, le=3 * 366),
    Bound("reversal_anomaly.window_days", ge=1, le=31),
    Bound("reversal_anomaly.baseline_days", ge=7, le=366),
    Bound("reversal_anomaly.min_reversals", ge=1, le=100_000),
    Bound("reversal_anomaly.rate_threshold", gt=0.0, le=10.0),
    Bound("reversal_anomaly.lock_days", ge=0, le=366),
    Bound("reversal_anomaly.lock_rate_threshold", gt=0.0, le=10.0),
    Bound("reversal_anomaly.baseline_multiple", ge=1.0, le=100.0),
    Bound("evidence_content.min_substantive_messages", ge=1, le=1000),
    Bound("evidence_content.min_message_chars", ge=1, le=10_000),
    Bound("verifier.sample_percent", ge=0.0, le=100.0),
    Bound("verifier.timeout_seconds", ge=1, le=60),
    Bound("verifier.retry_minutes", ge=1, le=1440),
    Bound("verifier.max_failures", ge=1, le=20),
    Bound("disqualifier_contest.vendor_window_hours", ge=0, le=30 * 24),
    Bound("disqualifier_contest.answer_window_days", ge=1, le=90),
    Bound("split_detection.window_hours", gt=0, le=HOURS_366_DAYS),
    Bound("anomaly.z_threshold", gt=0.0, le=100.0),
    Bound("anomaly.baseline_days", ge=7, le=366, context={"min_history_days": 3}),
    Bound("anomaly.min_history_days", ge=3, le=366, context={"baseline_days": 366}),
    Bound("anomaly.rejection_rate_threshold", gt=0.0, le=1.0),
    Bound("anomaly.rejection_rate_min_outcomes", ge=1, le=100_000),
    Bound("audit_sampling.rate", gt=0.0, le=1.0),
    Bound("audit_sampling.attestation_days", gt=0, le=90),
    Bound("audit_sampling.confidence", ge=0.5, lt=1.0),
    Bound("suppression.min_ratio_of_baseline", gt=0.0, lt=1.0),
    Bound("suppression.baseline_days", ge=7, le=366, context={"min_history_days": 3}),
    Bound("suppression.min_history_days", ge=3, le=366, context={"baseline_days": 366}),
    Bound("suppression.min_outcomes_1_day", ge=1, le=100_000),
    Bound("suppression.min_outcomes_3_days", ge=1, le=100_000),
    Bound("disputes.window_days", ge=0, le=366),
    Bound("disputes.response_days", gt=0, le=90),
    Bound("baseline_lift.baseline_units_per_period", ge=0, le=10**12),
    Bound("flag_deadlines.response_days", ge=1, le=90),
    Bound("sender.shared_window_days", ge=0, le=366),
    Bound("system_of_record.occurred_at_tolerance_hours", ge=0, le=366 * 24),
    Bound("system_of_record.value_tolerance_percent", ge=0, le=100),
    Bound("system_of_record.value_tolerance_minor", ge=0, le=10**15),
]


@pytest.mark.parametrize("bound", BOUNDS, ids=lambda bound: bound.path)
def test_parameter_exactly_at_its_inclusive_bounds_is_accepted(bound: Bound) -> None:
    rule, parameter = bound.path.split(".")
    for value in bound.accepted():
        policy = parse(VerificationPolicy, bound.policy(value))
        assert getattr(getattr(policy, rule), parameter) == value


@pytest.mark.parametrize("bound", BOUNDS, ids=lambda bound: bound.path)
def test_parameter_one_step_beyond_its_bounds_is_refused(bound: Bound) -> None:
    for value, code in bound.refused():
        assert refusal(bound.policy(value)) == {bound.path: [code]}


def test_every_numeric_parameter_has_its_bounds_tested() -> None:
    # a new numeric parameter must get its row in BOUNDS
    numeric = {
        f"{rule}.{parameter}"
        for rule, params in DOCUMENTED_DEFAULTS.items()
        for parameter, default in params.items()
        if isinstance(default, int | float) and not isinstance(default, bool)
    }
    assert {bound.path for bound in BOUNDS} == numeric


@pytest.mark.parametrize(
    ("value", "accepted_or_code"),
    [("s", None), ("s" * 64, None), ("", "string_too_short"), ("s" * 65, "string_too_long")],
)
def test_started_at_field_length_bounds(value: str, accepted_or_code: str | None) -> None:
    data = {"time_to_outcome": {"started_at_field": value}}
    if accepted_or_code is None:
        assert parse(VerificationPolicy, data).time_to_outcome.started_at_field == value
    else:
        assert refusal(data) == {"time_to_outcome.started_at_field": [accepted_or_code]}


def test_maturation_allows_thirty_disqualifiers_not_thirty_one() -> None:
    thirty = [f"signal_{i}" for i in range(30)]
    assert (
        parse(VerificationPolicy, {"maturation": {"disqualifiers": thirty}}).maturation.disqualifiers
        == thirty
    )
    assert refusal({"maturation": {"disqualifiers": [*thirty, "one_more"]}}) == {
        "maturation.disqualifiers": ["too_long"]
    }


@pytest.mark.parametrize(("name", "code"), [("", "string_too_short"), ("d" * 65, "string_too_long")])
def test_maturation_disqualifier_name_length_bounds(name: str, code: str) -> None:
    assert refusal({"maturation": {"disqualifiers": ["reopened", name]}}) == {
        "maturation.disqualifiers[1]": [code]
    }


@pytest.mark.parametrize(
    ("hours", "code"),
    [(1, None), (366 * 24, None), (0, "greater_than_equal"), (366 * 24 + 1, "less_than_equal")],
)
def test_maturation_reporting_window_hours_bounds(hours: int, code: str | None) -> None:
    data = {"maturation": {"reporting_windows_hours": {"reopened": hours}}}
    if code is None:
        assert parse(VerificationPolicy, data).maturation.reporting_windows_hours == {"reopened": hours}
    else:
        assert refusal(data) == {"maturation.reporting_windows_hours.reopened": [code]}


def test_maturation_reporting_window_must_name_a_disqualifier() -> None:
    data = {"maturation": {"disqualifiers": ["no_show"], "reporting_windows_hours": {"reopened": 24}}}
    assert refusal(data) == {"maturation": ["reporting_window_not_a_disqualifier"]}


def test_maturation_without_disqualifiers_is_accepted() -> None:
    assert parse(VerificationPolicy, {"maturation": {"disqualifiers": []}}).maturation.disqualifiers == []


def test_evidence_allows_fifty_required_fields_not_fifty_one() -> None:
    fifty = {f"field_{i}": "string" for i in range(50)}
    assert (
        len(parse(VerificationPolicy, {"evidence": {"required_fields": fifty}}).evidence.required_fields)
        == 50
    )
    assert refusal({"evidence": {"required_fields": {**fifty, "one_more": "string"}}}) == {
        "evidence.required_fields": ["too_long"]
    }


def test_evidence_kind_must_be_known() -> None:
    assert refusal({"evidence": {"required_fields": {"ticket_id": "uuid"}}}) == {
        "evidence.required_fields.ticket_id": ["literal_error"]
    }


@pytest.mark.parametrize(
    ("rule", "parameter", "value"),
    [
        ("confirmation", "on_unmatched", "bill_anyway"),
        ("disputes", "unanswered", "ignore"),
    ],
)
def test_choice_outside_its_options_is_refused(rule: str, parameter: str, value: str) -> None:
    assert refusal({rule: {parameter: value}}) == {f"{rule}.{parameter}": ["literal_error"]}


@pytest.mark.parametrize(("min_seconds", "max_seconds"), [(3600, 3600), (3601, 3600)])
def test_time_to_outcome_minimum_must_be_below_maximum(min_seconds: int, max_seconds: int) -> None:
    data = {"time_to_outcome": {"min_seconds": min_seconds, "max_seconds": max_seconds}}
    assert refusal(data) == {"time_to_outcome": ["min_not_below_max"]}


def test_time_to_outcome_minimum_just_below_maximum_is_accepted() -> None:
    policy = parse(VerificationPolicy, {"time_to_outcome": {"min_seconds": 3599, "max_seconds": 3600}})
    assert (policy.time_to_outcome.min_seconds, policy.time_to_outcome.max_seconds) == (3599, 3600)


def test_time_to_outcome_minimum_above_default_maximum_is_refused() -> None:
    # given only min_seconds, above the default max_seconds of 120 days
    assert refusal({"time_to_outcome": {"min_seconds": 121 * DAY}}) == {
        "time_to_outcome": ["min_not_below_max"]
    }


def test_anomaly_history_longer_than_baseline_is_refused() -> None:
    assert refusal({"anomaly": {"baseline_days": 10, "min_history_days": 11}}) == {
        "anomaly": ["history_exceeds_baseline"]
    }


def test_anomaly_history_equal_to_baseline_is_accepted() -> None:
    policy = parse(VerificationPolicy, {"anomaly": {"baseline_days": 10, "min_history_days": 10}})
    assert (policy.anomaly.baseline_days, policy.anomaly.min_history_days) == (10, 10)


def test_anomaly_baseline_shorter_than_default_history_is_refused() -> None:
    # given only baseline_days = 7, below the default min_history_days of 14
    assert refusal({"anomaly": {"baseline_days": 7}}) == {"anomaly": ["history_exceeds_baseline"]}


def test_unknown_rule_is_refused() -> None:
    assert refusal({"velocity_limit": {"enabled": True}}) == {"velocity_limit": ["extra_forbidden"]}


def test_unknown_parameter_of_a_known_rule_is_refused() -> None:
    assert refusal({"maturation": {"hold_days": 1}}) == {"maturation.hold_days": ["extra_forbidden"]}


def test_policy_error_path_inside_an_outcome_type() -> None:
    data = outcome_type_terms(verification_policy={"disputes": {"response_days": 0}})
    with pytest.raises(ValidationFailed) as caught:
        parse(OutcomeTypeTerms, data)
    assert list(caught.value.field_errors) == ["verification_policy.disputes.response_days"]

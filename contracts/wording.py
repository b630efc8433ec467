"""Contract terms in plain words for people: pricing, per-period amounts and verification policies.

The one place that turns the stored, validated terms (contracts.terms, contracts.policy) into
sentences; templates show these sentences and never spell out terms themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from pydantic import TypeAdapter

from contracts.models import Contract, ContractVersion, OutcomeType
from contracts.policy import (
    AnomalyParams,
    AuditSamplingParams,
    BaselineLiftParams,
    ConfirmationParams,
    DisputeParams,
    EventTimeParams,
    EvidenceParams,
    MaturationParams,
    ReversalParams,
    RuleParams,
    SplitDetectionParams,
    SuppressionParams,
    TimeToOutcomeParams,
    VerificationPolicy,
)
from contracts.terms import (
    PackagePricing,
    PercentagePricing,
    PerUnitPricing,
    Pricing,
    TieredPricing,
)
from core.currencies import currency_exponent


@cache
def _pricing_adapter() -> TypeAdapter[Any]:
    return TypeAdapter(Pricing)


def amount_text(amount: Decimal, currency: str) -> str:
    """A price in major units: at least the currency's decimals, more when the price has them
    (0.004 USD stays 0.004 USD; 1.2 USD reads 1.20 USD); thousands grouped."""
    exponent = currency_exponent(currency)
    places = max(exponent, -int(amount.normalize().as_tuple().exponent))
    return f"{amount:,.{places}f} {currency}"


def minor_text(amount_minor: int, currency: str) -> str:
    """An amount in integer minor units, in major units (500 USD -> 5.00 USD)."""
    return amount_text(Decimal(amount_minor).scaleb(-currency_exponent(currency)), currency)


def unit_name(key: str, *, plural: bool = False) -> str:
    """`ticket.resolved` -> 'resolved ticket' (a noun and what happened to it); other keys read as words."""
    parts = key.split(".")
    words = f"{parts[1]} {parts[0]}" if len(parts) == 2 else " ".join(parts)
    words = words.replace("_", " ")
    return f"{words}s" if plural and not words.endswith("s") else words


def _count(value: int) -> str:
    return f"{value:,}"


def _percent(value: Decimal | float) -> str:
    return f"{Decimal(str(value)).normalize():f} %"


def _tiers_text(pricing: TieredPricing, currency: str) -> str:
    parts, start = [], 1
    for tier in pricing.tiers:
        price = f"{amount_text(tier.unit_price, currency)} each"
        if tier.flat_fee:
            price += f" + {amount_text(tier.flat_fee, currency)} flat"
        if tier.up_to is None:
            span = f"above {_count(start - 1)}" if start > 1 else "every unit"
        elif pricing.model == "volume":
            span = f"up to {_count(tier.up_to)}"
        else:
            span = f"{_count(start)} to {_count(tier.up_to)}"
        parts.append(f"{span} at {price}")
        start = (tier.up_to or 0) + 1
    return ", ".join(parts)


def pricing_text(outcome_type: OutcomeType, currency: str) -> str:
    """e.g. '1.20 USD per resolved ticket; first 100 free each period; verified outcomes only'."""
    pricing = _pricing_adapter().validate_python(outcome_type.pricing)
    unit, units = unit_name(outcome_type.key), unit_name(outcome_type.key, plural=True)
    if isinstance(pricing, PerUnitPricing):
        phrases = [f"{amount_text(pricing.unit_price, currency)} per {unit}"]
    elif isinstance(pricing, TieredPricing) and pricing.model == "graduated":
        phrases = [f"Graduated tiers per period: {_tiers_text(pricing, currency)}"]
    elif isinstance(pricing, TieredPricing):
        phrases = [
            "Volume tiers: every unit of the period at the tier its total reaches: "
            + _tiers_text(pricing, currency)
        ]
    elif isinstance(pricing, PackagePricing):
        phrases = [
            f"{amount_text(pricing.package_price, currency)} per package of "
            f"{_count(pricing.package_size)} {units} (a started package is billed whole)"
        ]
    else:
        assert isinstance(pricing, PercentagePricing)
        fee = f"{_percent(pricing.percent)} of the reported value of each {unit}"
        if pricing.min_fee_minor is not None:
            fee += f", at least {minor_text(pricing.min_fee_minor, currency)}"
        if pricing.max_fee_minor is not None:
            fee += f", at most {minor_text(pricing.max_fee_minor, currency)}"
        phrases = [fee]
    if outcome_type.free_units:
        phrases.append(f"first {_count(outcome_type.free_units)} free each period")
    if outcome_type.cap_units is not None:
        phrases.append(f"at most {_count(outcome_type.cap_units)} {units} billed per period")
    if outcome_type.cap_amount_minor is not None:
        phrases.append(f"at most {minor_text(outcome_type.cap_amount_minor, currency)} per period")
    phrases.append(
        "every completed attempt is billed, on completion (no maturation hold)"
        if outcome_type.billing_basis == "per_task"
        else "verified outcomes only"
    )
    return "; ".join(phrases)


def _listing(items: list[str]) -> str:
    return ", ".join(item.replace("_", " ") for item in items)


def _confirmation_sentence(confirmation: ConfirmationParams) -> str:
    if not confirmation.required:
        return "No confirmation by the customer is needed."
    text = f"Confirmation by the customer within {confirmation.match_window_hours} hours"
    if confirmation.on_unmatched == "reject":
        return text + "; unconfirmed claims are rejected."
    if confirmation.on_unmatched == "bill_unverified":
        return text + (
            f"; unconfirmed claims are billed as unverified at "
            f"{confirmation.unverified_price_percent} % of the price."
        )
    return text + f"; silence for {confirmation.silence_window_hours} hours counts as consent."


def _maturation_sentence(maturation: MaturationParams) -> str:
    if not maturation.hold_hours:
        return "Billable at once (no maturation hold)."
    text = f"{maturation.hold_hours} h maturation before billing"
    if maturation.disqualifiers:
        text += f"; voided by {_listing(maturation.disqualifiers)} meanwhile"
    return text + "."


def _event_time_sentence(event_time: EventTimeParams) -> str:
    return (
        f"Events may run {event_time.max_clock_skew_seconds} s ahead of our clock and arrive up to "
        f"{event_time.late_arrival_days} days late."
    )


def _evidence_sentence(evidence: EvidenceParams) -> str | None:
    if not evidence.required_fields:
        return None
    fields = ", ".join(f"{name} ({kind})" for name, kind in evidence.required_fields.items())
    return f"Evidence required: {fields}."


def _time_to_outcome_sentence(time_to_outcome: TimeToOutcomeParams) -> str | None:
    if not time_to_outcome.enabled:
        return None
    return (
        f"From {time_to_outcome.started_at_field} to the outcome takes between "
        f"{time_to_outcome.min_seconds:,} s and {time_to_outcome.max_seconds:,} s."
    )


def _split_detection_sentence(split_detection: SplitDetectionParams) -> str | None:
    if not split_detection.enabled:
        return None
    return f"Outcomes sharing a parent key within {split_detection.window_hours} h are billed once."


def _anomaly_sentence(anomaly: AnomalyParams) -> str | None:
    if not anomaly.velocity_enabled:
        return None
    return (
        f"Daily volume is flagged above a robust z-score of {anomaly.z_threshold:g} against "
        f"{anomaly.baseline_days} days (after {anomaly.min_history_days} days of history); "
        f"a rejection rate above {_percent(Decimal(str(anomaly.rejection_rate_threshold)) * 100)} "
        f"over {anomaly.rejection_rate_min_outcomes}+ outcomes is flagged too."
    )


def _audit_sampling_sentence(sampling: AuditSamplingParams) -> str | None:
    if not sampling.enabled:
        return None
    return (
        f"{_percent(Decimal(str(sampling.rate)) * 100)} of outcomes are sampled for the customer "
        f"to attest within {sampling.attestation_days} days ({_percent(Decimal(str(sampling.confidence)) * 100)}"
        " confidence)."
    )


def _suppression_sentence(suppression: SuppressionParams) -> str | None:
    if not suppression.enabled:
        return None
    return (
        f"Flagged when the customer's confirmations fall below "
        f"{round(suppression.min_ratio_of_baseline * 100)} % of the vendor's steady activity "
        f"({suppression.baseline_days}-day baseline)."
    )


def _baseline_lift_sentence(baseline_lift: BaselineLiftParams) -> str | None:
    if not baseline_lift.enabled:
        return None
    return (
        f"Only outcomes above a baseline of {_count(baseline_lift.baseline_units_per_period)}"
        " per period are billed."
    )


def _disputes_sentence(disputes: DisputeParams) -> str:
    unanswered = "the customer is credited" if disputes.unanswered == "credit_customer" else "it is billed"
    return (
        f"Disputes within {disputes.window_days} days; the vendor answers within "
        f"{disputes.response_days} days, else {unanswered}."
    )


def _reversal_sentence(reversal: ReversalParams) -> str:
    return f"A reversal within {reversal.clawback_window_days} days after billing becomes a credit."


# Each rule of the policy in words, in the order people read them (a rule that is off says nothing).
RULE_SENTENCES: dict[str, Callable[[Any], str | None]] = {
    "confirmation": _confirmation_sentence,
    "maturation": _maturation_sentence,
    "event_time": _event_time_sentence,
    "evidence": _evidence_sentence,
    "time_to_outcome": _time_to_outcome_sentence,
    "split_detection": _split_detection_sentence,
    "anomaly": _anomaly_sentence,
    "audit_sampling": _audit_sampling_sentence,
    "suppression": _suppression_sentence,
    "baseline_lift": _baseline_lift_sentence,
    "disputes": _disputes_sentence,
    "reversal": _reversal_sentence,
}


def rule_sentence(rule: str, params: RuleParams) -> str | None:
    """One rule's parameters as a sentence, or None when the rule is off (or has nothing to require)."""
    return RULE_SENTENCES[rule](params)


def policy_sentences(policy_data: dict[str, Any]) -> list[str]:
    """The rules of a stored verification policy, one sentence each (disabled rules are left out)."""
    policy = VerificationPolicy.model_validate(policy_data)
    sentences = (rule_sentence(rule, getattr(policy, rule)) for rule in RULE_SENTENCES)
    return [sentence for sentence in sentences if sentence is not None]


def version_sentences(version: ContractVersion, currency: str) -> list[str]:
    """A version's per-period amounts: platform fee, minimum commitment, cap and its alerts."""
    sentences = []
    if version.platform_fee_minor:
        sentences.append(f"Platform fee {minor_text(version.platform_fee_minor, currency)} per period.")
    if version.minimum_commitment_minor:
        sentences.append(
            f"Minimum commitment {minor_text(version.minimum_commitment_minor, currency)} per period."
        )
    if version.cap_amount_minor is not None:
        text = f"Billing capped at {minor_text(version.cap_amount_minor, currency)} per period"
        if version.budget_alert_percents:
            # Stored for the budget alerts that outbound webhooks will deliver; say so until they exist.
            text += (
                "; budget alerts at "
                + ", ".join(f"{p}%" for p in version.budget_alert_percents)
                + " (not sent yet: alerts arrive with outbound webhooks)"
            )
        sentences.append(text + ".")
    return sentences or ["No platform fee, minimum or cap."]


def period_text(contract: Contract) -> str:
    """e.g. 'Monthly from day 1 (Europe/Berlin)' or 'Every 3 months from day 15 (UTC)'."""
    every = "Monthly" if contract.period_count == 1 else f"Every {contract.period_count} months"
    return f"{every} from day {contract.anchor_day} ({contract.timezone})"


def approval_text(contract: Contract) -> str:
    """Whether the customer approves drafts before they are finalized, and above which total."""
    if contract.approval_threshold_minor is None:
        return "Not required"
    amount = minor_text(contract.approval_threshold_minor, contract.currency)
    return f"Drafts over {amount} wait for the customer's approval"


@dataclass(frozen=True)
class OutcomeTypeWords:
    outcome_type: OutcomeType
    pricing: str
    policy: list[str]


def outcome_type_words(outcome_type: OutcomeType, currency: str) -> OutcomeTypeWords:
    return OutcomeTypeWords(
        outcome_type=outcome_type,
        pricing=pricing_text(outcome_type, currency),
        policy=policy_sentences(outcome_type.verification_policy),
    )

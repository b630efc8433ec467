"""Contract terms in plain words for people: pricing, per-period amounts and verification policies.

The one place that turns the stored, validated terms (contracts.terms, the registered policy) into
sentences; templates show these sentences and never spell out terms themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from pydantic import TypeAdapter

from contracts.models import Contract, ContractVersion, OutcomeType
from contracts.policy import count_text, percent_text, policy_model
from contracts.terms import (
    PackagePricing,
    PercentagePricing,
    PerUnitPricing,
    Pricing,
    TieredPricing,
)
from contracts.terms.versions import BUDGET_ALERTS
from core.currencies import currency_exponent, major_units


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
    return amount_text(major_units(amount_minor, currency), currency)


def unit_name(key: str, *, plural: bool = False) -> str:
    """`ticket.resolved` -> 'resolved ticket' (a noun and what happened to it); other keys read as words."""
    parts = key.split(".")
    words = f"{parts[1]} {parts[0]}" if len(parts) == 2 else " ".join(parts)
    words = words.replace("_", " ")
    return f"{words}s" if plural and not words.endswith("s") else words


def _tiers_text(pricing: TieredPricing, currency: str) -> str:
    parts, start = [], 1
    for tier in pricing.tiers:
        price = f"{amount_text(tier.unit_price, currency)} each"
        if tier.flat_fee:
            price += f" + {amount_text(tier.flat_fee, currency)} flat"
        if tier.up_to is None:
            span = f"above {count_text(start - 1)}" if start > 1 else "every unit"
        elif pricing.model == "volume":
            span = f"up to {count_text(tier.up_to)}"
        else:
            span = f"{count_text(start)} to {count_text(tier.up_to)}"
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
            f"{count_text(pricing.package_size)} {units} (a started package is billed whole)"
        ]
    else:
        assert isinstance(pricing, PercentagePricing)
        fee = f"{percent_text(pricing.percent)} of the reported value of each {unit}"
        if pricing.min_fee_minor is not None:
            fee += f", at least {minor_text(pricing.min_fee_minor, currency)}"
        if pricing.max_fee_minor is not None:
            fee += f", at most {minor_text(pricing.max_fee_minor, currency)}"
        phrases = [fee]
    if outcome_type.free_units:
        phrases.append(f"first {count_text(outcome_type.free_units)} free each period")
    if outcome_type.cap_units is not None:
        phrases.append(f"at most {count_text(outcome_type.cap_units)} {units} billed per period")
    if outcome_type.cap_amount_minor is not None:
        phrases.append(f"at most {minor_text(outcome_type.cap_amount_minor, currency)} per period")
    phrases.append(
        "every completed attempt is billed, on completion (no maturation hold)"
        if outcome_type.billing_basis == "per_task"
        else "verified outcomes only"
    )
    return "; ".join(phrases)


# The rules of a policy in the order people read them (each rule's sentence is its parameters' `describe`);
# a section not named here is read after these, in the policy's order.
READING_ORDER = (
    "confirmation",
    "maturation",
    "event_time",
    "evidence",
    "time_to_outcome",
    "split_detection",
    "anomaly",
    "audit_sampling",
    "suppression",
    "baseline_lift",
    "disputes",
    "reversal",
)


def policy_sentences(policy_data: dict[str, Any]) -> list[str]:
    """The rules of a stored verification policy, one sentence each (disabled rules are left out)."""
    policy = policy_model().model_validate(policy_data)
    sections = [rule for rule in READING_ORDER if rule in type(policy).model_fields]
    sections += [rule for rule in type(policy).model_fields if rule not in sections]
    sentences = (getattr(policy, rule).describe() for rule in sections)
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
            text += (
                "; budget alerts at "
                + ", ".join(f"{p}%" for p in version.budget_alert_percents)
                + f" ({BUDGET_ALERTS})"
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


def contract_versions_words(contract: Contract, in_force: ContractVersion | None) -> list[dict[str, Any]]:
    """Every version of a contract, latest first, in words (the versions partial's `versions`)."""
    return [
        {
            "version": version,
            "in_force": in_force is not None and version.pk == in_force.pk,
            "amounts": version_sentences(version, contract.currency),
            "outcome_types": [
                outcome_type_words(item, contract.currency) for item in version.outcome_types.all()
            ],
        }
        for version in reversed(list(contract.versions.all()))
    ]

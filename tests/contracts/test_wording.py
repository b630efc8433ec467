"""Terms in plain words: every pricing model, the limits, and the policy's optional rules."""

from __future__ import annotations

from typing import Any

from contracts.models import OutcomeType
from contracts.wording import amount_text, minor_text, policy_sentences, pricing_text, unit_name
from outcomes.rules.policy import VerificationPolicy


def outcome_type(pricing: dict[str, Any], **fields: Any) -> OutcomeType:
    return OutcomeType(
        **{"key": "lead.qualified", "billing_basis": "per_outcome", "pricing": pricing, **fields}
    )


def test_amounts_keep_sub_cent_prices_and_group_thousands() -> None:
    from decimal import Decimal

    assert amount_text(Decimal("0.004"), "USD") == "0.004 USD"
    assert amount_text(Decimal("1.2"), "USD") == "1.20 USD"
    assert amount_text(Decimal("1500"), "JPY") == "1,500 JPY"
    assert minor_text(123456, "USD") == "1,234.56 USD"
    assert minor_text(500, "KWD") == "0.500 KWD"


def test_unit_names() -> None:
    assert unit_name("ticket.resolved") == "resolved ticket"
    assert unit_name("meeting_booked") == "meeting booked"
    assert unit_name("a.b.c") == "a b c"


def test_every_pricing_model_in_words() -> None:
    volume = outcome_type(
        {
            "model": "volume",
            "tiers": [
                {"up_to": 500, "unit_price": "1", "flat_fee": "0"},
                {"up_to": None, "unit_price": "0.8", "flat_fee": "25"},
            ],
        },
        cap_units=1000,
        cap_amount_minor=500_000,
    )
    assert pricing_text(volume, "EUR") == (
        "Volume tiers: every unit of the period at the tier its total reaches: up to 500 at 1.00 EUR each, "
        "above 500 at 0.80 EUR each + 25.00 EUR flat; at most 1,000 qualified leads billed per period; "
        "at most 5,000.00 EUR per period; verified outcomes only"
    )
    package = outcome_type({"model": "package", "package_size": 100, "package_price": "75"})
    assert pricing_text(package, "USD") == (
        "75.00 USD per package of 100 qualified leads (a started package is billed whole); verified outcomes only"
    )
    percentage = outcome_type(
        {"model": "percentage", "percent": "12.5", "min_fee_minor": 500, "max_fee_minor": 100000}
    )
    assert pricing_text(percentage, "USD") == (
        "12.5 % of the reported value of each qualified lead, at least 5.00 USD, at most 1,000.00 USD; "
        "verified outcomes only"
    )
    per_task = outcome_type({"model": "per_unit", "unit_price": "0.004"}, billing_basis="per_task")
    assert pricing_text(per_task, "USD") == (
        "0.004 USD per qualified lead; every completed attempt is billed, on completion (no maturation hold)"
    )


def test_policy_options_in_words() -> None:
    policy = VerificationPolicy.model_validate(
        {
            "confirmation": {"on_unmatched": "silence_is_consent", "silence_window_hours": 168},
            "maturation": {"hold_hours": 0},
            "split_detection": {"enabled": True, "window_hours": 12},
            "audit_sampling": {"enabled": True, "rate": 0.05},
            "baseline_lift": {"enabled": True, "baseline_units_per_period": 1200},
            "time_to_outcome": {"enabled": True, "min_seconds": 60, "max_seconds": 86400},
            "anomaly": {"velocity_enabled": False},
            "suppression": {"enabled": False},
            "disputes": {"unanswered": "bill"},
            "flag_deadlines": {"on_silence": "keep_open"},
        }
    ).model_dump(mode="json")
    assert policy_sentences(policy) == [
        "Confirmation by the customer within 72 hours; silence for 168 hours counts as consent.",
        "Billable at once (no maturation hold).",
        "Events may run 300 s ahead of our clock and arrive up to 35 days late.",
        "From started_at to the outcome takes between 60 s and 86,400 s.",
        "Outcomes sharing a parent key within 12 h are billed once.",
        "5 % of outcomes are sampled for the customer to attest within 14 days (90 % confidence); no answer "
        "counts as an error.",
        "Only outcomes above a baseline of 1,200 per period are billed.",
        "Disputes within 30 days; the vendor answers within 14 days, else it is billed.",
        "A reversal within 30 days after billing becomes a credit.",
        "The customer's reversals are held for review when, over 7 days and 10+ reversals, they exceed 25 % "
        "of outcomes (10 % within 3 days of the lock date) and 3 times the usual rate over 56 days.",
        "Outcomes claimed or confirmed from anonymising networks are flagged; a confirmation from an address "
        "the vendor's agent used within 30 days is flagged for the customer.",
        "The customer's system of record's time and value are billed; the vendor's are flagged when they "
        "differ by more than 72 hours or 1 % of the value.",
        "Flags wait for a person's decision with no deadline.",
    ]
    unverified = VerificationPolicy.model_validate(
        {"confirmation": {"on_unmatched": "bill_unverified"}}
    ).model_dump(mode="json")
    assert policy_sentences(unverified)[0] == (
        "Confirmation by the customer within 72 hours; unconfirmed claims are billed as unverified at 50 % of the price."
    )
    optional = VerificationPolicy.model_validate({"confirmation": {"required": False}}).model_dump(
        mode="json"
    )
    assert policy_sentences(optional)[0] == "No confirmation by the customer is needed."

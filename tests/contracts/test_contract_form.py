"""The contract form without a browser: what its inputs show (defaults, stored terms, amounts in major
units) and the API body a post of them stands for (the same policy JSON, amounts in exact minor units)."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.forms.contract import ContractForm, blank_contract, collect, contract_form
from contracts.terms import OutcomeTypeTerms
from core.errors import FieldErrors
from outcomes.rules.policy import VerificationPolicy
from tests.factories import outcome_type_terms

POLICY = "terms.outcome_types[0].verification_policy"
STORED_POLICY: dict[str, Any] = {
    **VerificationPolicy().model_dump(mode="json"),
    "time_to_outcome": {
        "enabled": True,
        "started_at_field": "opened_at",
        "min_seconds": 30,
        "max_seconds": 86_400,
    },
    "evidence": {"required_fields": {"ticket_status": "string", "transcript_sha256": "sha256"}},
    "evidence_content": {
        **VerificationPolicy().model_dump(mode="json")["evidence_content"],
        # A pattern may hold commas: one check per line.
        "checks": ["summary min_length 40", "ticket pattern ^T-[0-9]{1,6}$", "status one_of solved|closed"],
        "conversation_enabled": True,
    },
    "verifier": {
        "enabled": True,
        "verifier": "transcript-judge",
        "sample_percent": 2.5,
        "timeout_seconds": 20,
        "retry_minutes": 15,
        "max_failures": 4,
    },
    "confirmation": {
        "required": True,
        "match_window_hours": 48,
        "on_unmatched": "bill_unverified",
        "unverified_price_percent": 40,
        "silence_window_hours": 168,
    },
    "maturation": {
        "hold_hours": 72,
        "disqualifiers": ["reopened", "no_show"],
        "reporting_windows_hours": {"no_show": 24},
    },
    "anomaly": {
        "velocity_enabled": False,
        "z_threshold": 4.25,
        "baseline_days": 30,
        "min_history_days": 10,
        "rejection_rate_threshold": 0.35,
        "rejection_rate_min_outcomes": 25,
    },
}


def posted(form: ContractForm) -> dict[str, str]:
    """What a browser posts for the form as shown: every input's value (a box: "true" or "false")."""
    return {name: item.value for name, item in form.form.inputs.items() if item.widget != "none"}


def amend_form(outcome_type: dict[str, Any], **terms: Any) -> ContractForm:
    data = {"terms": {"outcome_types": [outcome_type], **terms}}
    return contract_form(data=data, raw=None, errors=None, customers=None, currency="USD")


def test_the_default_policy_is_prefilled_and_posts_back_as_the_apis_default() -> None:
    form = contract_form(data=blank_contract("2026-01-01"), raw=None, errors=None, customers=[])

    assert form.form[f"{POLICY}.confirmation.required"].value == "true"
    assert form.form[f"{POLICY}.confirmation.match_window_hours"].value == "72"
    assert form.form[f"{POLICY}.confirmation.on_unmatched"].value == "reject"
    assert form.form[f"{POLICY}.maturation.disqualifiers"].value == (
        "reopened, escalated_to_human, human_reply, negative_feedback"
    )
    assert form.form[f"{POLICY}.evidence.required_fields"].value == ""
    data, errors = collect(posted(form))
    assert errors == {}
    assert data["terms"]["outcome_types"][0]["verification_policy"] == VerificationPolicy().model_dump(
        mode="json"
    )


def test_a_stored_policy_is_shown_and_posts_back_the_same_json() -> None:
    form = amend_form(outcome_type_terms(verification_policy=STORED_POLICY))

    assert form.form[f"{POLICY}.anomaly.velocity_enabled"].value == "false"
    assert form.form[f"{POLICY}.anomaly.z_threshold"].value == "4.25"
    assert form.form[f"{POLICY}.evidence.required_fields"].value == (
        "ticket_status: string\ntranscript_sha256: sha256"
    )
    assert form.form[f"{POLICY}.evidence_content.checks"].value == (
        "summary min_length 40\nticket pattern ^T-[0-9]{1,6}$\nstatus one_of solved|closed"
    )
    data, errors = collect(posted(form), currency="USD")
    assert errors == {}
    policy = data["terms"]["outcome_types"][0]["verification_policy"]
    assert policy == STORED_POLICY
    # The same JSON the API takes: validating it changes nothing.
    validated = OutcomeTypeTerms.model_validate(data["terms"]["outcome_types"][0])
    assert validated.verification_policy.model_dump(mode="json") == STORED_POLICY


def test_each_rule_says_its_values_in_the_contract_pages_words() -> None:
    form = amend_form(outcome_type_terms(verification_policy=STORED_POLICY))
    words = {rule.title: rule.words for rule in form.outcome_types[0].rules}

    assert words["Confirmation by the customer"] == (
        "Confirmation by the customer within 48 hours; unconfirmed claims are billed as unverified at 40 %"
        " of the price."
    )
    assert words["Evidence"] == "Evidence required: ticket_status (string), transcript_sha256 (sha256)."
    assert words["Evidence content"] == (
        "3 evidence checks; transcript must hold 2+ messages of 20+ characters and a reply by agent after "
        "customer's question."
    )
    assert words["External verifier"] == (
        "The transcript-judge verifier judges each outcome (a 20 s limit; after 4 failed calls a person "
        "decides); 2.5 % of its accepts are checked by a person."
    )
    assert words["Anomalies"] == "Off."
    assert words["Split detection"] == "Off."


def test_a_cleared_list_is_an_empty_list_not_the_default() -> None:
    form = amend_form(outcome_type_terms(verification_policy=STORED_POLICY))
    post = {
        **posted(form),
        f"{POLICY}.maturation.disqualifiers": " ",
        f"{POLICY}.evidence.required_fields": "",
    }

    data, errors = collect(post, currency="USD")

    assert errors == {}
    policy = data["terms"]["outcome_types"][0]["verification_policy"]
    assert policy["maturation"]["disqualifiers"] == []
    assert policy["evidence"]["required_fields"] == {}


def test_an_unchecked_box_posts_false_after_its_hidden_input() -> None:
    form = amend_form(outcome_type_terms())
    post = {**posted(form), f"{POLICY}.confirmation.required": "false"}

    data, _ = collect(post, currency="USD")

    assert data["terms"]["outcome_types"][0]["verification_policy"]["confirmation"]["required"] is False


def test_policy_errors_are_bound_to_their_inputs_and_rules() -> None:
    errors: FieldErrors = {
        f"{POLICY}.confirmation.match_window_hours": [{"code": "greater_than", "message": "Too small"}],
        f"{POLICY}.time_to_outcome": [{"code": "min_not_below_max", "message": "min below max"}],
    }
    form = contract_form(data=blank_contract("2026-01-01"), raw=None, errors=errors, customers=[])
    rules = {rule.title: rule for rule in form.outcome_types[0].rules}

    assert form.form[f"{POLICY}.confirmation.match_window_hours"].errors == ["Too small"]
    assert rules["Time to outcome"].anchor.errors == ["min below max"]
    assert form.form.summary == [
        (
            "f-terms-outcome-types-0-verification-policy-confirmation-match-window-hours",
            "Outcome type 1 · Confirmation by the customer · Match window (hours): Too small",
        ),
        (
            "f-terms-outcome-types-0-verification-policy-time-to-outcome",
            "Outcome type 1 · Time to outcome: min below max",
        ),
    ]


# --- amounts --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "typed", "minor"),
    [
        ("USD", "500.00", 50_000),
        ("USD", "0.5", 50),
        ("USD", "1.230", 123),
        ("JPY", "500", 500),
        ("KWD", "0.125", 125),
    ],
)
def test_an_amount_is_read_in_major_units_of_the_posted_currency(
    currency: str, typed: str, minor: int
) -> None:
    data, errors = collect({"currency": currency, "terms.platform_fee_minor": typed})
    assert errors == {}
    assert data["terms"]["platform_fee_minor"] == minor


@pytest.mark.parametrize(
    ("currency", "typed", "message"),
    [
        ("USD", "1.234", "USD has 2 decimal places."),
        ("JPY", "500.5", "JPY has no decimal places."),
        ("KWD", "0.0005", "KWD has 3 decimal places."),
        ("USD", "5 USD", "Write an amount in USD as digits, e.g. 500.00."),
        ("JPY", "1e3", "Write an amount in JPY as digits, e.g. 500."),
    ],
)
def test_an_amount_the_currency_cannot_hold_is_an_error_on_its_input(
    currency: str, typed: str, message: str
) -> None:
    data, errors = collect({"currency": currency, "terms.outcome_types[0].pricing.max_fee_minor": typed})
    assert errors == {
        "terms.outcome_types[0].pricing.max_fee_minor": [{"code": "malformed_input", "message": message}]
    }
    assert "max_fee_minor" not in str(data)  # nothing half-read is sent


def test_an_amendment_reads_amounts_in_the_contracts_currency() -> None:
    data, errors = collect(
        {"terms.cap_amount_minor": "1500", "approval_threshold_minor": "7"}, currency="JPY"
    )
    assert errors == {}
    assert data == {"terms": {"cap_amount_minor": 1500}, "approval_threshold_minor": 7}


def test_amounts_in_a_currency_stripe_cannot_charge_are_left_to_the_currencys_error() -> None:
    data, errors = collect({"currency": "XXY", "terms.platform_fee_minor": "1.234"})
    assert errors == {}
    assert data == {"currency": "XXY"}  # the API refuses the currency; no amount is guessed


def test_stored_amounts_are_shown_in_major_units_beside_the_currency() -> None:
    usd = amend_form(outcome_type_terms(cap_amount_minor=123_456), platform_fee_minor=50_000)
    assert usd.form["terms.platform_fee_minor"].value == "500.00"
    assert usd.form["terms.outcome_types[0].cap_amount_minor"].value == "1234.56"
    assert usd.form["terms.platform_fee_minor"].unit == "USD"
    assert usd.form["terms.outcome_types[0].free_units"].unit == ""  # a count, not an amount

    header = {**blank_contract("2026-01-01"), "currency": "JPY", "approval_threshold_minor": 500}
    jpy = contract_form(data=header, raw=None, errors=None, customers=[])
    assert jpy.form["approval_threshold_minor"].value == "500"
    assert jpy.form["terms.minimum_commitment_minor"].value == "0"
    assert jpy.form["approval_threshold_minor"].unit == "JPY"

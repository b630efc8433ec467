"""The policy's inputs follow its models: every parameter of every rule has one, of the widget its type
calls for, with plain-language help and the parameter's default."""

from __future__ import annotations

from contracts.forms.policy import POLICY_SPECS, RULE_MODELS
from outcomes.rules.policy import VerificationPolicy


def test_every_parameter_has_an_input_and_no_input_is_left_over() -> None:
    parameters = {
        f"verification_policy.{rule}.{name}"
        for rule, info in VerificationPolicy.model_fields.items()
        for name in info.annotation.model_fields  # type: ignore[union-attr]
    }
    assert set(POLICY_SPECS) == parameters
    assert all(model.title for model in RULE_MODELS.values())
    assert [name for name, spec in POLICY_SPECS.items() if len(spec.help) < 20] == []


def test_the_widget_follows_the_parameters_type() -> None:
    policy = "verification_policy"
    assert POLICY_SPECS[f"{policy}.confirmation.required"].widget == "checkbox"
    assert POLICY_SPECS[f"{policy}.confirmation.match_window_hours"].widget == "number"
    assert POLICY_SPECS[f"{policy}.anomaly.z_threshold"].widget == "decimal"
    assert POLICY_SPECS[f"{policy}.time_to_outcome.started_at_field"].widget == "text"
    assert POLICY_SPECS[f"{policy}.maturation.disqualifiers"].kind == "text_list"
    assert POLICY_SPECS[f"{policy}.evidence.required_fields"].widget == "textarea"
    on_unmatched = POLICY_SPECS[f"{policy}.confirmation.on_unmatched"]
    assert on_unmatched.widget == "select"
    assert on_unmatched.choices == (
        ("reject", "Reject"),
        ("bill_unverified", "Bill unverified"),
        ("silence_is_consent", "Silence is consent"),
    )
    assert POLICY_SPECS[f"{policy}.disputes.unanswered"].choices == (
        ("credit_customer", "Credit customer"),
        ("bill", "Bill"),
    )


def test_labels_read_as_words_with_their_unit_and_defaults_are_the_models() -> None:
    policy = "verification_policy"
    assert POLICY_SPECS[f"{policy}.confirmation.match_window_hours"].label == "Match window (hours)"
    assert POLICY_SPECS[f"{policy}.event_time.max_clock_skew_seconds"].label == "Max clock skew (seconds)"
    assert POLICY_SPECS[f"{policy}.anomaly.z_threshold"].label == "Z threshold"
    defaults = VerificationPolicy().model_dump()
    assert {name: spec.default for name, spec in POLICY_SPECS.items()} == {
        f"{policy}.{rule}.{name}": value
        for rule, params in defaults.items()
        for name, value in params.items()
    }

"""The policy's inputs follow its models: every parameter of every rule has one, of the widget its type
calls for, with plain-language help and the parameter's default."""

from __future__ import annotations

from contracts.forms.policy import policy_specs, rule_models
from outcomes.rules.policy import VerificationPolicy


def test_every_parameter_has_an_input_and_no_input_is_left_over() -> None:
    parameters = {
        f"verification_policy.{rule}.{name}"
        for rule, info in VerificationPolicy.model_fields.items()
        for name in info.annotation.model_fields  # type: ignore[union-attr]
    }
    assert set(policy_specs()) == parameters
    assert all(model.title for model in rule_models().values())
    assert [name for name, spec in policy_specs().items() if len(spec.help) < 20] == []


def test_the_widget_follows_the_parameters_type() -> None:
    policy = "verification_policy"
    assert policy_specs()[f"{policy}.confirmation.required"].widget == "checkbox"
    assert policy_specs()[f"{policy}.confirmation.match_window_hours"].widget == "number"
    assert policy_specs()[f"{policy}.anomaly.z_threshold"].widget == "decimal"
    assert policy_specs()[f"{policy}.time_to_outcome.started_at_field"].widget == "text"
    assert policy_specs()[f"{policy}.maturation.disqualifiers"].kind == "text_list"
    assert policy_specs()[f"{policy}.evidence.required_fields"].widget == "textarea"
    on_unmatched = policy_specs()[f"{policy}.confirmation.on_unmatched"]
    assert on_unmatched.widget == "select"
    assert on_unmatched.choices == (
        ("reject", "Reject"),
        ("bill_unverified", "Bill unverified"),
        ("silence_is_consent", "Silence is consent"),
    )
    assert policy_specs()[f"{policy}.disputes.unanswered"].choices == (
        ("credit_customer", "Credit customer"),
        ("bill", "Bill"),
    )


def test_labels_read_as_words_with_their_unit_and_defaults_are_the_models() -> None:
    policy = "verification_policy"
    assert policy_specs()[f"{policy}.confirmation.match_window_hours"].label == "Match window (hours)"
    assert policy_specs()[f"{policy}.event_time.max_clock_skew_seconds"].label == "Max clock skew (seconds)"
    assert policy_specs()[f"{policy}.anomaly.z_threshold"].label == "Z threshold"
    defaults = VerificationPolicy().model_dump()
    assert {name: spec.default for name, spec in policy_specs().items()} == {
        f"{policy}.{rule}.{name}": value
        for rule, params in defaults.items()
        for name, value in params.items()
    }

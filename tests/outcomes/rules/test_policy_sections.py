"""The verification policy is built from the registry: a section per rule with parameters, registered with
contracts' slot when Django is ready."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from contracts import policy as contracts_policy
from contracts.policy import RuleParams, default_policy, policy_model
from outcomes.rules import RULES
from outcomes.rules.confirmation import Confirmation, ConfirmationParams
from outcomes.rules.policy import SECTION_ORDER, VerificationPolicy


def test_every_rule_with_parameters_has_its_section_and_no_section_is_left_over() -> None:
    with_parameters = [rule for rule in RULES if rule.params_model is not None]
    sections = VerificationPolicy.model_fields
    assert {rule.policy_key: rule.params_model for rule in with_parameters} == {
        key: info.annotation for key, info in sections.items()
    }
    assert all(issubclass(info.annotation, RuleParams) for info in sections.values())  # type: ignore[arg-type]
    assert tuple(sections) == SECTION_ORDER
    assert {rule.name for rule in RULES if rule.params_model is None} == {
        "authenticity",
        "idempotency",
        "natural_key",
        "customer_caps",  # its parameters are the customer's own (contracts.CustomerCap), not the policy's
    }


def test_contracts_slot_holds_the_rules_policy() -> None:
    assert policy_model() is VerificationPolicy
    assert default_policy() == VerificationPolicy()


def test_a_rule_reads_its_own_section_typed() -> None:
    policy = VerificationPolicy.model_validate({"confirmation": {"match_window_hours": 24}})
    assert Confirmation.params_in(policy) == ConfirmationParams(match_window_hours=24)


def test_an_empty_slot_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contracts_policy, "_registered", {})
    with pytest.raises(ImproperlyConfigured, match="No verification policy is registered"):
        policy_model()

"""The verification policy of an outcome type: one section per rule with parameters, built from the registry.

A rule declares its parameters' model and its section's name (Rule.params_model, Rule.policy_key);
nothing else lists them. The outcomes app registers this model with contracts when it is ready
(contracts.policy.policy_register), so contracts validates, stores and shows policies without
importing the rules.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from outcomes.rules import RULES

# The order in which the policy lists its sections (the API's schema, the portal's form), as it always
# has; a rule not named here has its section after these, in the registry's order.
SECTION_ORDER = (
    "event_time",
    "time_to_outcome",
    "evidence",
    "evidence_content",
    "verifier",
    "confirmation",
    "maturation",
    "reversal",
    "reversal_anomaly",
    "disqualifier_contest",
    "split_detection",
    "anomaly",
    "audit_sampling",
    "suppression",
    "disputes",
    "baseline_lift",
    "sender",
    "system_of_record",
    "flag_deadlines",
)


def _sections() -> dict[str, Any]:
    """Each rule's section: its parameters' model, at its defaults when the policy leaves it out."""
    sections = {
        rule.policy_key: (rule.params_model, Field(default_factory=rule.params_model))
        for rule in RULES
        if rule.params_model is not None
    }
    if len(sections) != sum(rule.params_model is not None for rule in RULES):
        raise ValueError("Two rules name the same section of the verification policy.")
    named = [key for key in SECTION_ORDER if key in sections]
    return {key: sections[key] for key in named + [key for key in sections if key not in named]}


VerificationPolicy: type[BaseModel] = create_model(
    "VerificationPolicy",
    __config__=ConfigDict(extra="forbid", frozen=True),
    __doc__="All rule parameters of one outcome type; omitted rules take their defaults.",
    __module__=__name__,
    **_sections(),
)

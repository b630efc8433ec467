"""The verification policy in the portal's contract form: a fieldset per rule, an input per parameter.

Everything is derived from the registered policy's models (contracts.policy.policy_model, on first use: the
model is registered when Django is ready): which rules and parameters there are,
their types (a number, a checkbox, a choice, a list), defaults and plain-language descriptions. Inputs are
named by the API's field paths (`verification_policy.confirmation.match_window_hours`), so a posted form
is the policy JSON the API takes and the API's errors land beside the input they name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from contracts.policy import RuleParams, policy_model
from core.forms import (
    BOOL,
    FIELD_KINDS,
    FLOAT,
    INT,
    NAMED_INTS,
    TEXT,
    TEXT_LINES,
    TEXT_LIST,
    Input,
    Spec,
    lookup,
)

POLICY = "verification_policy"
UNIT_WORDS = ("seconds", "hours", "days", "percent")


def _words(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _label(name: str) -> str:
    """`match_window_hours` -> 'Match window (hours)'."""
    *words, last = name.split("_")
    if words and last in UNIT_WORDS:
        return f"{_words('_'.join(words))} ({last})"
    return _words(name)


def _spec(name: str, info: FieldInfo) -> Spec:
    annotation = info.annotation
    default = info.get_default(call_default_factory=True)
    common = {"label": _label(name), "help": info.description or "", "default": default}
    if annotation is bool:
        return Spec(kind=BOOL, widget="checkbox", **common)
    if annotation is int:
        return Spec(kind=INT, widget="number", **common)
    if annotation is float:
        return Spec(kind=FLOAT, widget="decimal", **common)
    if get_origin(annotation) is Literal:
        return Spec(
            widget="select", choices=tuple((str(v), _words(str(v))) for v in get_args(annotation)), **common
        )
    if get_origin(annotation) is list:
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if extra.get("x-one-per-line"):  # items that may hold commas (evidence checks)
            return Spec(kind=TEXT_LINES, widget="textarea", **common)
        return Spec(kind=TEXT_LIST, **common)
    if get_origin(annotation) is dict:
        value = get_args(annotation)[1]
        if get_origin(value) is Annotated:  # a constrained value, e.g. Annotated[int, Field(ge=1)]
            value = get_args(value)[0]
        kind = NAMED_INTS if value is int else FIELD_KINDS
        return Spec(kind=kind, widget="textarea", **common)
    return Spec(kind=TEXT, **common)


@cache
def rule_models() -> dict[str, type[RuleParams]]:
    """Each rule's parameters model, by its policy section (read from the registered policy on first use)."""
    models = {}
    for rule, info in policy_model().model_fields.items():
        model = info.annotation
        if not (isinstance(model, type) and issubclass(model, RuleParams)):
            raise TypeError(f"The policy's {rule} is not a rule's parameters.")
        models[rule] = model
    return models


@cache
def policy_specs() -> dict[str, Spec]:
    """Every parameter's input, by its path inside an outcome type: `verification_policy.<rule>.<parameter>`."""
    return {
        f"{POLICY}.{rule}.{name}": _spec(name, info)
        for rule, model in rule_models().items()
        for name, info in model.model_fields.items()
    }


@dataclass
class RuleBlock:
    """One rule's fieldset: its name, the current values in words, and an input per parameter."""

    title: str
    words: str
    anchor: Input  # errors about the rule as a whole (min_seconds not below max_seconds)
    inputs: list[Input]


def rule_words(rule: str, values: Any) -> str:
    """The rule's values as the contract page reads them; '' when they are not (yet) valid."""
    try:
        params = rule_models()[rule].model_validate(values if isinstance(values, dict) else {})
    except ValidationError:
        return ""
    return params.describe() or "Off."


def rule_blocks(
    prefix: str, group: str, outcome_type: Any, make: Callable[[str, Spec], Input]
) -> list[RuleBlock]:
    """The rules of the outcome type at `prefix` (`terms.outcome_types[0]`), their inputs built by
    `make(name, spec)`; `outcome_type` is its data in the API's shape, for each rule's words."""
    blocks = []
    for rule, model in rule_models().items():
        path = f"{prefix}.{POLICY}.{rule}"
        inputs = []
        for name in model.model_fields:
            item = make(f"{path}.{name}", policy_specs()[f"{POLICY}.{rule}.{name}"])
            item.group = f"{group} · {model.title}"
            inputs.append(item)
        blocks.append(
            RuleBlock(
                title=model.title,
                words=rule_words(rule, lookup(outcome_type, f"{POLICY}.{rule}")),
                anchor=Input(name=path, label=model.title, widget="none", group=group),
                inputs=inputs,
            )
        )
    return blocks

"""An outcome type's part of the portal's contract form: its inputs (key, pricing by model, the tier table,
limits, the verification policy's rules), its first values, and the tidying of a posted body."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from contracts.forms.policy import POLICY, RuleBlock, policy_specs, rule_blocks
from contracts.policy import default_policy
from core.forms import INT, INT_OR_NULL, MONEY, Input, Spec, lookup

PRICING_MODELS = [
    ("per_unit", "Per unit"),
    ("graduated", "Graduated tiers"),
    ("volume", "Volume tiers"),
    ("package", "Package"),
    ("percentage", "Percentage of value"),
]
PRICING_FIELDS = {
    "per_unit": ("unit_price",),
    "graduated": ("tiers",),
    "volume": ("tiers",),
    "package": ("package_size", "package_price"),
    "percentage": ("percent", "min_fee_minor", "max_fee_minor"),
}
MIN_TIER_ROWS = 3

PRICE = 'A decimal in major units, e.g. "0.99" (fractions of a cent allowed).'

_OWN_SPECS: dict[str, Spec] = {
    "key": Spec("Key", help="Lower-case dotted name, e.g. ticket.resolved."),
    "description": Spec("Description"),
    "natural_key_field": Spec(
        "Natural key field",
        help="The evidence field naming one real-world unit, e.g. ticket_id: used when an event sends no "
        "natural_key, and must agree with it when both are sent.",
    ),
    "billing_basis": Spec(
        "Billing basis",
        widget="select",
        choices=(
            ("per_outcome", "Per outcome (verified successes only)"),
            ("per_task", "Per task (every attempt)"),
        ),
    ),
    "pricing.model": Spec("Pricing model", widget="select", choices=tuple(PRICING_MODELS)),
    "pricing.unit_price": Spec("Unit price", help=PRICE),
    "pricing.package_size": Spec("Package size", INT, "number"),
    "pricing.package_price": Spec("Package price", help=PRICE),
    "pricing.percent": Spec("Percent of value", help='e.g. "12.5"'),
    "pricing.min_fee_minor": Spec("Minimum fee per outcome", MONEY, "decimal", "Optional."),
    "pricing.max_fee_minor": Spec("Maximum fee per outcome", MONEY, "decimal", "Optional."),
    "free_units": Spec("Free units per period", INT, "number"),
    "cap_units": Spec("Cap (units per period)", INT, "number", "Optional."),
    "cap_amount_minor": Spec("Cap (amount per period)", MONEY, "decimal", "Optional."),
}


@cache
def outcome_type_specs() -> dict[str, Spec]:
    """An outcome type's inputs, the policy's among them (built on first use, as the policy's are)."""
    return {**_OWN_SPECS, **policy_specs()}


TIER_SPECS: dict[str, Spec] = {
    "up_to": Spec("Up to (units)", INT_OR_NULL, "number", "Blank on the last tier: no upper bound."),
    "unit_price": Spec("Unit price", help=PRICE),
    "flat_fee": Spec("Flat fee", help="Optional."),
}

OUTCOME_TYPE_PREFIX = "terms.outcome_types[]."
TIER_PREFIX = OUTCOME_TYPE_PREFIX + "pricing.tiers[]."

# Builds one input from its full name and spec (the contract form's `make`, which knows the values shown).
MakeInput = Callable[[str, Spec], Input]


def default_outcome_type() -> dict[str, Any]:
    return {
        "billing_basis": "per_outcome",
        "pricing": {"model": "per_unit"},
        "free_units": 0,
        "verification_policy": default_policy().model_dump(mode="json"),
    }


def _blank_tier(tier: dict[str, Any]) -> bool:
    return tier.get("up_to") is None and "unit_price" not in tier and "flat_fee" not in tier


def _blank_outcome_type(item: dict[str, Any]) -> bool:
    pricing = item.get("pricing") or {}
    return not any(item.get(name) for name in ("key", "description", "natural_key_field")) and not any(
        value for name, value in pricing.items() if name not in ("model", "tiers")
    )


def tidy_outcome_types(outcome_types: list[Any]) -> None:
    """Keep only the chosen pricing model's fields, and drop blank tier rows and outcome types at the end."""
    while len(outcome_types) > 1 and _blank_outcome_type(outcome_types[-1]):
        outcome_types.pop()
    for item in outcome_types:
        pricing = item.get("pricing")
        if not isinstance(pricing, dict):
            continue
        keep = PRICING_FIELDS.get(str(pricing.get("model")), ())
        for name in [name for name in pricing if name != "model" and name not in keep]:
            del pricing[name]
        tiers = pricing.get("tiers")
        if isinstance(tiers, list):
            while tiers and _blank_tier(tiers[-1]):
                tiers.pop()


@dataclass
class OutcomeTypeBlock:
    index: int
    anchor: Input
    fields: list[Input]
    pricing_anchor: Input
    model: Input
    per_model: dict[str, list[Input]]
    tiers_anchor: Input
    tiers: list[list[Input]]
    limits: list[Input]
    policy_anchor: Input
    rules: list[RuleBlock]

    @property
    def inputs(self) -> list[Input]:
        """Every input and anchor of the block, in the order the page shows them."""
        return [
            self.anchor,
            *self.fields,
            self.pricing_anchor,
            self.model,
            *(item for items in self.per_model.values() for item in items),
            self.tiers_anchor,
            *(cell for row in self.tiers for cell in row),
            *self.limits,
            self.policy_anchor,
            *(item for rule in self.rules for item in (rule.anchor, *rule.inputs)),
        ]


def _anchor(name: str, label: str) -> Input:
    return Input(name=name, label=label, widget="none")


def outcome_type_block(index: int, shown: Any, policy_data: Any, make: MakeInput) -> OutcomeTypeBlock:
    """The inputs of the outcome type at `index`; `shown` is its data as the form shows it (for the tier
    rows to lay out), `policy_data` its stored data in the API's shape (for each rule's words)."""
    prefix = f"terms.outcome_types[{index}]"
    group = f"Outcome type {index + 1}"

    def field_of(name: str) -> Input:
        item = make(f"{prefix}.{name}", outcome_type_specs()[name])
        item.group = group
        return item

    def tier_cell(row: int, name: str, spec: Spec) -> Input:
        item = make(f"{prefix}.pricing.tiers[{row}].{name}", spec)
        item.label, item.group = f"Tier {row + 1} {spec.label.lower()}", group
        return item

    tier_count = len(lookup(shown, "pricing.tiers") or [])
    return OutcomeTypeBlock(
        index=index,
        anchor=_anchor(prefix, group),
        fields=[field_of(name) for name in ("key", "description", "natural_key_field", "billing_basis")],
        pricing_anchor=_anchor(f"{prefix}.pricing", f"{group} · Pricing"),
        model=field_of("pricing.model"),
        per_model={
            "per_unit": [field_of("pricing.unit_price")],
            "package": [field_of("pricing.package_size"), field_of("pricing.package_price")],
            "percentage": [
                field_of("pricing.percent"),
                field_of("pricing.min_fee_minor"),
                field_of("pricing.max_fee_minor"),
            ],
        },
        tiers_anchor=_anchor(f"{prefix}.pricing.tiers", f"{group} · Tier table"),
        tiers=[
            [tier_cell(row, name, spec) for name, spec in TIER_SPECS.items()]
            for row in range(max(MIN_TIER_ROWS, tier_count + 1))
        ],
        limits=[field_of("free_units"), field_of("cap_units"), field_of("cap_amount_minor")],
        policy_anchor=_anchor(f"{prefix}.{POLICY}", f"{group} · Verification"),
        rules=rule_blocks(prefix, group, policy_data, make),
    )

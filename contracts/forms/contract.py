"""The portal's contract and amendment forms: which inputs they have, laid out by section, and the
JSON body they build, parsed and passed to the same services as the API's (contract_create_parse and
contract_create, an Amendment and contract_amend)."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from contracts.forms.outcome_type import (
    OUTCOME_TYPE_PREFIX,
    TIER_PREFIX,
    TIER_SPECS,
    OutcomeTypeBlock,
    default_outcome_type,
    outcome_type_block,
    outcome_type_specs,
    tidy_outcome_types,
)
from contracts.models import CollectionMethod, ContractVersion, Customer
from contracts.portal import customer_choices
from contracts.terms import pricing_as_plain
from core.currencies import stripe_currency
from core.errors import FieldErrors
from core.forms import (
    BLANK_MEANS,
    BOOL,
    INT,
    INT_LIST,
    MONEY,
    Form,
    Input,
    MalformedInput,
    SectionedForm,
    Spec,
    bind,
    coerce,
    display,
    lookup,
    money_minor,
    money_text,
    nest,
)

HEADER_SPECS: dict[str, Spec] = {
    "customer_id": Spec("Customer", widget="select"),
    "reference": Spec("Reference", help="Your name for the contract; events cite it."),
    "currency": Spec("Currency", help="ISO 4217 code of a currency Stripe can charge, e.g. USD or EUR."),
    "timezone": Spec("Time zone", help="IANA zone periods are computed in, e.g. Europe/Berlin."),
    "period_count": Spec("Months per period", INT, "number"),
    "anchor_day": Spec(
        "Periods start on day", INT, "number", "1 to 31; 29 to 31 fall back to a month's last day."
    ),
    "starts_at": Spec("Starts", help="A date (local midnight) or an instant with offset, e.g. 2026-01-01."),
    "ends_at": Spec("Ends", help="Optional; same format."),
    "collection_method": Spec(
        "Collection", widget="select", choices=tuple((c.value, c.label) for c in CollectionMethod)
    ),
    "days_until_due": Spec("Days until due", INT, "number", "Only when sending invoices."),
    "withhold_credits_while_overdue": Spec(
        "Withhold credits while overdue",
        BOOL,
        "checkbox",
        "A credit that would be refunded or go to the customer's balance waits while the customer has an "
        "overdue invoice with you, and is issued once it is paid.",
    ),
    "grace_period_hours": Spec(
        "Grace period (hours)", INT, "number", "Late events still counted after a close."
    ),
    "approval_threshold_minor": Spec(
        "Approval threshold",
        MONEY,
        "decimal",
        "Optional. A draft whose total is over it waits for the customer's approval.",
    ),
}
AMEND_SPECS: dict[str, Spec] = {
    "effective_from": Spec(
        "Effective from",
        help="Blank: now. A date means local midnight in the contract's zone; never in the past once active.",
    ),
}
TERMS_SPECS: dict[str, Spec] = {
    "terms.platform_fee_minor": Spec("Platform fee per period", MONEY, "decimal"),
    "terms.minimum_commitment_minor": Spec("Minimum commitment per period", MONEY, "decimal"),
    "terms.cap_amount_minor": Spec("Cap per period", MONEY, "decimal", "Optional."),
    "terms.budget_alert_percents": Spec(
        "Budget alerts (% of cap)",
        INT_LIST,
        help="e.g. 80, 95. Each one reached sends a budget.threshold_reached webhook and an email to "
        "the owners and admins, once per period.",
    ),
    "terms.notes": Spec("Notes", widget="textarea"),
}


@cache
def specs() -> dict[str, Spec]:
    """Every input by its name's template (built on first use: the policy's inputs are, contracts.forms.policy)."""
    return {
        **HEADER_SPECS,
        **AMEND_SPECS,
        **TERMS_SPECS,
        **{OUTCOME_TYPE_PREFIX + name: spec for name, spec in outcome_type_specs().items()},
        **{TIER_PREFIX + name: spec for name, spec in TIER_SPECS.items()},
    }


def _template(name: str) -> str:
    return re.sub(r"\[\d+\]", "[]", name)


def blank_contract(today: str) -> dict[str, Any]:
    """The create form's first values: the API's defaults, one outcome type with the default policy."""
    return {
        "currency": "USD",
        "timezone": "UTC",
        "period_count": 1,
        "anchor_day": 1,
        "starts_at": today,
        "collection_method": CollectionMethod.CHARGE_AUTOMATICALLY.value,
        "withhold_credits_while_overdue": True,
        "grace_period_hours": 72,
        "terms": {
            "platform_fee_minor": 0,
            "minimum_commitment_minor": 0,
            "budget_alert_percents": [80, 95],
            "outcome_types": [default_outcome_type()],
        },
    }


def _tidy(data: dict[str, Any]) -> None:
    """Keep only the chosen pricing model's fields, and drop blank tier rows and outcome types at the end."""
    terms = data.get("terms")
    if isinstance(terms, dict) and isinstance(terms.get("outcome_types"), list):
        tidy_outcome_types(terms["outcome_types"])


def money_currency(values: Mapping[str, Any], contract_currency: str | None) -> str | None:
    """The currency the form's amounts are in: its currency input's, or else the contract's; None when
    Stripe cannot charge it (the API then refuses the currency, and amounts cannot be read)."""
    code = values.get("currency") or contract_currency
    try:
        return stripe_currency(code).code if isinstance(code, str) else None
    except ValueError:
        return None


def collect(post: Mapping[str, str], *, currency: str | None = None) -> tuple[dict[str, Any], FieldErrors]:
    """The JSON body a posted form stands for, and the errors of inputs that cannot become JSON.
    Amounts are typed in major units of the form's currency input, or else of `currency` (the contract's)."""
    values: dict[str, Any] = {}
    errors: FieldErrors = {}
    code = money_currency(post, currency)
    for name in post:
        spec = specs().get(_template(name))
        if spec is None:
            continue
        text = post.get(name) or ""
        if not text.strip() and spec.kind not in BLANK_MEANS:
            continue
        try:
            if spec.kind != MONEY:
                values[name] = coerce(text, spec.kind)
            elif code is not None:
                values[name] = money_minor(text, code)
        except MalformedInput as exc:
            errors[name] = [{"code": "malformed_input", "message": str(exc)}]
    data = nest(values)
    _tidy(data)
    return data, errors


@dataclass
class ContractForm(SectionedForm):
    """The inputs of a contract (or amendment) form by section, with the errors bound to them."""

    form: Form
    header: list[Input]
    terms_anchor: Input
    terms: list[Input]
    outcome_types_anchor: Input
    outcome_types: list[OutcomeTypeBlock] = field(default_factory=list)


def contract_form(
    *,
    data: Any,
    raw: Mapping[str, str] | None,
    errors: FieldErrors | None,
    customers: list[Customer] | None,
    extra_outcome_type: bool = False,
    currency: str | None = None,
) -> ContractForm:
    """Lay out the form for `data` (nested, the API's shape) or, after a post, for the posted texts
    `raw` (shown as typed). With `customers` the form creates a contract (header fields); without,
    it amends one (effective_from). `extra_outcome_type` adds a blank outcome type at the end.
    Amounts are shown in major units of the form's currency, or else of `currency` (the contract's).
    A little over 60 lines: `make` closes over the shown values, texts and currency every input needs."""
    texts = {name: raw.get(name) or "" for name in raw} if raw is not None else {}
    shown = copy.deepcopy(nest(texts) if raw is not None else data) or {}
    terms_data = shown.setdefault("terms", {})
    outcome_types_data = terms_data.setdefault("outcome_types", [])
    if extra_outcome_type or not outcome_types_data:
        outcome_types_data.append(default_outcome_type())
    code = money_currency(shown, currency)
    unit = code or str(shown.get("currency") or currency or "").upper()

    def make(name: str, spec: Spec) -> Input:
        found = lookup(shown, name)
        if name in texts:
            value = texts[name]
        elif spec.kind == MONEY and isinstance(found, int) and code is not None:
            value = money_text(found, code)
        else:
            value = display(spec.default if found is None else found, spec.kind)
        choices = list(spec.choices)
        if name == "customer_id" and customers is not None:
            choices = customer_choices(customers, "Choose a customer")
        return Input(
            name=name,
            label=spec.label,
            kind=spec.kind,
            value=value,
            choices=choices,
            help=spec.help,
            widget=spec.widget,
            unit=unit if spec.kind == MONEY else "",
        )

    header = [
        make(name, spec) for name, spec in (HEADER_SPECS if customers is not None else AMEND_SPECS).items()
    ]
    terms = [make(name, spec) for name, spec in TERMS_SPECS.items()]
    blocks = [
        outcome_type_block(index, block_data, lookup(data, f"terms.outcome_types[{index}]"), make)
        for index, block_data in enumerate(outcome_types_data)
    ]
    every = [*header, *terms, *(item for block in blocks for item in block.inputs)]
    terms_anchor = Input(name="terms", label="Terms", widget="none")
    outcome_types_anchor = Input(name="terms.outcome_types", label="Outcome types", widget="none")
    form = bind([*every, terms_anchor, outcome_types_anchor], errors)
    return ContractForm(
        form=form,
        header=header,
        terms_anchor=terms_anchor,
        terms=terms,
        outcome_types_anchor=outcome_types_anchor,
        outcome_types=blocks,
    )


def version_terms(version: ContractVersion) -> dict[str, Any]:
    """A stored version's terms in the API's input shape (the amendment form starts from them)."""
    return {
        "platform_fee_minor": version.platform_fee_minor,
        "minimum_commitment_minor": version.minimum_commitment_minor,
        "cap_amount_minor": version.cap_amount_minor,
        "budget_alert_percents": version.budget_alert_percents,
        "notes": version.notes,
        "outcome_types": [
            {
                "key": item.key,
                "description": item.description,
                "natural_key_field": item.natural_key_field,
                "billing_basis": item.billing_basis,
                "pricing": pricing_as_plain(item.pricing),
                "free_units": item.free_units,
                "cap_units": item.cap_units,
                "cap_amount_minor": item.cap_amount_minor,
                "verification_policy": item.verification_policy,
            }
            for item in version.outcome_types.all()
        ],
    }

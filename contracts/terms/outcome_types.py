"""An outcome type's terms: its key, natural key field, billing basis, pricing, limits and verification
policy."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator
from pydantic_core import PydanticCustomError

from contracts.policy import RegisteredPolicy, default_policy
from contracts.terms.amounts import PositiveMinorAmount
from contracts.terms.parse import Terms
from contracts.terms.pricing import Pricing
from core.currencies import minor_units_help

OUTCOME_TYPE_KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _outcome_type_key(value: str) -> str:
    if not OUTCOME_TYPE_KEY.match(value):
        raise PydanticCustomError(
            "invalid_key", "Use lower-case words separated by dots, e.g. ticket.resolved."
        )
    return value


def _field_name(value: str) -> str:
    if not FIELD_NAME.match(value):
        raise PydanticCustomError("invalid_field_name", "Use a JSON field name such as ticket_id.")
    return value


class OutcomeTypeTerms(Terms):
    key: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_outcome_type_key)]
    description: Annotated[str, Field(max_length=300)] = ""
    natural_key_field: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            description="The top-level evidence field holding the natural key (e.g. ticket_id): an event "
            "without `natural_key` takes it from evidence.<field> (a string or an integer); an event with "
            "both is refused if they differ (422 natural_key_mismatch). No dotted paths.",
        ),
        AfterValidator(_field_name),
    ]
    billing_basis: Literal["per_task", "per_outcome"]
    pricing: Pricing
    free_units: Annotated[int, Field(ge=0, le=10**12, strict=True)] = 0
    cap_units: Annotated[int, Field(gt=0, le=10**12, strict=True)] | None = None
    cap_amount_minor: PositiveMinorAmount | None = Field(
        default=None,
        description=minor_units_help("The most this outcome type bills per period (null: no cap)."),
    )
    # The registered policy (contracts.policy's slot: the outcomes app's rules and their parameters).
    verification_policy: Annotated[BaseModel, RegisteredPolicy] = Field(default_factory=default_policy)

    @model_validator(mode="after")
    def _percentage_needs_outcomes(self) -> OutcomeTypeTerms:
        if self.pricing.model == "percentage" and self.billing_basis != "per_outcome":
            raise PydanticCustomError(
                "percentage_needs_per_outcome",
                "A percentage-of-value price bills outcomes, not tasks.",
            )
        return self

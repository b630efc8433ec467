"""A contract version's terms (everything an amendment can change) and an amendment (new terms and when
they take effect)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from contracts.terms.amounts import MinorAmount, PositiveMinorAmount
from contracts.terms.header import Instant
from contracts.terms.outcome_types import OutcomeTypeTerms
from contracts.terms.parse import Terms
from core.currencies import minor_units_help

# What a budget alert threshold does, in the contract's words (contracts.wording) and the API's schema.
BUDGET_ALERTS = (
    "a budget.threshold_reached webhook and an email to the vendor's owners and admins, "
    "once per period and threshold"
)
BUDGET_ALERTS_HELP = (
    "Percents of cap_amount_minor at which to alert: when what the current period bills so far reaches "
    f"one, {BUDGET_ALERTS}."
)


def _sorted_unique_percents(values: list[int]) -> list[int]:
    return sorted(set(values))


class VersionTerms(Terms):
    """Everything an amendment can change."""

    platform_fee_minor: MinorAmount = Field(
        default=0, description=minor_units_help("A fixed fee per period.")
    )
    minimum_commitment_minor: MinorAmount = Field(
        default=0, description=minor_units_help("The least a period bills; a shortfall is trued up.")
    )
    cap_amount_minor: PositiveMinorAmount | None = Field(
        default=None, description=minor_units_help("The most the contract bills per period (null: no cap).")
    )
    budget_alert_percents: Annotated[
        list[Annotated[int, Field(ge=1, le=100, strict=True)]],
        Field(max_length=10),
        AfterValidator(_sorted_unique_percents),
    ] = Field(
        default_factory=lambda: [80, 95],
        description=BUDGET_ALERTS_HELP,
    )
    notes: Annotated[str, Field(max_length=2000)] = ""
    outcome_types: Annotated[list[OutcomeTypeTerms], Field(min_length=1, max_length=50)]

    @model_validator(mode="after")
    def _keys_unique(self) -> VersionTerms:
        seen: set[str] = set()
        for outcome_type in self.outcome_types:
            if outcome_type.key in seen:
                raise PydanticCustomError(
                    "duplicate_outcome_type",
                    "Outcome type {key} appears twice.",
                    {"key": outcome_type.key},
                )
            seen.add(outcome_type.key)
        return self


class Amendment(Terms):
    """A new version: its terms and when they take effect (default: now)."""

    effective_from: Instant | None = None
    terms: VersionTerms

"""The pricing models an outcome type may have (per unit, graduated or volume tiers, package, percentage
of value), and stored pricing read back with its decimals written plainly."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from contracts.terms.amounts import (
    MinorAmount,
    PlainDecimal,
    PositiveMinorAmount,
    Price,
    decimal_from_string,
    decimal_string_schema,
    finite_decimal,
    finite_number,
    plain_decimal,
)
from contracts.terms.parse import Terms
from core.currencies import minor_units_help

DECIMAL_FIELDS = frozenset({"unit_price", "flat_fee", "package_price", "percent"})


def pricing_as_plain(pricing: dict[str, Any]) -> dict[str, Any]:
    """Stored pricing with its decimals written plainly. Pricing stored before prices were kept plain
    may hold "1E+2"; reading it this way lets it be shown and re-submitted as "100"."""

    def plain(name: str, value: Any) -> Any:
        if name in DECIMAL_FIELDS and isinstance(value, str) and finite_number(value):
            return plain_decimal(finite_decimal(Decimal(value)))
        if name == "tiers" and isinstance(value, list):
            return [pricing_as_plain(tier) if isinstance(tier, dict) else tier for tier in value]
        return value

    return {name: plain(name, value) for name, value in pricing.items()}


class PerUnitPricing(Terms):
    """Every billable unit at one price."""

    model: Literal["per_unit"]
    unit_price: Price


class Tier(Terms):
    up_to: Annotated[int, Field(gt=0, le=10**12, strict=True)] | None = Field(
        description="Last unit of this tier (inclusive); null on the last tier (no upper bound)."
    )
    unit_price: Price
    flat_fee: Price = Decimal(0)


class TieredPricing(Terms):
    """Graduated: each unit priced by the tier it falls in. Volume: all units at the tier the total reaches."""

    model: Literal["graduated", "volume"]
    tiers: Annotated[list[Tier], Field(min_length=1, max_length=50)]

    @field_validator("tiers")
    @classmethod
    def _tiers_ordered_and_open_ended(cls, tiers: list[Tier]) -> list[Tier]:
        previous: int | None = 0
        for index, tier in enumerate(tiers):
            last = index == len(tiers) - 1
            if tier.up_to is None and not last:
                raise PydanticCustomError(
                    "tier_unbounded_before_last",
                    "Only the last tier may have no upper bound (tier {index}).",
                    {"index": index},
                )
            if tier.up_to is not None and last:
                raise PydanticCustomError(
                    "tier_last_bounded",
                    "The last tier must have up_to null so every unit has a price.",
                )
            if tier.up_to is not None and previous is not None and tier.up_to <= previous:
                raise PydanticCustomError(
                    "tiers_not_increasing",
                    "Tier {index} ends at {up_to}, not above the previous tier's end {previous}:"
                    " tiers must be ordered and must not overlap.",
                    {"index": index, "up_to": tier.up_to, "previous": previous},
                )
            previous = tier.up_to
        return tiers


class PackagePricing(Terms):
    """Units sold in packages of `package_size`; a started package is billed whole."""

    model: Literal["package"]
    package_size: Annotated[int, Field(gt=0, le=10**9, strict=True)]
    package_price: Price


class PercentagePricing(Terms):
    """A success fee: `percent` of the outcome's reported value, bounded per outcome."""

    model: Literal["percentage"]
    percent: Annotated[
        Decimal,
        BeforeValidator(decimal_from_string),
        Field(gt=0, le=100, max_digits=9, decimal_places=6),
        AfterValidator(finite_decimal),
        PlainDecimal,
        decimal_string_schema(integer_digits=3, decimal_places=6, bounds="above 0 and at most 100"),
    ]
    min_fee_minor: MinorAmount | None = Field(
        default=None, description=minor_units_help("The least fee per outcome (null: none).")
    )
    max_fee_minor: PositiveMinorAmount | None = Field(
        default=None, description=minor_units_help("The most fee per outcome (null: none).")
    )

    @model_validator(mode="after")
    def _min_not_above_max(self) -> PercentagePricing:
        if (
            self.min_fee_minor is not None
            and self.max_fee_minor is not None
            and self.min_fee_minor > self.max_fee_minor
        ):
            raise PydanticCustomError(
                "min_above_max", "min_fee_minor must not be greater than max_fee_minor."
            )
        return self


Pricing = Annotated[
    PerUnitPricing | TieredPricing | PackagePricing | PercentagePricing,
    Field(discriminator="model"),
]

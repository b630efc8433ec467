"""Rating: the price of a count of units (or of a reported value) under a pricing model, and the
rated amount of a group of outcomes of one type, with the one rounding rule: pure functions, no I/O.

Prices come from the terms (Decimal major units); results are exact Decimals in minor units, rounded
once (`round_minor`) where they become an invoice line (settlement.money.round_line) or a figure shown.
Settlement bills with them and the verification pipeline prices an outcome for the customer's own
amount cap (outcomes.services.caps) with the same functions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from core.currencies import currency_exponent

ZERO = Decimal(0)


@dataclass(frozen=True)
class Slice:
    """Units priced at one rate: a whole per-unit count, one tier of a tier table, or packages."""

    tier: int | None
    quantity: int  # units, or packages for the package model
    unit_price: Decimal  # major units per unit (or per package)
    flat_fee: Decimal = ZERO  # major units, once for the slice
    units: int = 0  # the outcomes it covers (equals quantity except for packages)

    @property
    def amount(self) -> Decimal:
        return self.quantity * self.unit_price + self.flat_fee


def _tiers(pricing: dict[str, Any]) -> list[tuple[int | None, Decimal, Decimal]]:
    return [
        (tier["up_to"], Decimal(tier["unit_price"]), Decimal(tier.get("flat_fee", "0")))
        for tier in pricing["tiers"]
    ]


def rate_units(pricing: dict[str, Any], units: int) -> list[Slice]:
    """Price `units` billable units; an empty list for zero units."""
    if units <= 0:
        return []
    model = pricing["model"]
    if model == "per_unit":
        return [Slice(None, units, Decimal(pricing["unit_price"]), units=units)]
    if model == "graduated":
        slices, lower = [], 0
        for index, (up_to, price, flat) in enumerate(_tiers(pricing)):
            upper = units if up_to is None else min(units, up_to)
            if upper > lower:
                slices.append(Slice(index, upper - lower, price, flat, units=upper - lower))
            if up_to is None or units <= up_to:
                break
            lower = up_to
        return slices
    if model == "volume":
        for index, (up_to, price, flat) in enumerate(_tiers(pricing)):
            if up_to is None or units <= up_to:
                return [Slice(index, units, price, flat, units=units)]
    if model == "package":
        size = int(pricing["package_size"])
        packages = -(-units // size)  # a started package is billed whole
        return [Slice(None, packages, Decimal(pricing["package_price"]), units=units)]
    raise ValueError(f"{model} prices values, not units")


def percentage_fee_minor(pricing: dict[str, Any], value_minor: int) -> Decimal:
    """A success fee on one outcome's reported value, bounded per outcome; exact, in minor units."""
    fee = Decimal(value_minor) * Decimal(pricing["percent"]) / 100
    if pricing.get("min_fee_minor") is not None:
        fee = max(fee, Decimal(pricing["min_fee_minor"]))
    if pricing.get("max_fee_minor") is not None:
        fee = min(fee, Decimal(pricing["max_fee_minor"]))
    return fee


def major_to_minor(amount: Decimal, currency: str) -> Decimal:
    """An exact amount in major units (a price) expressed in minor units, not rounded."""
    return amount.scaleb(currency_exponent(currency))


def round_minor(amount: Decimal) -> int:
    """The one rounding rule: to a whole minor unit, halves away from zero."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


class Priced(Protocol):
    """What rating reads of an outcome: the share of the price it bills at and the value it reported."""

    @property
    def price_percent(self) -> int: ...

    @property
    def value_minor(self) -> int | None: ...


def rated_amount_minor(pricing: dict[str, Any], outcomes: Sequence[Priced], currency: str) -> Decimal:
    """The exact amount, in minor units, of outcomes of one type under one pricing: each outcome's
    success fee, or their count priced together (tiers, packages) per share of the price they bill at."""
    if pricing["model"] == "percentage":
        return sum(
            (percentage_fee_minor(pricing, o.value_minor or 0) * o.price_percent / 100 for o in outcomes),
            ZERO,
        )
    return units_amount_minor(pricing, Counter(o.price_percent for o in outcomes), currency)


def units_amount_minor(pricing: dict[str, Any], shares: Mapping[int, int], currency: str) -> Decimal:
    """The exact amount, in minor units, of units priced together by count (per unit, tiers, packages),
    `shares[p]` of them billed at p percent of the price: each share's count rated on its own."""
    total = ZERO
    for percent in sorted(shares):
        count = shares[percent]
        total += (
            sum((major_to_minor(s.amount, currency) for s in rate_units(pricing, count)), ZERO)
            * percent
            / 100
        )
    return total

"""Pricing a count of units (or a reported value) under a pricing model: pure functions, no I/O.

Prices come from contracts.terms (Decimal major units); results are exact Decimals, rounded only
when they become an invoice line (settlement.money.round_minor).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

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

"""Rating properties (hypothesis) and the one rounding rule."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.terms.rating import percentage_fee_minor, rate_units, round_minor

prices = st.decimals(min_value=0, max_value=1000, places=4, allow_nan=False, allow_infinity=False)


@st.composite
def tier_tables(draw: Any) -> dict[str, Any]:
    bounds = sorted(draw(st.sets(st.integers(min_value=1, max_value=500), min_size=0, max_size=5)))
    tiers = [{"up_to": b, "unit_price": str(draw(prices)), "flat_fee": str(draw(prices))} for b in bounds]
    tiers.append({"up_to": None, "unit_price": str(draw(prices)), "flat_fee": str(draw(prices))})
    return {"model": draw(st.sampled_from(["graduated", "volume"])), "tiers": tiers}


@given(tier_tables(), st.integers(min_value=0, max_value=2000))
def test_every_unit_is_priced_exactly_once(pricing: dict[str, Any], units: int) -> None:
    slices = rate_units(pricing, units)
    assert sum(s.units for s in slices) == units


@given(tier_tables(), st.integers(min_value=1, max_value=2000))
def test_graduated_equals_the_sum_of_its_tier_slices(pricing: dict[str, Any], units: int) -> None:
    pricing = {**pricing, "model": "graduated"}
    expected = Decimal(0)
    lower = 0
    for tier in pricing["tiers"]:
        upper = units if tier["up_to"] is None else min(units, tier["up_to"])
        if upper > lower:
            expected += (upper - lower) * Decimal(tier["unit_price"]) + Decimal(tier["flat_fee"])
        if tier["up_to"] is None or units <= tier["up_to"]:
            break
        lower = tier["up_to"]
    assert sum(s.amount for s in rate_units(pricing, units)) == expected


@given(tier_tables(), st.integers(min_value=0, max_value=1999))
def test_graduated_without_flat_fees_never_falls_when_units_grow(pricing: dict[str, Any], units: int) -> None:
    pricing = {"model": "graduated", "tiers": [{**t, "flat_fee": "0"} for t in pricing["tiers"]]}
    before = sum((s.amount for s in rate_units(pricing, units)), Decimal(0))
    after = sum((s.amount for s in rate_units(pricing, units + 1)), Decimal(0))
    assert after >= before


@given(tier_tables(), st.integers(min_value=1, max_value=2000))
def test_volume_prices_all_units_at_one_tier(pricing: dict[str, Any], units: int) -> None:
    slices = rate_units({**pricing, "model": "volume"}, units)
    assert len(slices) == 1
    assert slices[0].units == units


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=6, allow_nan=False, allow_infinity=False))
def test_rounding_moves_a_line_by_at_most_half_a_minor_unit(amount: Decimal) -> None:
    assert abs(Decimal(round_minor(amount)) - amount) <= Decimal("0.5")


@pytest.mark.parametrize(
    ("exact", "rounded"),
    [("50.5", 51), ("-50.5", -51), ("50.4999", 50), ("0.5", 1), ("101.0", 101), ("2.5", 3)],
)
def test_halves_round_away_from_zero(exact: str, rounded: int) -> None:
    assert round_minor(Decimal(exact)) == rounded


def test_package_bills_a_started_package_whole() -> None:
    [piece] = rate_units({"model": "package", "package_size": 10, "package_price": "5.00"}, 21)
    assert (piece.quantity, piece.units, piece.amount) == (3, 21, Decimal("15.00"))


@pytest.mark.parametrize(("value", "fee"), [(10_000, "800"), (100, "500"), (10_000_000, "50000")])
def test_success_fee_is_bounded_per_outcome(value: int, fee: str) -> None:
    pricing = {"model": "percentage", "percent": "8", "min_fee_minor": 500, "max_fee_minor": 50_000}
    assert percentage_fee_minor(pricing, value) == Decimal(fee)

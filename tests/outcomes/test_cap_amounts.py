"""The customer's amount cap prices a period's outcomes as the invoice will (outcomes.services.cap_amounts):
the same amount as settlement's usage lines for any pricing, free allowance and share of the price, whether
summarized at once or one outcome at a time; and the n-th outcome's price under graduated tiers is its
tier's."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from contracts.models import Contract, ContractVersion, OutcomeType
from outcomes.services.cap_amounts import PeriodAmount, PricedRow, rated_period_amount
from settlement.invoicing.drafts import Billable
from settlement.invoicing.usage import rated_lines

TYPE = "ticket.resolved"
prices = st.decimals(min_value=0, max_value=100, places=3, allow_nan=False, allow_infinity=False)


@st.composite
def pricings(draw: Any) -> dict[str, Any]:
    model = draw(st.sampled_from(["per_unit", "graduated", "volume", "package", "percentage"]))
    if model == "per_unit":
        return {"model": model, "unit_price": str(draw(prices))}
    if model == "package":
        return {"model": model, "package_size": draw(st.integers(1, 20)), "package_price": str(draw(prices))}
    if model == "percentage":
        return {"model": model, "percent": str(draw(st.decimals(min_value="0.5", max_value=100, places=2)))}
    bounds = sorted(draw(st.sets(st.integers(min_value=1, max_value=60), max_size=4)))
    tiers = [{"up_to": b, "unit_price": str(draw(prices)), "flat_fee": str(draw(prices))} for b in bounds]
    tiers.append({"up_to": None, "unit_price": str(draw(prices)), "flat_fee": str(draw(prices))})
    return {"model": model, "tiers": tiers}


def terms(pricings_by_version: list[tuple[dict[str, Any], int]]) -> dict[int, OutcomeType]:
    """Each version (numbered from 1) with its type's pricing and free allowance, in memory."""
    return {
        number: OutcomeType(
            version=ContractVersion(pk=number, number=number),
            key=TYPE,
            pricing=pricing,
            pricing_model=pricing["model"],
            free_units=free,
        )
        for number, (pricing, free) in enumerate(pricings_by_version, start=1)
    }


rows = st.lists(
    st.tuples(st.sampled_from([1, 2]), st.sampled_from([100, 50]), st.integers(0, 10**6)), max_size=80
)


@given(st.lists(st.tuples(pricings(), st.integers(0, 5)), min_size=2, max_size=2), rows)
def test_the_periods_amount_is_what_the_invoices_usage_lines_bill(
    versions: list[tuple[dict[str, Any], int]], drawn: list[tuple[int, int, int]]
) -> None:
    types = terms(versions)
    priced = [PricedRow(version, percent, value) for version, percent, value in drawn]
    billables = [
        Billable(pk, version, TYPE, percent, value) for pk, (version, percent, value) in enumerate(drawn)
    ]
    lines = rated_lines(
        Contract(currency="USD"),
        billables,
        {pk: t.version for pk, t in types.items()},
        {(pk, TYPE): t for pk, t in types.items()},
    )
    assert rated_period_amount(priced, types, "USD") == sum((line.amount for line in lines), Decimal(0))


@given(pricings().filter(lambda p: p["model"] == "graduated"), st.integers(0, 5), st.integers(0, 120))
def test_the_nth_outcomes_price_is_its_tiers_after_the_free_allowance(
    pricing: dict[str, Any], free: int, before: int
) -> None:
    types = terms([(pricing, free)])
    row = PricedRow(1, 100, None)
    price = rated_period_amount([row] * (before + 1), types, "USD") - rated_period_amount(
        [row] * before, types, "USD"
    )
    unit = before + 1 - free  # its place among the priced units (<= 0: free)
    expected = Decimal(0)
    if unit > 0:
        lower = 0
        for tier in pricing["tiers"]:
            if tier["up_to"] is None or unit <= tier["up_to"]:
                first_of_tier = unit == lower + 1
                expected = Decimal(tier["unit_price"]) + (Decimal(tier["flat_fee"]) if first_of_tier else 0)
                break
            lower = tier["up_to"]
    assert price == expected * 100  # in cents


@given(st.lists(st.tuples(pricings(), st.integers(0, 5)), min_size=2, max_size=2), rows, st.data())
def test_counting_one_outcome_at_a_time_prices_as_counting_them_at_once(
    versions: list[tuple[dict[str, Any], int]], drawn: list[tuple[int, int, int]], data: st.DataObject
) -> None:
    types = terms(versions)
    priced = [PricedRow(version, percent, value) for version, percent, value in drawn]
    period = PeriodAmount({}, types, "USD")
    for pk, row in enumerate(priced):
        before = period.amount()
        with_it = period.amount(plus=row)
        period.add(pk, row)
        assert period.amount() == with_it
        assert period.amount(without=pk) == before  # the latest taken out again
    assert period.amount() == rated_period_amount(priced, types, "USD")
    if priced:
        # An outcome counted already and admitted again (its time moved) bills as the latest.
        moved = data.draw(st.integers(0, len(priced) - 1))
        period.add(moved, priced[moved])
        reordered = [row for pk, row in enumerate(priced) if pk != moved] + [priced[moved]]
        assert period.amount() == rated_period_amount(reordered, types, "USD")

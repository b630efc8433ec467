"""Amounts for Stripe: Verity's minor units converted to Stripe's, and rounded to what Stripe can charge."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.terms.rating import major_to_minor, round_minor
from core.currencies import STRIPE_CURRENCIES, stripe_currency
from settlement.money import format_minor, minor_from_stripe_amount, round_line, stripe_amount

currencies = st.sampled_from(sorted(STRIPE_CURRENCIES))
amounts = st.integers(min_value=-(10**15), max_value=10**15)


@pytest.mark.parametrize(
    ("amount_minor", "currency", "expected"),
    [
        (1099, "USD", 1099),
        (500, "JPY", 500),
        (1240, "KWD", 1240),
        (5, "ISK", 500),  # two-decimal in Stripe's API, whole krónur only
        (5, "UGX", 500),
        (1045, "HUF", 1045),  # charges take two decimals; only payouts are whole forints
        (500, "MGA", 5),  # ISO hundredths, Stripe whole ariary
        (-1240, "KWD", -1240),
        (0, "BHD", 0),
    ],
)
def test_stripe_amount(amount_minor: int, currency: str, expected: int) -> None:
    assert stripe_amount(amount_minor, currency) == expected


@pytest.mark.parametrize(("amount_minor", "currency"), [(1235, "KWD"), (1, "OMR"), (550, "MGA"), (-5, "TND")])
def test_an_amount_stripe_cannot_charge_as_is_is_an_error(amount_minor: int, currency: str) -> None:
    with pytest.raises(ValueError, match=f"Stripe cannot charge .* {currency}"):
        stripe_amount(amount_minor, currency)


def test_a_currency_stripe_cannot_charge_is_an_error() -> None:
    with pytest.raises(ValueError, match="Stripe cannot charge IQD"):
        stripe_amount(1000, "IQD")


@pytest.mark.parametrize(
    ("amount_minor", "currency", "expected"),
    [
        (1235, "KWD", 1240),  # halves away from zero
        (1234, "KWD", 1230),
        (-1235, "KWD", -1240),
        (1235, "USD", 1235),
        (7, "ISK", 7),
        (150, "MGA", 200),
        (149, "MGA", 100),
    ],
)
def test_round_line_to_what_stripe_can_charge(amount_minor: int, currency: str, expected: int) -> None:
    assert round_line(Decimal(amount_minor), currency) == expected


@given(amounts, currencies)
def test_a_chargeable_amount_round_trips_through_stripe(amount_minor: int, currency: str) -> None:
    chargeable = round_line(Decimal(amount_minor), currency)
    assert minor_from_stripe_amount(stripe_amount(chargeable, currency), currency) == chargeable


@given(amounts, currencies)
def test_rounding_to_a_chargeable_amount_moves_it_by_at_most_half_a_step(
    amount_minor: int, currency: str
) -> None:
    step = stripe_currency(currency).minor_step
    chargeable = round_line(Decimal(amount_minor), currency)
    assert chargeable % step == 0
    assert abs(Decimal(chargeable - amount_minor)) <= Decimal(step) / 2
    assert round_line(Decimal(chargeable), currency) == chargeable


@given(amounts, currencies)
def test_stripe_amount_takes_exactly_the_chargeable_amounts(amount_minor: int, currency: str) -> None:
    if round_line(Decimal(amount_minor), currency) == amount_minor:
        stripe_amount(amount_minor, currency)
    else:
        with pytest.raises(ValueError, match="Stripe cannot charge"):
            stripe_amount(amount_minor, currency)


def test_a_stripe_amount_finer_than_verity_minor_unit_is_an_error() -> None:
    with pytest.raises(ValueError, match="fraction"):
        minor_from_stripe_amount(550, "ISK")


@pytest.mark.parametrize(
    ("amount", "currency", "minor", "shown"),
    [
        ("0.505", "USD", "50.5", "0.51 USD"),
        ("125", "JPY", "125", "125 JPY"),
        ("1.2345", "KWD", "1234.5", "1.235 KWD"),
    ],
)
def test_minor_units_follow_the_currency_exponent(amount: str, currency: str, minor: str, shown: str) -> None:
    assert major_to_minor(Decimal(amount), currency) == Decimal(minor)
    assert format_minor(round_minor(Decimal(minor)), currency) == shown

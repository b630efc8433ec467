"""The table of currencies Stripe can charge: ISO exponents, Stripe's units, and the special cases."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from iso4217 import Currency

from core.currencies import (
    STRIPE_CURRENCIES,
    currency_exponent,
    major_units,
    minor_units,
    stripe_currency,
)
from devtools.stripe_server import currencies as stripe_server


def test_every_exponent_is_iso_4217s() -> None:
    assert {code: entry.exponent for code, entry in STRIPE_CURRENCIES.items()} == {
        code: Currency(code).exponent for code in STRIPE_CURRENCIES
    }


@pytest.mark.parametrize(
    ("currency", "exponent", "stripe_exponent", "minor_step"),
    [
        ("USD", 2, 2, 1),
        ("JPY", 0, 0, 1),
        ("KRW", 0, 0, 1),
        ("KWD", 3, 3, 10),  # thousandths, last digit 0
        ("BHD", 3, 3, 10),
        ("ISK", 0, 2, 1),  # whole krónur, sent to Stripe as hundredths
        ("UGX", 0, 2, 1),
        ("HUF", 2, 2, 1),  # zero-decimal for payouts only
        ("TWD", 2, 2, 1),
        ("MGA", 2, 0, 100),  # ISO hundredths, Stripe whole ariary
    ],
)
def test_minor_units_and_stripe_units(
    currency: str, exponent: int, stripe_exponent: int, minor_step: int
) -> None:
    entry = stripe_currency(currency)
    assert (entry.exponent, entry.stripe_exponent, entry.minor_step) == (
        exponent,
        stripe_exponent,
        minor_step,
    )
    assert currency_exponent(currency.lower()) == exponent


@pytest.mark.parametrize("currency", ["XAU", "IQD", "ZZZ", "ANG"])
def test_a_currency_stripe_cannot_charge_has_no_entry(currency: str) -> None:
    with pytest.raises(ValueError, match=f"Stripe cannot charge {currency}"):
        currency_exponent(currency)


def test_the_stripe_test_server_takes_every_currency_and_amount_verity_sends() -> None:
    # Both sides transcribe the same page; a difference means one of them misread it.
    assert {code.lower() for code in STRIPE_CURRENCIES} <= stripe_server.SUPPORTED
    assert {code.lower() for code, e in STRIPE_CURRENCIES.items() if e.stripe_exponent == 0} == (
        stripe_server.ZERO_DECIMAL
    )
    assert {code.lower() for code, e in STRIPE_CURRENCIES.items() if e.stripe_step == 10} == (
        stripe_server.THREE_DECIMAL
    )
    assert {code.lower() for code, e in STRIPE_CURRENCIES.items() if e.stripe_step == 100} == (
        stripe_server.WHOLE_UNITS_ONLY
    )


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("500.00", "USD", 50_000),
        ("500", "USD", 50_000),
        ("1.230", "USD", 123),  # a trailing zero is no extra precision
        ("500", "JPY", 500),
        ("1.5", "KWD", 1_500),
        ("-0.01", "EUR", -1),
        ("123456789012345678901234567890.12", "USD", 12345678901234567890123456789012),  # beyond 28 digits
    ],
)
def test_an_amount_in_major_units_is_its_exact_minor_units(amount: str, currency: str, minor: int) -> None:
    assert minor_units(Decimal(amount), currency) == minor


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("1.234", "USD", "USD has 2 decimal places."),
        ("0.5", "jpy", "JPY has no decimal places."),
        ("0.0001", "KWD", "KWD has 3 decimal places."),
        ("NaN", "USD", "NaN is not an amount."),
    ],
)
def test_more_decimals_than_the_currency_has_are_refused(amount: str, currency: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        minor_units(Decimal(amount), currency)


@given(
    st.integers(min_value=-(10**18), max_value=10**18), st.sampled_from(["USD", "JPY", "KWD", "ISK", "MGA"])
)
def test_minor_units_and_major_units_are_inverse(amount_minor: int, currency: str) -> None:
    major = major_units(amount_minor, currency)
    assert -major.as_tuple().exponent == currency_exponent(currency)  # type: ignore[operator]
    assert minor_units(major, currency) == amount_minor

"""The table of currencies Stripe can charge: ISO exponents, Stripe's units, and the special cases."""

from __future__ import annotations

import pytest
from iso4217 import Currency

from contracts.currencies import STRIPE_CURRENCIES, currency_exponent, stripe_currency
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

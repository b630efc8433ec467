"""The currencies Stripe can charge, each with Verity's minor unit and the integer Stripe's API takes.

Source: Stripe's "Supported currencies" page, https://docs.stripe.com/currencies (presentment currencies,
#zero-decimal, #three-decimal, #special-cases). Verity keeps amounts in the ISO 4217 minor unit (`exponent`);
Stripe's API takes an integer in its own minor unit (`stripe_exponent`) that must be a multiple of
`stripe_step`. The two differ only for the currencies in SPECIAL_CASES, MGA and the three-decimal ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from math import gcd

from iso4217 import Currency

DOC_URL = "https://docs.stripe.com/currencies"


@dataclass(frozen=True)
class StripeCurrency:
    code: str  # ISO 4217, upper case as Verity stores it (Stripe's API wants it lower case)
    exponent: int  # ISO 4217 digits after the decimal point: Verity's minor unit (USD 2, JPY 0, KWD 3)
    stripe_exponent: int  # digits after the decimal point in the integer Stripe's API takes
    stripe_step: int = 1  # Stripe refuses an amount (in its own unit) that is not a multiple of this

    @property
    def minor_step(self) -> int:
        """The smallest Verity amount (ISO minor units) Stripe can charge; every chargeable one is a multiple."""
        shift = self.stripe_exponent - self.exponent
        if shift < 0:  # Stripe's unit is coarser: whole Stripe units, each a multiple of the step
            return int(10**-shift) * self.stripe_step
        return self.stripe_step // gcd(self.stripe_step, 10**shift)


def _codes(text: str) -> tuple[str, ...]:
    """A list of codes as the page prints it, separated by blanks."""
    return tuple(text.split())


# Two-decimal: "Currencies are two-decimal currencies unless otherwise specified", in ISO and in Stripe alike.
# Stripe's presentment list also carries ANG, BGN and STD, which ISO 4217 has withdrawn (replaced by XCG, EUR
# and STN): Verity takes no new contract in a withdrawn currency, so they are left out.
_TWO_DECIMAL = _codes("""
    USD AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BMD BND BOB BRL BSD BWP BYN BZD CAD CDF CHF CNY COP
    CRC CVE CZK DKK DOP DZD EGP ETB EUR FJD FKP GBP GEL GIP GMD GTQ GYD HKD HNL HTG IDR ILS INR JMD KES KGS
    KHR KYD KZT LAK LBP LKR LRD LSL MAD MDL MKD MMK MNT MOP MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD
    PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SEK SGD SHP SLE SOS SRD SZL THB TJS TOP TRY TTD TZS
    UAH UYU UZS WST XCD YER ZAR ZMW
""")

# #zero-decimal, ISO exponent 0 too: "the charge and the amount are the same", 500 JPY is amount=500.
_ZERO_DECIMAL = _codes("BIF CLP DJF GNF JPY KMF KRW PYG RWF VND VUV XAF XOF XPF")

# #three-decimal: amounts in thousandths, but "these API calls require the least-significant (last) digit to be
# 0. Your integration must round amounts to the nearest ten": Verity charges whole multiples of 10 fils.
_THREE_DECIMAL = _codes("BHD JOD KWD OMR TND")

SPECIAL_CASES: dict[str, StripeCurrency] = {
    # #special-cases: "ISK transitioned to a zero-decimal currency, but backwards compatibility requires you to
    # represent it as a two-decimal value, where the decimal amount is always 00": 5 ISK is amount=500.
    "ISK": StripeCurrency("ISK", exponent=0, stripe_exponent=2, stripe_step=100),
    # The same words for UGX, which the page's zero-decimal list also names: the special case is the more
    # specific statement (and Stripe's error for 5.5 UGX, invalid_charge_amount_no_decimal_compatible, agrees).
    "UGX": StripeCurrency("UGX", exponent=0, stripe_exponent=2, stripe_step=100),
    # HUF and TWD are zero-decimal "for payouts, even though you can charge two-decimal amounts": charges and
    # invoices take any two-decimal amount, so for Verity they are plain two-decimal currencies.
    "HUF": StripeCurrency("HUF", exponent=2, stripe_exponent=2),
    "TWD": StripeCurrency("TWD", exponent=2, stripe_exponent=2),
    # In Stripe's zero-decimal list, while ISO 4217 gives the ariary two decimals: Verity counts hundredths,
    # Stripe whole ariary, so a chargeable amount is a multiple of 100 Verity units.
    "MGA": StripeCurrency("MGA", exponent=2, stripe_exponent=0),
}

STRIPE_CURRENCIES: dict[str, StripeCurrency] = {
    **{code: StripeCurrency(code, exponent=2, stripe_exponent=2) for code in _TWO_DECIMAL},
    **{code: StripeCurrency(code, exponent=0, stripe_exponent=0) for code in _ZERO_DECIMAL},
    **{code: StripeCurrency(code, exponent=3, stripe_exponent=3, stripe_step=10) for code in _THREE_DECIMAL},
    **SPECIAL_CASES,
}


def stripe_currency(code: str) -> StripeCurrency:
    """The currency's entry (any case); ValueError naming a currency Stripe cannot charge."""
    try:
        return STRIPE_CURRENCIES[code.upper()]
    except KeyError:
        raise ValueError(f"Stripe cannot charge {code} (see {DOC_URL})") from None


def currency_exponent(code: str) -> int:
    """Digits after the decimal point in the currency's minor unit (USD 2, JPY 0, KWD 3): Verity's minor unit."""
    return stripe_currency(code).exponent


def minor_units(amount: Decimal, code: str) -> int:
    """An amount in major units as an integer of the currency's minor units, exactly (500.00 USD is 50000,
    500 JPY is 500); ValueError saying how many decimals the currency has when the amount has more."""
    exponent = currency_exponent(code)
    sign, digits, amount_exponent = amount.as_tuple()
    if not isinstance(amount_exponent, int):
        raise ValueError(f"{amount} is not an amount.")
    # Integer arithmetic on the digits: exact at any size (Decimal operations round to the context).
    shift = amount_exponent + exponent
    units = int("".join(map(str, digits)))
    if shift >= 0:
        minor = units * int(10**shift)
    else:
        minor, rest = divmod(units, int(10**-shift))
        if rest:
            places = "no decimal places" if exponent == 0 else f"{exponent} decimal places"
            raise ValueError(f"{code.upper()} has {places}.")
    return -minor if sign else minor


def major_units(amount_minor: int, code: str) -> Decimal:
    """An amount in minor units in major units, with exactly the currency's decimals (50000 USD is 500.00)."""
    return Decimal(amount_minor).scaleb(-currency_exponent(code))


def is_iso_currency(code: str) -> bool:
    """Whether the code is an ISO 4217 currency with a minor unit (not a metal, a fund or a made-up code)."""
    try:
        return Currency(code.upper()).exponent is not None
    except ValueError:
        return False


MINOR_UNITS = (
    "An integer in minor units of the currency (cents for USD, whole yen for JPY):"
    " 500.00 USD is 50000, 500 JPY is 500."
)


def minor_units_help(text: str = "") -> str:
    """The API's description of an amount field (`*_minor`): what it is, then the unit it is counted in."""
    return f"{text} {MINOR_UNITS}" if text else MINOR_UNITS

"""Stripe's currency rules for amounts: which currencies exist, how many minor units, which amounts are refused.

Source: https://docs.stripe.com/currencies (supported presentment currencies, zero-decimal, three-decimal, special
cases, minimum charge amounts) and https://support.stripe.com/questions/deprecation-of-fractional-isk-charges-and-refunds
(the error for ISK/UGX amounts not divisible by 100). Amounts in the API are always integers in minor units; these
rules only refuse amounts, they never convert them.
"""

from __future__ import annotations

from .errors import ApiError, validation

DOC_URL = "https://docs.stripe.com/currencies"

# Presentment currencies a US account accepts (the list Stripe prints in its "Invalid currency" error), plus the
# three-decimal currencies, which Stripe supports for accounts in the countries that use them.
SUPPORTED = frozenset(
    [
        "usd",
        "aed",
        "afn",
        "all",
        "amd",
        "ang",
        "aoa",
        "ars",
        "aud",
        "awg",
        "azn",
        "bam",
        "bbd",
        "bdt",
        "bgn",
        "bhd",
        "bif",
        "bmd",
        "bnd",
        "bob",
        "brl",
        "bsd",
        "bwp",
        "byn",
        "bzd",
        "cad",
        "cdf",
        "chf",
        "clp",
        "cny",
        "cop",
        "crc",
        "cve",
        "czk",
        "djf",
        "dkk",
        "dop",
        "dzd",
        "egp",
        "etb",
        "eur",
        "fjd",
        "fkp",
        "gbp",
        "gel",
        "gip",
        "gmd",
        "gnf",
        "gtq",
        "gyd",
        "hkd",
        "hnl",
        "htg",
        "huf",
        "idr",
        "ils",
        "inr",
        "isk",
        "jmd",
        "jod",
        "jpy",
        "kes",
        "kgs",
        "khr",
        "kmf",
        "krw",
        "kwd",
        "kyd",
        "kzt",
        "lak",
        "lbp",
        "lkr",
        "lrd",
        "lsl",
        "mad",
        "mdl",
        "mga",
        "mkd",
        "mmk",
        "mnt",
        "mop",
        "mur",
        "mvr",
        "mwk",
        "mxn",
        "myr",
        "mzn",
        "nad",
        "ngn",
        "nio",
        "nok",
        "npr",
        "nzd",
        "omr",
        "pab",
        "pen",
        "pgk",
        "php",
        "pkr",
        "pln",
        "pyg",
        "qar",
        "ron",
        "rsd",
        "rub",
        "rwf",
        "sar",
        "sbd",
        "scr",
        "sek",
        "sgd",
        "shp",
        "sle",
        "sos",
        "srd",
        "std",
        "szl",
        "thb",
        "tjs",
        "tnd",
        "top",
        "try",
        "ttd",
        "twd",
        "tzs",
        "uah",
        "ugx",
        "uyu",
        "uzs",
        "vnd",
        "vuv",
        "wst",
        "xaf",
        "xcd",
        "xcg",
        "xof",
        "xpf",
        "yer",
        "zar",
        "zmw",
    ]
)

# "For zero-decimal currencies, the charge and the amount are the same": 500 JPY is amount=500.
ZERO_DECIMAL = frozenset(
    ["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "vnd", "vuv", "xaf", "xof", "xpf"]
)

# Three minor-unit digits, but "these API calls require the least-significant (last) digit to be 0".
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])

# Special cases: effectively zero-decimal, yet the API keeps them two-decimal for backwards compatibility, so an
# amount must be a whole unit (divisible by 100): 5 ISK is amount=500. (UGX is also listed among the zero-decimal
# currencies on the same page; the special case wins.) HUF and TWD are zero-decimal for payouts only: charges and
# invoices take any two-decimal amount, so they need no rule here.
WHOLE_UNITS_ONLY = frozenset({"isk", "ugx"})

# Minimum charge amounts, in minor units, for the currencies Stripe lists; an invoice whose amount due is above 0 and
# below this is marked paid and the amount is added to the customer's balance (docs.stripe.com/api/invoices).
MINIMUM_CHARGE: dict[str, int] = {
    "usd": 50,
    "aed": 200,
    "aud": 50,
    "bgn": 100,
    "brl": 50,
    "cad": 50,
    "chf": 50,
    "czk": 1500,
    "dkk": 250,
    "eur": 50,
    "gbp": 30,
    "hkd": 400,
    "huf": 17500,
    "inr": 50,
    "jpy": 50,
    "mxn": 1000,
    "myr": 200,
    "nok": 300,
    "nzd": 50,
    "pln": 200,
    "ron": 200,
    "sek": 300,
    "sgd": 50,
    "thb": 1000,
}


def check_currency(currency: str, *, param: str = "currency") -> None:
    """Refuse a code Stripe does not support, with Stripe's message (it lists what is supported)."""
    if currency not in SUPPORTED:
        raise validation(
            f"Invalid currency: {currency}. Stripe currently supports these currencies: "
            + ", ".join(sorted(SUPPORTED)),
            param=param,
        )


def check_amount(amount: int, currency: str, *, param: str) -> None:
    """Refuse an amount the currency cannot carry (three-decimal: last digit 0; ISK/UGX: whole units)."""
    if currency in THREE_DECIMAL and amount % 10:
        raise ApiError(
            400,
            "invalid_request_error",
            f"Invalid amount: {amount}. Amounts in {currency.upper()} are three-decimal and must end in 0 "
            f"(round to the nearest ten). See {DOC_URL}#three-decimal for more information.",
            param=param,
            replayable=False,
        )
    if currency in WHOLE_UNITS_ONLY and amount % 100:
        raise ApiError(
            400,
            "invalid_request_error",
            f"Invalid amount. Currency {currency.upper()} has become effectively zero-decimal and charged amounts "
            f"must be evenly divisible by 100. See https://stripe.com/docs/currencies#special-cases for more "
            "information.",
            code="invalid_charge_amount_no_decimal_compatible",
            param=param,
            replayable=False,
        )


def minimum_charge(currency: str) -> int | None:
    return MINIMUM_CHARGE.get(currency)

"""Money arithmetic: Decimal throughout, integer minor units at the end, one rounding rule.

The rule: each invoice line's amount is computed exactly in Decimal minor units and rounded once,
half away from zero (ROUND_HALF_UP), to an integer of the currency's minor unit (USD cents, JPY
yen, KWD fils). Nothing is rounded before that, and the invoice total is the sum of its lines.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from contracts.terms import currency_exponent


def major_to_minor(amount: Decimal, currency: str) -> Decimal:
    """An exact amount in major units (a price) expressed in minor units, not rounded."""
    return amount.scaleb(currency_exponent(currency))


def round_minor(amount: Decimal) -> int:
    """The one rounding rule: to a whole minor unit, halves away from zero."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_minor(amount_minor: int, currency: str, *, grouped: bool = False) -> str:
    """1234 USD -> '12.34 USD'; 1234 JPY -> '1234 JPY'; grouped: 123456 USD -> '1,234.56 USD'."""
    exponent = currency_exponent(currency)
    separator = "," if grouped else ""
    return f"{Decimal(amount_minor).scaleb(-exponent):{separator}.{exponent}f} {currency}"

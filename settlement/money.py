"""Money arithmetic: Decimal throughout, integer minor units at the end, one rounding rule.

The rule (contracts.terms.rating.round_minor): each invoice line's amount is computed exactly in Decimal minor units and rounded once,
half away from zero (ROUND_HALF_UP), to an integer of the currency's minor unit (USD cents, JPY
yen, KWD fils). Nothing is rounded before that, and the invoice total is the sum of its lines.
Stripe takes some currencies in another unit or only in coarser steps (core.currencies):
`round_line` rounds a line to what Stripe can charge and `stripe_amount` converts it for Stripe's API.
"""

from __future__ import annotations

from decimal import Decimal

from contracts.terms.rating import round_minor
from core.currencies import currency_exponent, major_units, stripe_currency


def round_line(amount: Decimal, currency: str) -> int:
    """The one rounding rule applied to an invoice line: to the nearest amount Stripe can charge in the
    currency (a whole minor unit; a multiple of 10 fils for the three-decimal currencies), halves away
    from zero, rounded once from the exact amount."""
    step = line_step(currency)
    return round_minor(amount / step) * step


def line_step(currency: str) -> int:
    """The step lines of this currency are rounded to (1 but for currencies Stripe charges coarser)."""
    return stripe_currency(currency).minor_step


def format_minor(amount_minor: int, currency: str, *, grouped: bool = False) -> str:
    """1234 USD -> '12.34 USD'; 1234 JPY -> '1234 JPY'; grouped: 123456 USD -> '1,234.56 USD'."""
    separator = "," if grouped else ""
    return f"{major_units(amount_minor, currency):{separator}.{currency_exponent(currency)}f} {currency}"


def stripe_amount(amount_minor: int, currency: str) -> int:
    """Verity minor units -> the integer Stripe's API expects (ISK 5 -> 500; KWD 1240 -> 1240).

    ValueError when Stripe cannot charge the amount as is (KWD 1235): lines are rounded with round_line first.
    """
    entry = stripe_currency(currency)
    if amount_minor % entry.minor_step:
        raise ValueError(
            f"Stripe cannot charge {format_minor(amount_minor, entry.code)}: {entry.code} amounts must be"
            f" a multiple of {format_minor(entry.minor_step, entry.code)}"
        )
    shift = entry.stripe_exponent - entry.exponent
    factor: int = 10 ** abs(shift)
    return amount_minor * factor if shift >= 0 else amount_minor // factor


def minor_from_stripe_amount(amount: int, currency: str) -> int:
    """An amount in Stripe's API (amount_due, amount_paid, ...) -> Verity minor units; the inverse of stripe_amount."""
    entry = stripe_currency(currency)
    shift = entry.stripe_exponent - entry.exponent
    factor: int = 10 ** abs(shift)
    if shift <= 0:
        return amount * factor
    whole, rest = divmod(amount, factor)
    if rest:
        raise ValueError(f"Stripe amount {amount} {entry.code} is a fraction of Verity's minor unit")
    return whole

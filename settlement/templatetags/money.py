"""`{{ amount_minor|money:currency }}`: integer minor units shown in major units, grouped (1,234.56 USD);
`exact_money` an exact share in minor units, `price` a unit price (a decimal in major units), alike."""

from __future__ import annotations

from decimal import Decimal

from django import template

from contracts.wording import amount_text
from core.currencies import currency_exponent
from settlement.money import format_minor

register = template.Library()


@register.filter
def money(amount_minor: int | None, currency: str) -> str:
    if amount_minor is None:
        return "—"
    return format_minor(int(amount_minor), currency, grouped=True)


@register.filter
def exact_money(share_minor: str | None, currency: str) -> str:
    """An exact share in minor units (a Decimal string, before a line's rounding) shown in major units."""
    if not share_minor:
        return "—"
    exponent = currency_exponent(currency)
    amount = Decimal(share_minor).scaleb(-exponent).normalize()
    if int(amount.as_tuple().exponent) > -exponent:  # at least the currency's own decimals: 0.5 -> 0.50
        amount = amount.quantize(Decimal(1).scaleb(-exponent))
    return f"{amount:f} {currency}"


@register.filter
def price(unit_price: str | None, currency: str) -> str:
    """A line's unit price (a decimal string in major units) with the currency: '0.505' -> '0.505 USD'."""
    if not unit_price:
        return "—"
    return amount_text(Decimal(unit_price), currency)

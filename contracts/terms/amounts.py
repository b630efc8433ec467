"""Money in contract terms: prices as Decimal strings in major units (sub-cent allowed, e.g. "0.004"),
written and returned as plain digits ("100", never "1E+2"), refused as JSON numbers so a float never
enters money arithmetic; per-period amounts as integers in minor units."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

from core.currencies import MINOR_UNITS

MAX_MINOR_AMOUNT = 10**15  # a quadrillion minor units: far above any invoice, far below BIGINT
MAX_PRICE = Decimal("1000000000")
# Digits with an optional fraction; a sign is let through so a negative gets its range error.
PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def decimal_from_string(value: Any) -> Any:
    if isinstance(value, float):
        raise PydanticCustomError(
            "decimal_as_string",
            'Send decimal prices as strings, e.g. "0.99", never as JSON numbers.',
        )
    if isinstance(value, bool):
        raise PydanticCustomError("decimal_parsing", "Input should be a decimal string.")
    if isinstance(value, str) and not PLAIN_DECIMAL.fullmatch(value) and finite_number(value):
        # Decimal() also reads "1E2", " 1" and "1_000": a price is written one way only.
        raise PydanticCustomError(
            "invalid_decimal",
            'Write the decimal as plain digits, e.g. "100" or "0.505": no exponent, spaces or "+".',
        )
    return value


def finite_number(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False


def finite_decimal(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise PydanticCustomError("decimal_not_finite", "Input should be a finite decimal.")
    if value == 0:
        return Decimal(0)
    normalized = value.normalize()
    # normalize() turns 100 into 1E+2; an integer keeps exponent 0 so it reads as plain digits.
    return normalized.quantize(Decimal(1)) if normalized.as_tuple().exponent > 0 else normalized  # type: ignore[operator]


def plain_decimal(value: Decimal) -> str:
    """A decimal as plain digits, never in scientific notation: "100", "0.000000000001"."""
    return format(value, "f")


PlainDecimal = PlainSerializer(plain_decimal, return_type=str, when_used="json")


def decimal_string_schema(*, integer_digits: int, decimal_places: int, bounds: str) -> WithJsonSchema:
    """A decimal string's JSON schema in standard keywords. Left to itself, pydantic copies the Field's
    bounds into keywords of its own (ge, le, max_digits, decimal_places) that no OpenAPI reader knows,
    since minimum and maximum would not apply to a string."""
    return WithJsonSchema(
        {
            "type": "string",
            "pattern": rf"^[0-9]{{1,{integer_digits}}}(\.[0-9]{{1,{decimal_places}}})?$",
            "description": f"A decimal as a string of plain digits, {bounds}, "
            f"with at most {decimal_places} decimal places.",
        }
    )


Price = Annotated[
    Decimal,
    BeforeValidator(decimal_from_string),
    Field(ge=0, le=MAX_PRICE, max_digits=22, decimal_places=12),
    AfterValidator(finite_decimal),
    PlainDecimal,
    decimal_string_schema(integer_digits=10, decimal_places=12, bounds=f"from 0 to {MAX_PRICE}"),
]
MinorAmount = Annotated[int, Field(ge=0, le=MAX_MINOR_AMOUNT, strict=True, description=MINOR_UNITS)]
PositiveMinorAmount = Annotated[int, Field(gt=0, le=MAX_MINOR_AMOUNT, strict=True, description=MINOR_UNITS)]

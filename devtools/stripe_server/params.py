"""Typed reads of form parameters with Stripe's own validation errors, which no form library emits."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from .currencies import check_currency
from .errors import missing_param, validation

_CURRENCY = re.compile(r"^[a-z]{3}$")
_INTEGER = re.compile(r"^-?\d+$")


class Params:
    """Read-only view over one request's decoded parameters."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    def allow(self, *names: str) -> None:
        for name in self.raw:
            if name not in names and name != "expand":
                raise validation(f"Received unknown parameter: {name}", param=name, code="parameter_unknown")

    def has(self, name: str) -> bool:
        return name in self.raw

    def string(self, name: str, *, required: bool = False, max_length: int = 5000) -> str | None:
        value = self.raw.get(name)
        if value is None:
            if required:
                raise missing_param(name)
            return None
        if not isinstance(value, str):
            raise validation(f"Invalid string: {name}", param=name, code="parameter_invalid_string")
        if len(value) > max_length:
            raise validation(
                f"Invalid string: {value[:20]}...; must be at most {max_length} characters",
                param=name,
                code="parameter_invalid_string",
            )
        return value

    def integer(self, name: str, *, required: bool = False, minimum: int | None = None) -> int | None:
        value = self.raw.get(name)
        if value is None:
            if required:
                raise missing_param(name)
            return None
        if not isinstance(value, str) or not _INTEGER.match(value):
            raise validation(f"Invalid integer: {value}", param=name, code="parameter_invalid_integer")
        number = int(value)
        if minimum is not None and number < minimum:
            raise validation(
                f"This value must be greater than or equal to {minimum}.",
                param=name,
                code="parameter_invalid_integer",
            )
        return number

    def decimal(self, name: str) -> Decimal | None:
        value = self.raw.get(name)
        if value is None:
            return None
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite():
            raise validation(f"Invalid decimal: {value}", param=name)
        return number

    def boolean(self, name: str) -> bool | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if value in ("true", "false"):
            return value == "true"
        raise validation(f"Invalid boolean: {value}", param=name)

    def choice(self, name: str, choices: tuple[str, ...], *, default: str | None = None) -> str | None:
        value = self.string(name)
        if value is None:
            return default
        if value not in choices:
            raise validation(
                f"Invalid {name}: must be one of {', '.join(choices)}",
                param=name,
                code="parameter_invalid_string",
            )
        return value

    def currency(self, name: str = "currency") -> str | None:
        value = self.string(name)
        if value is None:
            return None
        value = value.lower()
        if not _CURRENCY.match(value):
            raise validation(f"Invalid currency: {value}", param=name)
        check_currency(value, param=name)
        return value

    def mapping(self, name: str, *, allowed: tuple[str, ...]) -> dict[str, Any] | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if value == "":
            return {}
        if not isinstance(value, dict):
            raise validation(f"Invalid object: {name}", param=name)
        for key in value:
            if key not in allowed:
                raise validation(
                    f"Received unknown parameter: {name}[{key}]",
                    param=f"{name}[{key}]",
                    code="parameter_unknown",
                )
        return value

    def metadata(self) -> dict[str, str] | None:
        """Stripe's metadata rules: at most 50 keys, key <= 40 chars, value <= 500 chars, strings only.

        Returns None when absent; `metadata=` (clear all) comes back as {} and `metadata[k]=` as {"k": ""}.
        """
        value = self.raw.get("metadata")
        if value is None:
            return None
        if value == "":
            return {}
        if not isinstance(value, dict):
            raise validation("Invalid object", param="metadata")
        if len(value) > 50:
            raise validation("Metadata can have at most 50 keys.", param="metadata")
        for key, item in value.items():
            param = f"metadata[{key}]"
            if not isinstance(item, str):
                raise validation("Metadata values must be strings.", param=param)
            if not key or len(key) > 40:
                raise validation("Metadata keys must be between 1 and 40 characters.", param=param)
            if len(item) > 500:
                raise validation("Metadata values can have up to 500 characters.", param=param)
        return dict(value)

    def expand(self) -> list[str]:
        value = self.raw.get("expand")
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return list(value)
        raise validation("Invalid array", param="expand")


def merge_metadata(
    current: dict[str, str], update: dict[str, str] | None, *, replace: bool = False
) -> dict[str, str]:
    """Stripe merges metadata on update; an empty value deletes that key; `metadata=` clears all."""
    if update is None:
        return current
    if update == {} or replace:
        base: dict[str, str] = {}
    else:
        base = dict(current)
    for key, value in update.items():
        if value == "":
            base.pop(key, None)
        else:
            base[key] = value
    return base

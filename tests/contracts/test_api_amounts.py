"""The API keeps money in integer minor units and its schema says so on every amount."""

from __future__ import annotations

from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

from core.currencies import MINOR_UNITS, minor_units_help


@pytest.mark.django_db
def test_every_amount_in_the_api_schema_says_it_is_in_minor_units() -> None:
    """Every `*_minor` property of every schema, in bodies and answers alike, names its unit."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    amounts: dict[str, str] = {}

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for name, prop in (node.get("properties") or {}).items():
                if name.endswith("_minor"):
                    amounts[f"{where}.{name}"] = prop.get("description", "")
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for value in node:
                walk(value, where)

    walk(schema, "")

    assert len(amounts) >= 25  # invoices, lines, credit notes, contracts, terms, outcomes, the event body
    assert {where: text for where, text in amounts.items() if "minor units of the currency" not in text} == {}
    assert amounts["/components/schemas/InvoiceOut.total_minor"] == minor_units_help(
        "The sum of the lines, before tax."
    )
    assert MINOR_UNITS in amounts["/components/schemas/OutcomeEvent/properties/value.amount_minor"]

"""What an invoice may hold and show, per Stripe: its line limit and the fields a customer sees.

* At most 250 invoice items per invoice (https://docs.stripe.com/changelog/2016-02-22/no-more-than-250-invoice-items).
* `number` (https://docs.stripe.com/api/invoices/create#create_invoice-number): set on a draft, kept at
  finalization instead of a generated one; invoice numbers identify an invoice, so a number in use is refused.
* `footer`, `custom_fields` (up to 4; name up to 40 characters, value up to 140) and `rendering`
  (https://docs.stripe.com/api/invoices/update).
"""

from __future__ import annotations

from typing import Any

from .errors import invalid, validation
from .params import Params

MAX_LINES = 250
MAX_CUSTOM_FIELDS = 4
CUSTOMER_FACING = ("number", "footer", "custom_fields", "rendering")


def check_line_room(invoice_id: str, existing: int, adding: int, *, param: str) -> None:
    if existing + adding > MAX_LINES:
        raise invalid(
            f"An invoice cannot have more than {MAX_LINES} invoice items: invoice {invoice_id} has {existing} and "
            f"this request adds {adding}.",
            param=param,
        )


def customer_facing_fields(
    params: Params, *, invoice_id: str | None, invoices: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The invoice fields to set from `number`, `footer`, `custom_fields`, `rendering`; checks only, no writes."""
    fields: dict[str, Any] = {}
    if params.has("number"):
        number = params.string("number") or None
        taken = next(
            (
                other_id
                for other_id, other in invoices.items()
                if number is not None and other_id != invoice_id and other["number"] == number
            ),
            None,
        )
        if taken is not None:
            raise invalid(
                f"Invoice number {number} is already used by invoice {taken}; invoice numbers must be unique.",
                param="number",
            )
        fields["number"] = number
    if params.has("footer"):
        fields["footer"] = params.string("footer") or None
    if params.has("custom_fields"):
        fields["custom_fields"] = _custom_fields(params.raw["custom_fields"])
    if params.has("rendering"):
        rendering = params.mapping("rendering", allowed=("amount_tax_display", "pdf")) or {}
        display = Params(rendering).choice("amount_tax_display", ("", "exclude_tax", "include_inclusive_tax"))
        pdf = Params(rendering).mapping("pdf", allowed=("page_size",)) or {}
        page_size = Params(pdf).choice("page_size", ("a4", "auto", "letter"))
        fields["rendering"] = {
            "amount_tax_display": display or None,
            "pdf": {"page_size": page_size or "auto"},
            "template": None,
            "template_version": None,
        }
    return fields


def _custom_fields(raw: Any) -> list[dict[str, str]] | None:
    if raw == "":
        return None  # an empty string removes the fields
    if not isinstance(raw, list):
        raise validation("Invalid array", param="custom_fields")
    if len(raw) > MAX_CUSTOM_FIELDS:
        raise validation(
            f"You can have at most {MAX_CUSTOM_FIELDS} custom fields on an invoice.", param="custom_fields"
        )
    fields = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) - {"name", "value"}:
            raise validation(
                "Invalid custom field: it takes name and value.", param=f"custom_fields[{index}]"
            )
        entry = Params(item)
        for name, limit in (("name", 40), ("value", 140)):
            value = item.get(name)
            if value is None:
                raise validation(
                    f"Missing required param: custom_fields[{index}][{name}].",
                    param=f"custom_fields[{index}][{name}]",
                    code="parameter_missing",
                )
            if not isinstance(value, str) or len(value) > limit:
                raise validation(
                    f"Invalid custom_fields[{index}][{name}]: must be at most {limit} characters.",
                    param=f"custom_fields[{index}][{name}]",
                    code="parameter_invalid_string",
                )
        fields.append({"name": str(entry.string("name")), "value": str(entry.string("value"))})
    return fields

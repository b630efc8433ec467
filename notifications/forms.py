"""The webhooks-out pages' forms. Inputs are named by the API's fields, so the API's serializers check them
and the service's errors land beside the input they name."""

from __future__ import annotations

from contracts import selectors as contract_selectors
from contracts.portal import PortalRequest, customer_choices
from core.errors import FieldErrors
from core.forms import Form, Input, bind

# A rotation's overlap: how long the current secret keeps signing beside the new one.
OVERLAPS = [
    ("0", "None: the old secret stops at once"),
    ("3600", "1 hour"),
    ("86400", "24 hours"),
    ("604800", "7 days"),
    ("2592000", "30 days"),
]


def endpoint_form(
    request: PortalRequest, values: dict[str, str] | None = None, errors: FieldErrors | None = None
) -> Form:
    """A new endpoint: its URL, a description, whose events (the vendor's or one customer's) and which
    types (the template shows the catalogue's types as boxes; `event_types` holds their errors)."""
    values = values or {}
    return bind(
        [
            Input("url", "URL", value=values.get("url", ""), help="e.g. https://hooks.example.com/verity"),
            Input("description", "Description", value=values.get("description", ""), help="Optional"),
            Input(
                "customer_id",
                "Events of",
                value=values.get("customer_id", ""),
                widget="select",
                choices=customer_choices(
                    contract_selectors.customer_list(vendor=request.vendor),
                    "Every customer (the vendor's endpoint)",
                ),
                help="A customer's endpoint receives only that customer's events, without the vendor's internals.",
            ),
            Input("event_types", "Event types", widget="none"),
        ],
        errors,
        form_name="endpoint",
    )

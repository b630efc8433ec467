"""The portal's forms for a customer: who they are (name, billing email, external reference) and their tax
details (billing address, tax ids, tax exemption). Inputs are named by the API's field paths, and the bodies
go to customer_create and customer_update, the services the API calls."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts.billing_details import MAX_TAX_IDS, TAX_ID_FORMATS
from contracts.models import Customer, TaxExempt
from core.errors import FieldErrors, field_path
from core.forms import Form, Input, SectionedForm, bind, path_parts

ADDRESS_INPUTS = (
    ("line1", "Address line 1", ""),
    ("line2", "Address line 2", ""),
    ("city", "City", ""),
    ("state", "State or region", "For the US and Canada, the two-letter code, e.g. CA or ON."),
    (
        "postal_code",
        "Postal code",
        "Required in the US and Canada: Stripe Tax cannot place the customer without it.",
    ),
    ("country", "Country", "Two letters (ISO 3166-1), e.g. DE, GB, US."),
)
TAX_ID_TYPE_CHOICES = [("", "(none)")] + [
    (tax_type, f"{tax_type}: {tax_format.description}")
    for tax_type, tax_format in sorted(TAX_ID_FORMATS.items())
]
FORM_NAME = "tax"
IDENTITY_FORM_NAME = "customer"
# (field, label, help, widget): the fields that say who the customer is.
IDENTITY_INPUTS = (
    ("name", "Name", "As invoices show it, e.g. Acme Corp.", "text"),
    ("billing_email", "Billing email", "Where invoices and Stripe's payment emails go.", "email"),
    (
        "external_ref",
        "External reference",
        "Your own id for this customer (e.g. from your CRM), unique among your customers.",
        "text",
    ),
)


def identity_values(customer: Customer) -> dict[str, str]:
    """The customer's name, billing email and external reference as the form's input values."""
    return {name: getattr(customer, name) for name, _, _, _ in IDENTITY_INPUTS}


def identity_body(post: Mapping[str, str]) -> dict[str, str]:
    """The identity fields as customer_create and customer_update take them (surrounding spaces dropped)."""
    return {name: post.get(name, "").strip() for name, _, _, _ in IDENTITY_INPUTS}


def identity_inputs(values: Mapping[str, str]) -> list[Input]:
    return [
        Input(name, label, value=values.get(name, ""), help=help_text, widget=widget)
        for name, label, help_text, widget in IDENTITY_INPUTS
    ]


def identity_form(values: Mapping[str, str], errors: FieldErrors | None = None) -> Form:
    """Name, billing email and external reference alone (the customer's edit page)."""
    return bind(identity_inputs(values), errors, form_name=IDENTITY_FORM_NAME)


def address_and_tax_id_values(
    address: dict[str, str] | None, tax_ids: list[dict[str, str]]
) -> dict[str, str]:
    """An address and tax ids (a customer's or the vendor's) as the form's input values."""
    values = {f"address.{name}": (address or {}).get(name, "") for name, _, _ in ADDRESS_INPUTS}
    for row, tax_id in enumerate(tax_ids):
        values[f"tax_ids[{row}].type"] = tax_id["type"]
        values[f"tax_ids[{row}].value"] = tax_id["value"]
    return values


def tax_details_values(customer: Customer) -> dict[str, str]:
    """The customer's tax details as the form's input values."""
    return address_and_tax_id_values(customer.address, customer.tax_ids) | {"tax_exempt": customer.tax_exempt}


def tax_details_body(post: Mapping[str, str]) -> tuple[dict[str, Any], list[int]]:
    """The body customer_update takes, and for each tax id in it the form row it came from (empty rows are
    left out, so the service's `tax_ids[1]` may be the form's third row)."""
    address = {name: post.get(f"address.{name}", "").strip() for name, _, _ in ADDRESS_INPUTS}
    rows = []
    tax_ids = []
    for row in range(MAX_TAX_IDS):
        tax_type = post.get(f"tax_ids[{row}].type", "").strip()
        value = post.get(f"tax_ids[{row}].value", "").strip()
        if tax_type or value:
            rows.append(row)
            tax_ids.append({"type": tax_type, "value": value})
    body = {
        # An address with every input empty is no address; otherwise its empty inputs are left out.
        "address": {name: text for name, text in address.items() if text} or None,
        "tax_ids": tax_ids,
        "tax_exempt": post.get("tax_exempt", ""),
    }
    return body, rows


def errors_on_rows(errors: FieldErrors, rows: list[int]) -> FieldErrors:
    """The service's errors with each `tax_ids[i]` renamed to the form row it came from."""
    placed: FieldErrors = {}
    for path, items in errors.items():
        parts = path_parts(path) if path != "non_field_errors" else []
        if len(parts) > 1 and parts[0] == "tax_ids" and isinstance(parts[1], int) and parts[1] < len(rows):
            path = field_path(["tax_ids", rows[parts[1]], *parts[2:]])
        placed.setdefault(path, []).extend(items)
    return placed


@dataclass
class TaxDetailsForm(SectionedForm):
    """The tax details form's inputs by section, with the errors bound to them."""

    form: Form
    address_anchor: Input
    address: list[Input]
    tax_ids_anchor: Input
    tax_id_rows: list[list[Input]]  # each row: its type, its number
    tax_exempt: Input | None  # None on the vendor's own details: a seller has no exemption
    identity: list[Input] = field(default_factory=list)  # on the new customer page: the identity inputs first


def _tax_id_rows(values: Mapping[str, str]) -> list[list[Input]]:
    """A row per tax id the form offers: its type (a choice) and its number."""
    return [
        [
            Input(
                f"tax_ids[{row}].type",
                f"Tax id {row + 1} type",
                value=values.get(f"tax_ids[{row}].type", ""),
                choices=TAX_ID_TYPE_CHOICES,
                widget="select",
            ),
            Input(
                f"tax_ids[{row}].value",
                f"Tax id {row + 1} number",
                value=values.get(f"tax_ids[{row}].value", ""),
            ),
        ]
        for row in range(MAX_TAX_IDS)
    ]


def tax_details_form(
    values: Mapping[str, str],
    errors: FieldErrors | None = None,
    *,
    with_identity: bool = False,
    with_exemption: bool = True,
    identity: list[Input] | None = None,
) -> TaxDetailsForm:
    """The tax details inputs; `with_identity` puts the identity inputs before them, in one form (a new
    customer's page), so one error summary counts every input's errors."""
    address = [
        Input(
            f"address.{name}", label, value=values.get(f"address.{name}", ""), help=help_text, group="Address"
        )
        for name, label, help_text in ADDRESS_INPUTS
    ]
    tax_id_rows = _tax_id_rows(values)
    tax_form = TaxDetailsForm(
        form=Form(inputs={}),
        address_anchor=Input("address", "Address", widget="none"),
        address=address,
        tax_ids_anchor=Input("tax_ids", "Tax ids", widget="none"),
        tax_id_rows=tax_id_rows,
        tax_exempt=None
        if not with_exemption
        else Input(
            "tax_exempt",
            "Tax exemption",
            value=values.get("tax_exempt", TaxExempt.NONE),
            choices=list(TaxExempt.choices),
            widget="select",
            help="Reverse charge: the customer accounts for the tax (a business abroad with a VAT number).",
        ),
        identity=identity if identity is not None else identity_inputs(values) if with_identity else [],
    )
    every = [
        *tax_form.identity,
        tax_form.address_anchor,
        *address,
        tax_form.tax_ids_anchor,
        *(cell for row in tax_id_rows for cell in row),
        *([tax_form.tax_exempt] if tax_form.tax_exempt else []),
    ]
    tax_form.form = bind(every, errors, form_name=IDENTITY_FORM_NAME if with_identity else FORM_NAME)
    return tax_form

"""Customer addresses and tax IDs, and automatic tax on invoices at a configurable test rate per country.

Tax IDs follow https://docs.stripe.com/billing/customer/tax-ids (types, example formats; `eu_vat` starts with the
member state's code, which gives the tax ID its `country`); a value that does not fit its type is refused with
`tax_id_invalid` "Invalid value for {type}." as Stripe does. Automatic tax (https://docs.stripe.com/tax/invoicing)
needs a recognised customer location: outside the US a country, in the US a 5-digit postal code, in Canada a
province or postal code; otherwise `customer_tax_location_invalid`. Stripe Tax's real rates are replaced by a rate
per country the admin API sets (default 10% everywhere), applied exclusive of each line and rounded half up per line.
"""

from __future__ import annotations

import copy
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from .errors import invalid, no_such, validation
from .objects import JSON, RequestContext, from_shape, new_id, paginate
from .params import Params

if TYPE_CHECKING:
    from .state import Store

DEFAULT_TAX_RATES = {"*": Decimal(10)}
ADDRESS_FIELDS = ("city", "country", "line1", "line2", "postal_code", "state")
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
# Member-state prefixes of eu_vat numbers (Greece writes EL; XI is Northern Ireland) and the country each means.
_EU_VAT_PREFIXES = {
    **{
        code: code
        for code in [
            "AT",
            "BE",
            "BG",
            "CY",
            "CZ",
            "DE",
            "DK",
            "EE",
            "ES",
            "FI",
            "FR",
            "HR",
            "HU",
            "IE",
            "IT",
            "LT",
            "LU",
            "LV",
            "MT",
            "NL",
            "PL",
            "PT",
            "RO",
            "SE",
            "SI",
            "SK",
        ]
    },
    "EL": "GR",
    "XI": "GB",
}
# type -> (the country it belongs to, the value's format), after Stripe's example values.
TAX_ID_TYPES: dict[str, tuple[str, re.Pattern[str]]] = {
    "eu_vat": ("", re.compile(r"^[A-Z]{2}[0-9A-Z+*]{8,12}$")),
    "gb_vat": ("GB", re.compile(r"^GB(\d{9}|\d{12})$")),
    "us_ein": ("US", re.compile(r"^\d{2}-\d{7}$")),
    "de_stn": ("DE", re.compile(r"^\d{10,11}$")),
    "ch_vat": ("CH", re.compile(r"^CHE-\d{3}\.\d{3}\.\d{3} (MWST|TVA|IVA)$")),
    "no_vat": ("NO", re.compile(r"^\d{9}MVA$")),
    "au_abn": ("AU", re.compile(r"^\d{11}$")),
    "ca_bn": ("CA", re.compile(r"^\d{9}$")),
    "in_gst": ("IN", re.compile(r"^\d{2}[A-Z]{5}\d{4}[A-Z][1-9A-Z]Z[0-9A-Z]$")),
    "jp_cn": ("JP", re.compile(r"^\d{13}$")),
}
LOCATION_INVALID = "The customer's location isn't recognized. Set a valid customer address in order to automatically calculate tax."


# ------------------------------------------------------------------ addresses


def address_param(params: Params, *, current: JSON | None) -> JSON | None:
    """`address[...]` merged over `current`; None when absent; `address=` clears it (None stored)."""
    if not params.has("address"):
        return current
    raw = params.mapping("address", allowed=ADDRESS_FIELDS)
    if not raw:
        return None
    fields = Params(raw)
    address = copy.deepcopy(current) if current else dict.fromkeys(ADDRESS_FIELDS)
    for name in ADDRESS_FIELDS:
        value = fields.string(name, max_length=200)
        if value is not None:
            address[name] = value or None
    country = address["country"]
    if country is not None:
        if not _COUNTRY.match(country):
            raise validation(
                f"Country '{country}' is unknown. Try using a 2-character alphanumeric country code instead, such as "
                "'US', 'EG', or 'GB'. A full list of country codes is available at "
                "https://www.iso.org/iso-3166-country-codes.html",
                param="address[country]",
            )
        address["country"] = country.upper()
    return address


def tax_country(customer: JSON) -> str | None:
    """The customer's tax location (a country code), or None when Stripe Tax could not recognise it."""
    address = customer["address"] or {}
    country, postal_code, state = address.get("country"), address.get("postal_code"), address.get("state")
    if country is None:
        return None
    if country == "US" and not re.match(r"^\d{5}(-\d{4})?$", postal_code or ""):
        return None
    if country == "CA" and not (postal_code or state):
        return None
    return str(country)


def check_tax_location(customer: JSON) -> str:
    country = tax_country(customer)
    if country is None:
        raise invalid(LOCATION_INVALID, code="customer_tax_location_invalid")
    return country


# ------------------------------------------------------------------ tax IDs


def checked_tax_id(raw: Any, *, param: str | None) -> tuple[str, str, str]:
    """(type, value, country) of one `{type, value}`, or Stripe's error naming `param[...]` (bare names if None)."""

    def named(field: str) -> str:
        return f"{param}[{field}]" if param else field

    if not isinstance(raw, dict):
        raise validation(f"Invalid object: {param}", param=param)
    for name in raw:
        if name not in ("type", "value"):
            raise validation(
                f"Received unknown parameter: {named(name)}", param=named(name), code="parameter_unknown"
            )
    fields = Params(raw)
    type_, value = fields.string("type"), fields.string("value")
    for field, given in (("type", type_), ("value", value)):
        if given is None:
            raise validation(
                f"Missing required param: {named(field)}.", param=named(field), code="parameter_missing"
            )
    assert type_ is not None
    assert value is not None
    if type_ not in TAX_ID_TYPES:
        raise validation(
            f"Invalid {named('type')}: must be one of {', '.join(TAX_ID_TYPES)} (the types this server knows)",
            param=named("type"),
            code="parameter_invalid_string",
        )
    country, pattern = TAX_ID_TYPES[type_]
    if type_ == "eu_vat":
        country = _EU_VAT_PREFIXES.get(value[:2], "")
    if not pattern.match(value) or not country:
        raise invalid(f"Invalid value for {type_}.", param=named("value"), code="tax_id_invalid")
    return type_, value, country


def new_tax_id(store: Store, customer_id: str, type_: str, value: str, country: str) -> JSON:
    tax_id = from_shape(
        "tax_id",
        {
            "country": country,
            "created": store.now(),
            "customer": customer_id,
            "id": new_id("txi_"),
            "livemode": False,
            "object": "tax_id",
            "owner": {"customer": customer_id, "type": "customer", "customer_account": None},
            "type": type_,
            "value": value,
            "verification": {"status": "pending", "verified_address": None, "verified_name": None},
            "customer_account": None,
        },
    )
    store.tax_ids[tax_id["id"]] = tax_id
    return tax_id


def _customer(store: Store, customer_id: str) -> JSON:
    customer = store.customers.get(customer_id)
    if customer is None:
        raise no_such("customer", customer_id, param="customer")
    return customer


def _tax_id(store: Store, customer_id: str, tax_id: str) -> JSON:
    found = store.tax_ids.get(tax_id)
    if found is None or found["customer"] != customer_id:
        raise no_such("tax_id", tax_id, param="id")
    return found


def create(store: Store, customer_id: str, params: Params, ctx: RequestContext) -> JSON:
    """POST /v1/customers/{id}/tax_ids."""
    params.allow("type", "value")
    _customer(store, customer_id)
    type_, value, country = checked_tax_id(dict(params.raw), param=None)
    tax_id = new_tax_id(store, customer_id, type_, value, country)
    store.emit("customer.tax_id.created", tax_id, ctx)
    return copy.deepcopy(tax_id)


def retrieve(store: Store, customer_id: str, tax_id: str, params: Params) -> JSON:
    params.allow()
    _customer(store, customer_id)
    return copy.deepcopy(_tax_id(store, customer_id, tax_id))


def delete(store: Store, customer_id: str, tax_id: str, params: Params, ctx: RequestContext) -> JSON:
    """DELETE /v1/customers/{id}/tax_ids/{id}: a `deleted_tax_id`; `customer.tax_id.deleted`."""
    params.allow()
    _customer(store, customer_id)
    removed = store.tax_ids.pop(_tax_id(store, customer_id, tax_id)["id"])
    store.emit("customer.tax_id.deleted", removed, ctx)
    return from_shape("deleted_tax_id", {"deleted": True, "id": removed["id"], "object": "tax_id"})


def list_tax_ids(store: Store, customer_id: str, params: Params) -> JSON:
    params.allow("limit", "starting_after", "ending_before")
    _customer(store, customer_id)
    ids = [tax_id for tax_id, found in reversed(store.tax_ids.items()) if found["customer"] == customer_id]
    page, has_more = paginate(ids, params)
    return {
        "data": [copy.deepcopy(store.tax_ids[tax_id]) for tax_id in page],
        "has_more": has_more,
        "object": "list",
        "url": f"/v1/customers/{customer_id}/tax_ids",
    }


def customer_tax_ids(store: Store, customer_id: str) -> list[JSON]:
    """What an invoice copies at finalization (`customer_tax_ids`): type and value, oldest first."""
    return [
        {"type": found["type"], "value": found["value"]}
        for found in store.tax_ids.values()
        if found["customer"] == customer_id
    ]


# ------------------------------------------------------------------ automatic tax


def configure_rates(rates: Any) -> dict[str, Decimal]:
    """Admin `rates`: {"DE": "19", "US": "0", "*": "10"} (percent; "*" = every other country)."""
    if not isinstance(rates, dict) or not rates:
        raise ValueError('rates must be an object such as {"DE": "19", "*": "10"}')
    parsed: dict[str, Decimal] = {}
    for country, rate in rates.items():
        if country != "*" and not (isinstance(country, str) and re.match(r"^[A-Z]{2}$", country)):
            raise ValueError(f"{country!r} is not a 2-letter country code or '*'")
        try:
            percent = Decimal(str(rate))
        except ArithmeticError as exc:
            raise ValueError(f"rate {rate!r} is not a number") from exc
        if not percent.is_finite() or not 0 <= percent <= 100:
            raise ValueError(f"rate {rate!r} must be between 0 and 100")
        parsed[country] = percent
    parsed.setdefault("*", DEFAULT_TAX_RATES["*"])
    return parsed


def apply(store: Store, invoice: JSON, lines: list[JSON]) -> int:
    """Fill each line's `taxes` and the invoice's `total_taxes` for automatic tax; the total tax amount.

    Without automatic tax lines carry no taxes and the total is 0 (what the server did before taxes existed).
    """
    if not invoice["automatic_tax"]["enabled"]:
        for line in lines:
            line["taxes"] = []
        invoice["total_taxes"] = []
        return 0
    customer = store.customers[invoice["customer"]]
    country = tax_country(customer)
    exempt = customer["tax_exempt"]
    percent = Decimal(0) if exempt != "none" else store.tax_rates.get(country or "", store.tax_rates["*"])
    reason = {"none": "standard_rated", "exempt": "customer_exempt", "reverse": "reverse_charge"}[exempt]
    rate_id = store.tax_rate_ids.setdefault(f"{country}:{percent}", new_id("txr_"))
    for line in lines:
        amount = int((Decimal(line["amount"]) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        line["taxes"] = [_tax(amount, line["amount"], rate_id, reason)]
    tax = sum(line["taxes"][0]["amount"] for line in lines)
    taxable = sum(line["amount"] for line in lines)
    invoice["total_taxes"] = [_tax(tax, taxable, rate_id, reason)] if lines else []
    invoice["automatic_tax"]["status"] = "complete"
    return tax


def _tax(amount: int, taxable: int, rate_id: str, reason: str) -> JSON:
    return {
        "amount": amount,
        "tax_behavior": "exclusive",
        "tax_rate_details": {"tax_rate": rate_id},
        "taxability_reason": reason,
        "taxable_amount": taxable,
        "type": "tax_rate_details",
    }


def automatic_tax_param(params: Params, customer: JSON) -> bool | None:
    """`automatic_tax[enabled]` (None when absent); enabling it needs a recognised customer location."""
    raw = params.mapping("automatic_tax", allowed=("enabled",))
    if raw is None:
        return None
    enabled = Params(raw).boolean("enabled")
    if enabled is None:
        raise validation(
            "Missing required param: automatic_tax[enabled].",
            param="automatic_tax[enabled]",
            code="parameter_missing",
        )
    if enabled:
        check_tax_location(customer)
    return enabled


def automatic_tax_field(enabled: bool) -> JSON:
    """The invoice's `automatic_tax` hash."""
    return {
        "disabled_reason": None,
        "enabled": enabled,
        "liability": {"type": "self"} if enabled else None,
        "provider": "stripe" if enabled else None,
        "status": "complete" if enabled else None,
    }

"""A customer's billing address, tax ids and tax exemption: how they are validated, and the Stripe parameters
the gateway sends for them (Stripe Tax locates the customer by the address; reverse charge needs a tax id).

Sources: the address fields and which countries need a postal code, https://docs.stripe.com/tax/customer-locations;
the tax id types, each with the example Stripe gives, https://docs.stripe.com/billing/customer/tax-ids. Stripe
publishes no format beyond its examples, except that an EU VAT number starts with its country's prefix; the
per-country EU formats are those of the EU's VIES service, each checked against Stripe's example for that country.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from contracts.models import Customer
from contracts.terms import Terms

ADDRESS_DOC_URL = "https://docs.stripe.com/tax/customer-locations"
TAX_IDS_DOC_URL = "https://docs.stripe.com/billing/customer/tax-ids"
MAX_TAX_IDS = 5  # Stripe: "you can add up to five tax IDs to a customer"

# ISO 3166-1 alpha-2, the officially assigned codes (as the IANA time zone database's iso3166.tab lists them).
_COUNTRY_CODES = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
    BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
    EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
    HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
    LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
    NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
    SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
    TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
"""
COUNTRIES = frozenset(_COUNTRY_CODES.split())

# Where Stripe Tax cannot place a customer without a postal code, and the shape that code has there.
POSTAL_CODES = {
    "US": (re.compile(r"\d{5}(-\d{4})?"), "a ZIP code: 12345 or 12345-6789"),
    "CA": (re.compile(r"[A-Z]\d[A-Z] ?\d[A-Z]\d"), "a postal code such as K1A 0B1"),
}


@dataclass(frozen=True)
class TaxIdFormat:
    description: str
    example: str  # Stripe's own example on its tax ids page
    pattern: str


# An EU VAT number: its prefix (EL for Greece, XI for Northern Ireland) and the digits after it.
EU_VAT_NUMBERS: dict[str, TaxIdFormat] = {
    prefix: TaxIdFormat(f"European VAT number ({prefix})", example, rf"{prefix}({body})")
    for prefix, example, body in (
        ("AT", "ATU12345678", r"U\d{8}"),
        ("BE", "BE0123456789", r"[01]\d{9}"),
        ("BG", "BG0123456789", r"\d{9,10}"),
        ("CY", "CY12345678Z", r"\d{8}[A-Z]"),
        ("CZ", "CZ1234567890", r"\d{8,10}"),
        ("DE", "DE123456789", r"\d{9}"),
        ("DK", "DK12345678", r"\d{8}"),
        ("EE", "EE123456789", r"\d{9}"),
        ("EL", "EL123456789", r"\d{9}"),
        ("ES", "ESA1234567Z", r"[A-Z0-9]\d{7}[A-Z0-9]"),
        ("FI", "FI12345678", r"\d{8}"),
        ("FR", "FRAB123456789", r"[0-9A-HJ-NP-Z]{2}\d{9}"),
        ("HR", "HR12345678912", r"\d{11}"),
        ("HU", "HU12345678912", r"\d{8}(\d{3})?"),
        ("IE", "IE1234567AB", r"\d{7}[A-Z]{1,2}|\d[A-Z+*]\d{5}[A-Z]"),
        ("IT", "IT12345678912", r"\d{11}"),
        ("LT", "LT123456789123", r"\d{9}(\d{3})?"),
        ("LU", "LU12345678", r"\d{8}"),
        ("LV", "LV12345678912", r"\d{11}"),
        ("MT", "MT12345678", r"\d{8}"),
        ("NL", "NL123456789B12", r"\d{9}B\d{2}"),
        ("PL", "PL1234567890", r"\d{10}"),
        ("PT", "PT123456789", r"\d{9}"),
        ("RO", "RO1234567891", r"\d{2,10}"),
        ("SE", "SE123456789123", r"\d{12}"),
        ("SI", "SI12345678", r"\d{8}"),
        ("SK", "SK1234567891", r"\d{10}"),
        ("XI", "XI123456789", r"\d{9}|\d{12}|GD\d{3}|HA\d{3}"),
    )
}

TAX_ID_FORMATS: dict[str, TaxIdFormat] = {
    "ae_trn": TaxIdFormat("United Arab Emirates TRN", "123456789012345", r"\d{15}"),
    "au_abn": TaxIdFormat("Australian Business Number (AU ABN)", "12345678912", r"\d{11}"),
    "au_arn": TaxIdFormat("Australian Taxation Office Reference Number", "123456789123", r"\d{12}"),
    "ca_bn": TaxIdFormat("Canadian BN", "123456789", r"\d{9}"),
    "ca_gst_hst": TaxIdFormat("Canadian GST/HST number", "123456789RT0002", r"\d{9}RT\d{4}"),
    "ca_qst": TaxIdFormat("Canadian QST number (Québec)", "1234567890TQ1234", r"\d{10}TQ\d{4}"),
    "ch_vat": TaxIdFormat(
        "Switzerland VAT number", "CHE-123.456.789 MWST", r"CHE-\d{3}\.\d{3}\.\d{3} (MWST|TVA|IVA)"
    ),
    "eu_oss_vat": TaxIdFormat(
        "European One Stop Shop VAT number (non-Union scheme)", "EU123456789", r"EU\d{9}"
    ),
    "eu_vat": TaxIdFormat(
        "European VAT number",
        "DE123456789",
        "|".join(f"({number.pattern})" for number in EU_VAT_NUMBERS.values()),
    ),
    "gb_vat": TaxIdFormat("United Kingdom VAT number", "GB123456789", r"GB(\d{9}|\d{12}|GD\d{3}|HA\d{3})"),
    "in_gst": TaxIdFormat(
        "Indian GST number", "12ABCDE3456FGZH", r"\d{2}[A-Z]{5}\d{4}[A-Z][0-9A-Z]Z[0-9A-Z]"
    ),
    "jp_trn": TaxIdFormat("Japanese Tax Registration Number", "T1234567891234", r"T\d{13}"),
    "no_vat": TaxIdFormat("Norwegian VAT number", "123456789MVA", r"\d{9}MVA"),
    "nz_gst": TaxIdFormat("New Zealand GST number", "123456789", r"\d{8,9}"),
    "us_ein": TaxIdFormat("United States EIN", "12-3456789", r"\d{2}-?\d{7}"),
    "za_vat": TaxIdFormat("South African VAT number", "4123456789", r"4\d{9}"),
}
TAX_ID_TYPES = sorted(TAX_ID_FORMATS)


def _invalid_tax_id(value: str, tax_format: TaxIdFormat) -> PydanticCustomError:
    return PydanticCustomError(
        "invalid_tax_id",
        "{value} is not a valid {description}: Stripe expects the form {example}.",
        {"value": value, "description": tax_format.description, "example": tax_format.example},
    )


def tax_id_checked(tax_type: str, value: str) -> str:
    """The value in the form Stripe takes (upper case, no surrounding blanks), or the error that refuses it."""
    value = value.strip().upper()
    tax_format = TAX_ID_FORMATS[tax_type]
    if re.fullmatch(tax_format.pattern, value):
        return value
    if tax_type == "eu_vat":
        number = EU_VAT_NUMBERS.get(value[:2])
        if number is None:
            raise PydanticCustomError(
                "invalid_tax_id",
                "An EU VAT number starts with its country's prefix, e.g. DE123456789 (EL for Greece,"
                " XI for Northern Ireland).",
            )
        raise _invalid_tax_id(value, number)
    raise _invalid_tax_id(value, tax_format)


class Address(Terms):
    """A billing address as Stripe takes it; Stripe Tax uses it to locate the customer."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    # Declared first: the postal code's rule depends on it.
    country: Annotated[str, Field(min_length=1, max_length=2, description="ISO 3166-1 alpha-2, e.g. DE.")]
    line1: Annotated[str, Field(max_length=200)] = ""
    line2: Annotated[str, Field(max_length=200)] = ""
    city: Annotated[str, Field(max_length=200)] = ""
    state: Annotated[str, Field(max_length=100, description="State, county, province or region.")] = ""
    postal_code: Annotated[
        str, Field(max_length=20, validate_default=True, description="Required in the US and Canada.")
    ] = ""

    @field_validator("country")
    @classmethod
    def _iso_country(cls, value: str) -> str:
        code = value.upper()
        if code not in COUNTRIES:
            raise PydanticCustomError(
                "unknown_country",
                "{value} is not an ISO 3166-1 alpha-2 country code (e.g. DE, US).",
                {"value": value},
            )
        return code

    @field_validator("postal_code")
    @classmethod
    def _postal_code_where_needed(cls, value: str, info: ValidationInfo) -> str:
        country = info.data.get("country")  # absent when the country itself was refused
        if country not in POSTAL_CODES:
            return value
        pattern, shape = POSTAL_CODES[country]
        if not value:
            raise PydanticCustomError(
                "postal_code_required",
                "Stripe Tax needs the postal code of an address in {country}.",
                {"country": country},
            )
        if not pattern.fullmatch(value.upper()):
            raise PydanticCustomError("invalid_postal_code", "Enter {shape}.", {"shape": shape})
        return value.upper()


class TaxId(Terms):
    """One of the customer's tax ids, as Stripe takes it (`tax_id_data`)."""

    type: Annotated[
        str,
        Field(
            max_length=20,
            json_schema_extra={"enum": TAX_ID_TYPES},
            description=f"A Stripe tax id type ({TAX_IDS_DOC_URL}).",
        ),
    ]
    value: Annotated[str, Field(min_length=1, max_length=50)]

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if not value:
            raise PydanticCustomError("tax_id_type_required", "Give the tax id's type, e.g. eu_vat.")
        if value not in TAX_ID_FORMATS:
            raise PydanticCustomError(
                "unknown_tax_id_type",
                "{value} is not a tax id type Verity takes; use one of {types}.",
                {"value": value, "types": ", ".join(TAX_ID_TYPES)},
            )
        return value

    @field_validator("value")
    @classmethod
    def _value_in_stripe_format(cls, value: str, info: ValidationInfo) -> str:
        tax_type = info.data.get("type")  # absent when the type itself was refused
        return value if tax_type is None else tax_id_checked(tax_type, value)


def _tax_ids_unique(tax_ids: list[TaxId]) -> list[TaxId]:
    seen: set[tuple[str, str]] = set()
    for tax_id in tax_ids:
        if (tax_id.type, tax_id.value) in seen:
            raise PydanticCustomError("duplicate_tax_id", "{value} is given twice.", {"value": tax_id.value})
        seen.add((tax_id.type, tax_id.value))
    return tax_ids


TaxIds = Annotated[list[TaxId], Field(max_length=MAX_TAX_IDS), AfterValidator(_tax_ids_unique)]
TaxExemption = Literal["none", "exempt", "reverse"]


def customer_stripe_details(customer: Customer) -> dict[str, Any]:
    """The Stripe customer parameters for the customer's location and exemption (create or update).

    Every address field is sent, empty ones as "" (Stripe's way to unset one), so an update leaves no stale
    line behind; without an address the key is left out."""
    details: dict[str, Any] = {}
    if customer.address:
        details["address"] = {name: customer.address.get(name, "") for name in Address.model_fields}
    details["tax_exempt"] = customer.tax_exempt
    return details


def customer_stripe_tax_ids(customer: Customer) -> list[dict[str, str]]:
    """The customer's tax ids as Stripe's `tax_id_data` (or one tax id create each)."""
    return [{"type": tax_id["type"], "value": tax_id["value"]} for tax_id in customer.tax_ids]

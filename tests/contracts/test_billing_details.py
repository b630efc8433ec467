"""A customer's billing address, tax ids and tax exemption: what is accepted, what is refused (with the field's
path), and the Stripe parameters the gateway sends for them."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError

from contracts.billing_details import (
    EU_VAT_NUMBERS,
    TAX_ID_FORMATS,
    customer_stripe_details,
    customer_stripe_tax_ids,
)
from contracts.models import Customer, TaxExempt
from contracts.services.customers import CustomerFields
from contracts.terms import parse
from core.errors import ValidationFailed
from tests.factories import CustomerFactory

ACME = {"name": "Acme Corp", "external_ref": "acme", "billing_email": "ap@acme.test"}
BERLIN = {"line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117", "country": "DE"}


def customer_fields(**billing: Any) -> dict[str, Any]:
    return parse(CustomerFields, {**ACME, **billing}).model_dump()


def refusal(**billing: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as caught:
        parse(CustomerFields, {**ACME, **billing})
    return {path: [item["code"] for item in items] for path, items in caught.value.field_errors.items()}


# --- defaults and accepted values -----------------------------------------------------------


def test_a_customer_without_tax_details_has_no_address_no_tax_ids_and_is_not_exempt() -> None:
    fields = customer_fields()

    assert (fields["address"], fields["tax_ids"], fields["tax_exempt"]) == (None, [], "none")


def test_an_address_is_stored_with_every_field_and_its_country_in_upper_case() -> None:
    fields = customer_fields(address={**BERLIN, "country": "de", "line1": "  Unter den Linden 1 "})

    assert fields["address"] == {
        "country": "DE",
        "line1": "Unter den Linden 1",
        "line2": "",
        "city": "Berlin",
        "state": "",
        "postal_code": "10117",
    }


def test_an_address_outside_the_us_and_canada_needs_only_its_country() -> None:
    assert customer_fields(address={"country": "GB"})["address"]["country"] == "GB"


@pytest.mark.parametrize(
    ("country", "postal_code", "stored"),
    [
        ("US", "94107", "94107"),
        ("US", "94107-1234", "94107-1234"),
        ("CA", "k1a 0b1", "K1A 0B1"),
        ("CA", "K1A0B1", "K1A0B1"),
    ],
)
def test_us_and_canadian_postal_codes_in_their_shapes_are_accepted(
    country: str, postal_code: str, stored: str
) -> None:
    fields = customer_fields(address={"country": country, "postal_code": postal_code})

    assert fields["address"]["postal_code"] == stored


def test_tax_ids_are_stored_in_the_form_stripe_takes() -> None:
    fields = customer_fields(
        tax_ids=[{"type": "eu_vat", "value": " de123456789 "}, {"type": "us_ein", "value": "12-3456789"}],
        tax_exempt="reverse",
    )

    assert fields["tax_ids"] == [
        {"type": "eu_vat", "value": "DE123456789"},
        {"type": "us_ein", "value": "12-3456789"},
    ]
    assert fields["tax_exempt"] == "reverse"


@pytest.mark.parametrize(("tax_type", "example"), [(t, f.example) for t, f in sorted(TAX_ID_FORMATS.items())])
def test_stripes_own_example_of_each_tax_id_type_is_accepted(tax_type: str, example: str) -> None:
    fields = customer_fields(tax_ids=[{"type": tax_type, "value": example}])

    assert fields["tax_ids"] == [{"type": tax_type, "value": example}]


@pytest.mark.parametrize(("prefix", "example"), [(p, n.example) for p, n in sorted(EU_VAT_NUMBERS.items())])
def test_stripes_example_eu_vat_number_of_each_member_state_is_accepted(prefix: str, example: str) -> None:
    assert example.startswith(prefix)
    assert customer_fields(tax_ids=[{"type": "eu_vat", "value": example}])["tax_ids"][0]["value"] == example


def test_the_tax_exemptions_are_stripes_and_the_models() -> None:
    for value in TaxExempt.values:
        assert customer_fields(tax_exempt=value)["tax_exempt"] == value


# --- refusals, each on its field's path -----------------------------------------------------


@pytest.mark.parametrize("country", ["XX", "DEU", "GR1", ""])
def test_a_country_that_is_not_iso_3166_alpha_2_is_refused_on_address_country(country: str) -> None:
    codes = refusal(address={"country": country})

    assert list(codes) == ["address.country"]


def test_an_address_without_a_country_is_refused() -> None:
    assert refusal(address={"line1": "1 Main St", "city": "Springfield"}) == {"address.country": ["missing"]}


@pytest.mark.parametrize("country", ["US", "CA"])
def test_an_address_in_the_us_or_canada_without_a_postal_code_is_refused(country: str) -> None:
    assert refusal(address={"country": country, "line1": "1 Main St"}) == {
        "address.postal_code": ["postal_code_required"]
    }


@pytest.mark.parametrize(("country", "postal_code"), [("US", "9410"), ("US", "94107 1234"), ("CA", "12345")])
def test_a_postal_code_not_in_its_countrys_shape_is_refused(country: str, postal_code: str) -> None:
    assert refusal(address={"country": country, "postal_code": postal_code}) == {
        "address.postal_code": ["invalid_postal_code"]
    }


def test_an_unknown_address_field_is_refused() -> None:
    assert refusal(address={**BERLIN, "county": "Mitte"}) == {"address.county": ["extra_forbidden"]}


def test_an_unknown_tax_id_type_is_refused_on_its_type() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse(CustomerFields, {**ACME, "tax_ids": [{"type": "de_vat", "value": "DE123456789"}]})

    [error] = caught.value.field_errors["tax_ids[0].type"]
    assert error["code"] == "unknown_tax_id_type"
    assert error["message"].startswith("de_vat is not a tax id type Verity takes; use one of ae_trn, au_abn,")
    assert list(caught.value.field_errors) == ["tax_ids[0].type"]  # the value is not judged by a type unknown


@pytest.mark.parametrize(
    ("tax_type", "value"),
    [
        ("eu_vat", "123456789"),  # no country prefix
        ("eu_vat", "GB123456789"),  # not an EU prefix (gb_vat is)
        ("eu_vat", "GR123456789"),  # Greece's prefix is EL
        ("eu_vat", "DE12345678"),  # DE takes nine digits
        ("eu_vat", "DE 123 456 789"),
        ("gb_vat", "123456789"),
        ("us_ein", "12-345678"),
        ("au_abn", "1234567891"),
        ("ca_bn", "12345678"),
        ("ch_vat", "CHE123456789"),
        ("no_vat", "123456789"),
        ("in_gst", "12ABCDE3456FGXH"),
    ],
)
def test_a_value_not_in_its_types_format_is_refused_on_its_value(tax_type: str, value: str) -> None:
    assert refusal(tax_ids=[{"type": tax_type, "value": value}]) == {"tax_ids[0].value": ["invalid_tax_id"]}


def test_the_refusal_of_an_eu_vat_number_names_the_form_stripe_expects() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse(CustomerFields, {**ACME, "tax_ids": [{"type": "eu_vat", "value": "NL123456789"}]})

    assert caught.value.field_errors == {
        "tax_ids[0].value": [
            {
                "code": "invalid_tax_id",
                "message": "NL123456789 is not a valid European VAT number (NL): Stripe expects the form"
                " NL123456789B12.",
            }
        ]
    }


def test_the_same_tax_id_twice_and_more_than_five_are_refused_on_tax_ids() -> None:
    vat = {"type": "eu_vat", "value": "DE123456789"}
    assert refusal(tax_ids=[vat, {**vat, "value": "de123456789"}]) == {"tax_ids": ["duplicate_tax_id"]}
    six = [{"type": "eu_vat", "value": f"DE12345678{digit}"} for digit in range(6)]
    assert refusal(tax_ids=six) == {"tax_ids": ["too_long"]}


def test_a_tax_id_needs_its_type_and_value_and_nothing_else() -> None:
    assert refusal(tax_ids=[{"value": "DE123456789", "country": "DE"}]) == {
        "tax_ids[0].type": ["missing"],
        "tax_ids[0].country": ["extra_forbidden"],
    }


def test_an_exemption_stripe_does_not_know_is_refused() -> None:
    assert refusal(tax_exempt="exempted") == {"tax_exempt": ["literal_error"]}


@pytest.mark.django_db
def test_the_database_refuses_an_exemption_stripe_does_not_know() -> None:
    with pytest.raises(IntegrityError):
        CustomerFactory.create(tax_exempt="partly")


# --- the Stripe parameters ------------------------------------------------------------------


def test_stripe_details_send_every_address_field_and_the_exemption() -> None:
    customer = Customer(**customer_fields(address=BERLIN, tax_exempt="reverse"))

    assert customer_stripe_details(customer) == {
        "address": {
            "country": "DE",
            "line1": "Unter den Linden 1",
            "line2": "",
            "city": "Berlin",
            "state": "",
            "postal_code": "10117",
        },
        "tax_exempt": "reverse",
    }


def test_stripe_details_leave_out_an_address_not_given() -> None:
    assert customer_stripe_details(Customer(**customer_fields())) == {"tax_exempt": "none"}


def test_stripe_tax_ids_are_type_and_value_in_order() -> None:
    customer = Customer(
        **customer_fields(
            tax_ids=[{"type": "gb_vat", "value": "GB123456789"}, {"type": "eu_vat", "value": "XI123456789"}]
        )
    )

    assert customer_stripe_tax_ids(customer) == [
        {"type": "gb_vat", "value": "GB123456789"},
        {"type": "eu_vat", "value": "XI123456789"},
    ]
    assert customer_stripe_tax_ids(Customer(**customer_fields())) == []

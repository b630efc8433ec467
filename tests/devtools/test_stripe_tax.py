"""Customer addresses, tax IDs and automatic tax on invoices on the local Stripe server, through the real SDK."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from devtools.stripe_server import AdminClient
from devtools.stripe_server.state import SHAPES

BERLIN = {"line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117", "country": "DE"}


def _customer(client: stripe.StripeClient, **params: Any) -> stripe.Customer:
    all_params: Any = {"email": "ap@example.com", **params}  # the SDK's TypedDicts
    return client.v1.customers.create(params=all_params)


def _taxed_draft(client: stripe.StripeClient, customer_id: str, amounts: tuple[int, ...]) -> stripe.Invoice:
    invoice = client.v1.invoices.create(
        params={"customer": customer_id, "currency": "eur", "automatic_tax": {"enabled": True}}
    )
    for amount in amounts:
        client.v1.invoice_items.create(
            params={"customer": customer_id, "invoice": invoice.id, "amount": amount, "currency": "eur"}
        )
    return client.v1.invoices.retrieve(invoice.id)


def test_customer_address_and_tax_ids_at_creation(client: stripe.StripeClient) -> None:
    customer = _customer(client, address=BERLIN, tax_id_data=[{"type": "eu_vat", "value": "DE123456789"}])

    [tax_id] = client.v1.customers.tax_ids.list(customer.id).data

    assert customer.address is not None
    assert customer.address.to_dict() == {**BERLIN, "line2": None, "state": None}
    assert (tax_id.type, tax_id.value, tax_id.country) == ("eu_vat", "DE123456789", "DE")
    assert tax_id.id.startswith("txi_")
    assert tax_id.verification is not None
    assert tax_id.verification.status == "pending"
    assert set(tax_id.to_dict()) == set(SHAPES["tax_id"])


def test_address_update_merges_fields_and_an_empty_address_clears_it(client: stripe.StripeClient) -> None:
    customer = _customer(client, address=BERLIN)

    moved = client.v1.customers.update(
        customer.id, params={"address": {"city": "Potsdam", "postal_code": "14467"}}
    )
    cleared = client.v1.customers.update(customer.id, params={"address": ""})

    assert moved.address is not None
    assert (moved.address.city, moved.address.line1, moved.address.country) == (
        "Potsdam",
        BERLIN["line1"],
        "DE",
    )
    assert cleared.address is None


def test_a_country_that_is_not_a_two_letter_code_is_refused(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        _customer(client, address={"country": "Germany"})

    assert refused.value.http_status == 400
    assert refused.value.param == "address[country]"
    assert "Country 'Germany' is unknown" in str(refused.value.user_message)
    assert client.v1.customers.list().data == []


@pytest.mark.parametrize(
    ("type_", "value"),
    [("eu_vat", "123456789"), ("eu_vat", "US123456789"), ("gb_vat", "GB12345"), ("us_ein", "123456789")],
)
def test_a_tax_id_value_that_does_not_fit_its_type_is_tax_id_invalid(
    client: stripe.StripeClient, type_: str, value: str
) -> None:
    customer = _customer(client)

    with pytest.raises(stripe.InvalidRequestError) as added:
        client.v1.customers.tax_ids.create(customer.id, params={"type": type_, "value": value})
    with pytest.raises(stripe.InvalidRequestError) as created:
        _customer(client, tax_id_data=[{"type": type_, "value": value}])

    assert (added.value.http_status, added.value.code, added.value.param) == (400, "tax_id_invalid", "value")
    assert added.value.user_message == f"Invalid value for {type_}."
    assert (created.value.code, created.value.param) == ("tax_id_invalid", "tax_id_data[0][value]")
    assert client.v1.customers.tax_ids.list(customer.id).data == []


def test_an_unknown_tax_id_type_is_refused(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        _customer(client, tax_id_data=[{"type": "xx_vat", "value": "123"}])

    assert refused.value.param == "tax_id_data[0][type]"


def test_tax_ids_are_added_listed_and_deleted(client: stripe.StripeClient, admin: AdminClient) -> None:
    customer = _customer(client)
    ein = client.v1.customers.tax_ids.create(customer.id, params={"type": "us_ein", "value": "12-3456789"})
    vat = client.v1.customers.tax_ids.create(customer.id, params={"type": "gb_vat", "value": "GB123456789"})

    deleted = client.v1.customers.tax_ids.delete(customer.id, ein.id)

    assert deleted.to_dict() == {"deleted": True, "id": ein.id, "object": "tax_id"}
    assert [tax_id.id for tax_id in client.v1.customers.tax_ids.list(customer.id).data] == [vat.id]
    assert client.v1.customers.tax_ids.retrieve(customer.id, vat.id).country == "GB"
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.customers.tax_ids.retrieve(customer.id, ein.id)
    assert missing.value.http_status == 404
    assert [e["type"] for e in admin.events() if e["type"].startswith("customer.tax_id.")] == [
        "customer.tax_id.created",
        "customer.tax_id.created",
        "customer.tax_id.deleted",
    ]


@pytest.mark.parametrize(
    "address",
    [None, {"country": "US", "state": "CA"}, {"country": "CA"}],
    ids=["no address", "US without a 5-digit postal code", "Canada without province or postal code"],
)
def test_automatic_tax_is_refused_without_a_recognised_customer_location(
    client: stripe.StripeClient, address: dict[str, str] | None
) -> None:
    customer = _customer(client, **({"address": address} if address else {}))

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.invoices.create(params={"customer": customer.id, "automatic_tax": {"enabled": True}})

    assert refused.value.http_status == 400
    assert refused.value.code == "customer_tax_location_invalid"
    assert client.v1.invoices.list().data == []


def test_automatic_tax_at_the_configured_rate_exclusive_and_rounded_half_up_per_line(
    client: stripe.StripeClient, admin: AdminClient
) -> None:
    admin.configure_tax({"DE": "19", "*": "10"})
    customer = _customer(client, address=BERLIN)

    invoice = _taxed_draft(client, customer.id, (1050, 333))  # 199.5 -> 200, 63.27 -> 63

    assert invoice.automatic_tax.enabled is True
    assert invoice.automatic_tax.status == "complete"
    assert [line.taxes[0].amount for line in invoice.lines.data if line.taxes] == [200, 63]
    assert [line.taxes[0].taxable_amount for line in invoice.lines.data if line.taxes] == [1050, 333]
    [total_tax] = invoice.total_taxes or []
    assert (total_tax.amount, total_tax.taxable_amount, total_tax.tax_behavior) == (263, 1383, "exclusive")
    assert total_tax.tax_rate_details is not None
    assert total_tax.tax_rate_details.tax_rate.startswith("txr_")
    assert (invoice.subtotal, invoice.total_excluding_tax, invoice.total, invoice.amount_due) == (
        1383,
        1383,
        1646,
        1646,
    )
    finalized = client.v1.invoices.finalize_invoice(invoice.id)
    assert (finalized.total, finalized.amount_due) == (1646, 1646)


def test_the_default_test_rate_is_ten_percent(client: stripe.StripeClient) -> None:
    customer = _customer(client, address={"country": "FR"})

    invoice = _taxed_draft(client, customer.id, (1005,))

    assert (invoice.total, invoice.amount_due) == (1106, 1106)  # 100.5 -> 101


def test_a_reverse_charge_customer_pays_no_tax(client: stripe.StripeClient) -> None:
    customer = _customer(
        client, address=BERLIN, tax_exempt="reverse", tax_id_data=[{"type": "eu_vat", "value": "DE123456789"}]
    )

    invoice = _taxed_draft(client, customer.id, (1000,))

    [total_tax] = invoice.total_taxes or []
    assert (total_tax.amount, total_tax.taxability_reason) == (0, "reverse_charge")
    assert invoice.total == 1000


def test_without_automatic_tax_an_invoice_has_no_taxes(client: stripe.StripeClient) -> None:
    customer = _customer(client, address=BERLIN)
    invoice = client.v1.invoices.create(params={"customer": customer.id, "currency": "eur"})
    client.v1.invoice_items.create(params={"customer": customer.id, "invoice": invoice.id, "amount": 1000})

    invoice = client.v1.invoices.retrieve(invoice.id)

    assert invoice.automatic_tax.enabled is False
    assert invoice.total_taxes == []
    assert [line.taxes for line in invoice.lines.data] == [[]]
    assert invoice.total == 1000


def test_finalization_copies_the_customers_address_and_tax_ids(client: stripe.StripeClient) -> None:
    customer = _customer(client, address=BERLIN, tax_id_data=[{"type": "eu_vat", "value": "DE123456789"}])
    invoice = _taxed_draft(client, customer.id, (1000,))

    finalized = client.v1.invoices.finalize_invoice(invoice.id)

    assert finalized.customer_address is not None
    assert finalized.customer_address.country == "DE"
    assert [tax_id.to_dict() for tax_id in finalized.customer_tax_ids or []] == [
        {"type": "eu_vat", "value": "DE123456789"}
    ]


def test_finalization_is_refused_once_the_customer_location_is_gone(client: stripe.StripeClient) -> None:
    customer = _customer(client, address=BERLIN)
    invoice = _taxed_draft(client, customer.id, (1000,))
    client.v1.customers.update(customer.id, params={"address": ""})

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.invoices.finalize_invoice(invoice.id)

    assert refused.value.code == "customer_tax_location_invalid"
    assert client.v1.invoices.retrieve(invoice.id).status == "draft"


def test_automatic_tax_can_only_change_on_a_draft(client: stripe.StripeClient) -> None:
    customer = _customer(client, address=BERLIN)
    invoice = client.v1.invoices.finalize_invoice(_taxed_draft(client, customer.id, (1000,)).id)

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.invoices.update(invoice.id, params={"automatic_tax": {"enabled": False}})

    assert refused.value.code == "invoice_already_finalized"

"""Tax and accounts at settlement: Stripe Tax from the address Verity collected, and customers, cards and
setup links in the vendor's own Stripe account."""

from __future__ import annotations

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from contracts.models import Customer
from contracts.terms import parse
from core.errors import ValidationFailed
from devtools.stripe_server import RunningServer
from settlement.models import InvoiceStatus, SettlementStatus, StripeConnection
from settlement.services.customer_billing import (
    SetupLinkIn,
    StripeLinkIn,
    customer_setup_link_create,
    customer_stripe_link,
)
from settlement.stripe_connections.connect import stripe_connection_connect
from settlement.stripe_connections.inputs import stripe_connection_parse
from settlement.stripe_gateway import SettlementBlocked, invoice_push
from tests.settlement.stripe_accounts import (
    ACCT_A,
    KEY_A,
    own_account,
    owner_of,
    stripe_accounts_register,
)
from tests.support.ingest import Ingest, make_ingest
from tests.support.settlement import finalized_invoice, graduated_terms
from tests.support.stripe import card_on_file, stripe_invoices

pytestmark = pytest.mark.django_db

BERLIN = {"line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117", "country": "DE"}


@pytest.fixture
def own(stripe_api: RunningServer, settings: SettingsWrapper) -> Ingest:
    """A vendor settling in its own Stripe account (its restricted key), with Stripe Tax on."""
    stripe_accounts_register(stripe_api, settings)
    ingest = make_ingest(terms=graduated_terms())
    vendor = ingest.api.vendor
    stripe_connection_connect(
        vendor=vendor,
        fields=stripe_connection_parse(own_account(), vendor=vendor, by=owner_of(vendor)),
        by=owner_of(vendor),
        actor="test",
    )
    StripeConnection.objects.filter(vendor=vendor).update(tax_enabled=True)
    return ingest


def test_stripe_tax_is_computed_from_the_address_collected_in_verity_and_mirrored(
    own: Ingest, stripe_api: RunningServer
) -> None:
    Customer.objects.filter(pk=own.contract.customer_id).update(address=BERLIN)
    card_on_file(own.contract.customer, stripe_api.base_url, api_key=KEY_A)
    invoice = finalized_invoice(own, card=None)

    settled = invoice_push(invoice_id=invoice.pk)

    [remote] = stripe_invoices(stripe_api)
    assert remote["automatic_tax"]["enabled"] is True
    tax = remote["total"] - remote["total_excluding_tax"]
    assert tax == round(invoice.total_minor * 0.10)  # the test server's default rate
    assert (settled.status, settled.tax_minor) == (InvoiceStatus.PAID, tax)
    assert remote["amount_paid"] == invoice.total_minor + tax
    customer = stripe_api.admin.state(account=ACCT_A)["customers"][own.contract.customer.stripe_customer_id]
    assert customer["address"]["country"] == "DE"  # brought up to date before the invoice


def test_a_customer_without_an_address_blocks_a_taxed_settlement_with_stripes_reason(
    own: Ingest, stripe_api: RunningServer
) -> None:
    card_on_file(own.contract.customer, stripe_api.base_url, api_key=KEY_A)
    invoice = finalized_invoice(own, card=None)

    with pytest.raises(SettlementBlocked):
        invoice_push(invoice_id=invoice.pk)

    invoice.refresh_from_db()
    assert invoice.settlement_status == SettlementStatus.BLOCKED
    assert "location" in invoice.stripe_error


def test_customers_are_linked_and_set_up_in_the_vendors_own_account(
    own: Ingest, stripe_api: RunningServer
) -> None:
    customer = own.contract.customer
    elsewhere = card_on_file(make_ingest(terms=graduated_terms()).contract.customer, stripe_api.base_url)
    Customer.objects.filter(stripe_customer_id=elsewhere).update(stripe_customer_id="")

    with pytest.raises(ValidationFailed) as refused:  # a customer of the deployment's account: not A's
        customer_stripe_link(
            customer=customer, link=parse(StripeLinkIn, {"stripe_customer_id": elsewhere}), actor="test"
        )
    assert refused.value.field_errors["stripe_customer_id"][0]["code"] == "stripe_customer_not_found"
    url = customer_setup_link_create(
        customer=customer,
        setup=parse(SetupLinkIn, {}),
        default_success_url="https://vendor.example/saved",
        actor="test",
    )

    customer.refresh_from_db()
    state = stripe_api.admin.state(account=ACCT_A)
    assert list(state["customers"]) == [customer.stripe_customer_id]  # made in A's account
    [session] = state["checkout_sessions"].values()
    assert (session["customer"], session["url"]) == (customer.stripe_customer_id, url)

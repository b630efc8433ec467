"""Invoices Stripe cannot collect by itself (charged automatically, no card on file), told before they reach
Stripe: the rule, and the API's read-only `collection_warning` (the vendor's, not the customer's)."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from contracts.models import ApiKey, CollectionMethod, Contract, Customer
from contracts.services.credentials import api_key_create
from settlement.collectability import NO_CARD_ON_FILE, invoice_collection_warning
from settlement.invoicing.close import period_close
from settlement.invoicing.finalize import invoice_finalize
from settlement.models import Invoice, InvoiceStatus
from tests.support.ingest import Ingest
from tests.support.settlement import APRIL, MARCH, billable

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(ingest: Ingest) -> Invoice:
    billable(ingest, 3, MARCH + dt.timedelta(days=2))
    return period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL)


def card_on_file(customer: Customer, payment_method: str = "pm_1") -> None:
    Customer.objects.filter(pk=customer.pk).update(
        stripe_customer_id="cus_1", stripe_default_payment_method=payment_method
    )


def warning(invoice: Invoice) -> str:
    return invoice_collection_warning(
        invoice=Invoice.objects.select_related("contract__customer").get(pk=invoice.pk)
    )


def test_a_draft_charged_automatically_without_a_card_says_why_and_what_to_do(draft: Invoice) -> None:
    assert draft.contract.collection_method == CollectionMethod.CHARGE_AUTOMATICALLY
    assert warning(draft) == NO_CARD_ON_FILE
    assert (
        NO_CARD_ON_FILE == "no card on file: send the setup link, or switch the contract to sending invoices"
    )


def test_a_finalized_invoice_not_yet_on_stripe_is_warned_about_too(draft: Invoice) -> None:
    finalized = invoice_finalize(invoice_id=draft.pk, now=APRIL + dt.timedelta(days=4))
    assert finalized.status == InvoiceStatus.FINALIZED

    assert warning(finalized) == NO_CARD_ON_FILE


@pytest.mark.parametrize("payment_method", ["", "pm_1"])
def test_a_linked_customer_is_chargeable_only_with_a_default_payment_method(
    draft: Invoice, payment_method: str
) -> None:
    card_on_file(draft.contract.customer, payment_method)

    assert warning(draft) == ("" if payment_method else NO_CARD_ON_FILE)


def test_a_contract_sending_invoices_needs_no_card(draft: Invoice) -> None:
    Contract.objects.filter(pk=draft.contract_id).update(
        collection_method=CollectionMethod.SEND_INVOICE, days_until_due=30
    )

    assert warning(draft) == ""


@pytest.mark.parametrize(
    "status",
    [
        InvoiceStatus.OPEN,
        InvoiceStatus.PAID,
        InvoiceStatus.PAYMENT_FAILED,
        InvoiceStatus.VOID,
        InvoiceStatus.UNCOLLECTIBLE,
    ],
)
def test_an_invoice_already_with_stripe_is_not_warned_about(draft: Invoice, status: str) -> None:
    Invoice.objects.filter(pk=draft.pk).update(status=status)

    assert warning(draft) == ""


def test_the_vendor_api_shows_the_warning_on_the_list_and_the_detail(ingest: Ingest, draft: Invoice) -> None:
    client = ingest.api.client

    [listed] = client.get("/api/v1/invoices").json()["results"]
    detail = client.get(f"/api/v1/invoices/{draft.pk}").json()

    assert listed["collection_warning"] == detail["collection_warning"] == NO_CARD_ON_FILE
    card_on_file(draft.contract.customer)
    assert client.get(f"/api/v1/invoices/{draft.pk}").json()["collection_warning"] == ""


def test_the_customer_api_does_not_show_the_vendors_warning(ingest: Ingest, draft: Invoice) -> None:
    _, raw = api_key_create(
        vendor=ingest.api.vendor,
        name="customer",
        scope=ApiKey.Scope.READ,
        actor="system",
        customer=draft.contract.customer,
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    [listed] = client.get("/api/v1/customer/invoices").json()["results"]

    assert listed["id"] == draft.pk
    assert "collection_warning" not in listed

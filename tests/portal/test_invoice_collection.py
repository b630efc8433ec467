"""The portal tells the vendor, on the invoice list and the invoice's page, which invoices Stripe cannot collect
automatically (charged automatically, no card on file) and where to fix it, before they reach Stripe."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client

from contracts.models import CollectionMethod, Contract, Customer, Role
from settlement.collectability import NO_CARD_ON_FILE
from settlement.invoicing.close import period_close
from settlement.models import Invoice
from tests.portal.test_invoices import contract_ingest, rows, text
from tests.support.portal import make_member, signed_in
from tests.support.settlement import APRIL, MARCH, billable

pytestmark = pytest.mark.django_db

WARNING_ON_PAGE = 'id="collection-warning"'


@pytest.fixture
def draft() -> Invoice:
    """March's draft of a contract charged automatically, whose customer has no card on file."""
    ingest = contract_ingest()
    billable(ingest, 3, MARCH + dt.timedelta(days=3))
    return period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL + dt.timedelta(hours=1))


@pytest.fixture
def client_of(draft: Invoice) -> Client:
    return signed_in(make_member(role=Role.OWNER, vendor=draft.vendor))


def test_a_draft_without_a_card_on_file_is_marked_on_the_list_and_its_page(
    client_of: Client, draft: Invoice
) -> None:
    [row] = rows(text(client_of.get("/invoices/")), "invoices")
    page = text(client_of.get(f"/invoices/{draft.pk}/"))

    assert f"Not collectable automatically: {NO_CARD_ON_FILE}" in row[3]
    assert WARNING_ON_PAGE in page
    [warning] = re.findall(rf"<p [^>]*{WARNING_ON_PAGE}[^>]*>(.*?)</p>", page)
    assert "Stripe cannot collect this invoice automatically:" in warning
    assert NO_CARD_ON_FILE in warning
    assert f'href="/customers/{draft.contract.customer_id}/"' in warning


def test_no_warning_once_the_customer_has_a_card_or_the_contract_sends_invoices(
    client_of: Client, draft: Invoice
) -> None:
    Customer.objects.filter(pk=draft.contract.customer_id).update(
        stripe_customer_id="cus_1", stripe_default_payment_method="pm_1"
    )
    assert WARNING_ON_PAGE not in text(client_of.get(f"/invoices/{draft.pk}/"))

    Customer.objects.filter(pk=draft.contract.customer_id).update(stripe_default_payment_method="")
    Contract.objects.filter(pk=draft.contract_id).update(
        collection_method=CollectionMethod.SEND_INVOICE, days_until_due=30
    )
    assert WARNING_ON_PAGE not in text(client_of.get(f"/invoices/{draft.pk}/"))
    assert "Not collectable automatically" not in text(client_of.get("/invoices/"))

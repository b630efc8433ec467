"""Credit notes on Stripe: every reversal after billing ends as a credit note against the original Stripe
invoice, traced to its outcomes, and Stripe's totals (invoices less credit notes) equal Verity's."""

from __future__ import annotations

import datetime as dt

import pytest

from contracts.models import CreditAfterPayment
from devtools.stripe_server import RunningServer
from settlement.models import CreditNote, CreditNoteStatus, Invoice, InvoiceStatus
from settlement.services.credit_notes import credit_note_create
from settlement.stripe_gateway import invoice_push
from settlement.stripe_gateway.credit_notes import credit_note_push
from settlement.tasks import finalize_due_invoices
from tests.support.ingest import Ingest, make_ingest
from tests.support.settlement import (
    APRIL,
    MAY,
    billable,
    close_and_finalize,
    finalized_invoice,
    graduated_terms,
    reverse_all,
)
from tests.support.stripe import (
    card_on_file,
    stripe_invoices,
    stripe_totals_by_customer,
    verity_totals_by_customer,
)

pytestmark = pytest.mark.django_db


def issued(invoice: Invoice, reversed_count: int) -> CreditNote:
    reverse_all_of(invoice, reversed_count)
    note = credit_note_create(invoice_id=invoice.pk)
    assert note is not None
    return credit_note_push(credit_note_id=note.pk)


def reverse_all_of(invoice: Invoice, count: int) -> None:
    reverse_all(INGESTS[invoice.contract_id], count, APRIL + dt.timedelta(days=2))


INGESTS: dict[object, Ingest] = {}


def pushed(ingest: Ingest, card: str | None = "pm_card_visa", outcomes: int = 4) -> Invoice:
    INGESTS[ingest.contract.pk] = ingest
    invoice = finalized_invoice(ingest, outcomes=outcomes, card=card)
    return invoice_push(invoice_id=invoice.pk)


def test_a_reversal_on_an_open_invoice_lowers_what_is_due_on_stripe(stripe_api: RunningServer) -> None:
    ingest = make_ingest(terms=graduated_terms(), collection_method="send_invoice", days_until_due=14)
    invoice = pushed(ingest, card=None)
    assert invoice.status == InvoiceStatus.OPEN

    note = issued(invoice, 4)

    assert (note.status, note.method, note.amount_minor) == (
        CreditNoteStatus.ISSUED,
        CreditNote.Method.PRE_PAYMENT,
        251,
    )
    [remote_note] = stripe_api.admin.state()["credit_notes"].values()
    assert (remote_note["id"], remote_note["total"], remote_note["invoice"]) == (
        note.stripe_credit_note_id,
        251,
        invoice.stripe_invoice_id,
    )
    assert remote_note["metadata"]["verity_credit_note_id"] == str(note.pk)
    [remote] = stripe_invoices(stripe_api)
    assert remote["amount_remaining"] == invoice.total_minor - 251
    assert note.outcome_links.count() == 4  # traced to the outcomes it credits
    assert credit_note_push(credit_note_id=note.pk).stripe_credit_note_id == note.stripe_credit_note_id
    assert len(stripe_api.admin.state()["credit_notes"]) == 1  # issued once
    assert stripe_totals_by_customer(stripe_api) == verity_totals_by_customer()


def test_a_reversal_on_a_paid_invoice_goes_to_the_customers_balance_and_off_the_next_invoice(
    stripe_api: RunningServer,
) -> None:
    ingest = make_ingest(terms=graduated_terms())
    march = pushed(ingest)
    assert march.status == InvoiceStatus.PAID

    note = issued(march, 4)
    assert (note.method, note.amount_minor) == (CreditNote.Method.CUSTOMER_BALANCE, 251)
    customer_id = ingest.contract.customer.stripe_customer_id
    assert stripe_api.admin.state()["customers"][customer_id]["balance"] == -251

    billable(ingest, 2, APRIL + dt.timedelta(days=3), prefix="U")
    april = invoice_push(invoice_id=close_and_finalize(ingest, APRIL, MAY).pk)

    remote_april = next(r for r in stripe_invoices(stripe_api) if r["id"] == april.stripe_invoice_id)
    assert remote_april["amount_due"] == april.total_minor - 251  # Stripe applied the credit
    assert stripe_api.admin.state()["customers"][customer_id]["balance"] == 0
    assert stripe_totals_by_customer(stripe_api) == verity_totals_by_customer()


def test_a_contract_that_refunds_gets_its_credit_back_as_a_refund(stripe_api: RunningServer) -> None:
    ingest = make_ingest(terms=graduated_terms(), credit_after_payment=CreditAfterPayment.REFUND)
    march = pushed(ingest)

    note = issued(march, 4)

    assert note.method == CreditNote.Method.REFUND
    [refund] = stripe_api.admin.state()["refunds"].values()
    assert refund["amount"] == 251
    assert stripe_api.admin.state()["customers"][ingest.contract.customer.stripe_customer_id]["balance"] == 0


def test_a_period_owing_its_minimum_sends_no_credit_note_to_stripe(stripe_api: RunningServer) -> None:
    ingest = make_ingest(terms=graduated_terms(minimum_commitment_minor=50_000))
    march = pushed(ingest)

    reverse_all_of(march, 4)
    note = credit_note_create(invoice_id=march.pk)
    finalize_due_invoices()  # the beat: nothing pending to push

    assert note is not None
    assert (note.status, note.amount_minor) == (CreditNoteStatus.NOT_REQUIRED, 0)
    assert stripe_api.admin.state()["credit_notes"] == {}


def test_a_credit_note_waits_until_its_invoice_is_on_stripe(stripe_api: RunningServer) -> None:
    ingest = make_ingest(terms=graduated_terms())
    INGESTS[ingest.contract.pk] = ingest
    card_on_file(ingest.contract.customer, stripe_api.base_url)
    march = finalized_invoice(ingest, outcomes=4, card=None)
    reverse_all_of(march, 4)
    note = credit_note_create(invoice_id=march.pk)
    assert note is not None

    assert credit_note_push(credit_note_id=note.pk).status == CreditNoteStatus.PENDING  # not on Stripe yet
    invoice_push(invoice_id=march.pk)
    finalize_due_invoices()  # the beat issues it now

    note.refresh_from_db()
    assert note.status == CreditNoteStatus.ISSUED
    assert stripe_totals_by_customer(stripe_api) == verity_totals_by_customer()

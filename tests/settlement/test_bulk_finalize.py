"""Finalizing in batches: a batch of drafts finalizes exactly as finalizing them one by one does."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from outcomes.models import Outcome, OutcomeState, OutcomeTransition
from settlement import tasks
from settlement.invoicing.close import period_close
from settlement.invoicing.finalize import invoice_finalize, invoices_finalize, invoices_in_batches
from settlement.management.commands.finalize_invoices import finalize
from settlement.models import ApprovalStatus, CreditEntry, Invoice, InvoiceStatus, LineKind
from tests.factories import outcome_type_terms, version_terms
from tests.support.ingest import make_ingest
from tests.support.settlement import APRIL, FAST, GRADUATED, MARCH, billable
from tests.support.vendors import make_vendor_api

pytestmark = pytest.mark.django_db

FEBRUARY = dt.datetime(2026, 2, 1, 5, 0, tzinfo=dt.UTC)  # local midnight in New York (EST)
AFTER_GRACE = APRIL + dt.timedelta(days=4)


def vendor_drafts() -> list[Invoice]:
    """One vendor's March drafts: a plain one, one applying a credit carried from February, and one over
    its approval threshold (pending). February's invoice took the vendor's number 1."""
    api = make_vendor_api()
    terms = version_terms(
        platform_fee_minor=10_000,
        outcome_types=[outcome_type_terms(pricing=GRADUATED, free_units=1, verification_policy=FAST)],
    )
    plain, credited = (make_ingest(api, reference=f"CTR-{name}", terms=terms) for name in ("A", "B"))
    pending = make_ingest(api, reference="CTR-C", terms=terms, approval_threshold_minor=10_000)
    february = invoice_finalize(
        invoice_id=period_close(contract_id=credited.contract.pk, period_start=FEBRUARY, now=MARCH).pk,
        now=MARCH,
    )
    CreditEntry.objects.create(contract=credited.contract, invoice=february, amount_minor=3_000, at=MARCH)
    for count, ingest in zip((4, 3, 2), (plain, credited, pending), strict=True):
        billable(ingest, count, MARCH + dt.timedelta(days=2))
    return [
        period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL)
        for ingest in (plain, credited, pending)
    ]


def finalized(invoice: Invoice) -> tuple[Any, ...]:
    """Everything finalizing wrote for an invoice (its ids apart)."""
    invoice.refresh_from_db()
    billed = Outcome.objects.filter(line_links__line__invoice=invoice, line_links__line__kind=LineKind.USAGE)
    return (
        invoice.status,
        invoice.number,
        invoice.finalized_at,
        invoice.approval_status,
        invoice.total_minor,
        [(line.kind, line.amount_minor) for line in invoice.lines.order_by("position")],
        sorted(billed.values_list("natural_key", "state", "billed_at")),
        sorted(
            OutcomeTransition.objects.filter(outcome__in=billed, reason="invoice_finalized").values_list(
                "outcome__natural_key", "from_state", "to_state", "at", "details__invoice_number"
            )
        ),
        list(CreditEntry.objects.filter(invoice=invoice).values_list("amount_minor", "at")),
    )


def test_a_batch_finalizes_exactly_as_one_by_one_does() -> None:
    batched, one_by_one = vendor_drafts(), vendor_drafts()
    order = [2, 1, 0]  # numbers follow the order asked for

    invoices = invoices_finalize(invoice_ids=[batched[i].pk for i in order], now=AFTER_GRACE)
    for i in order:
        invoice_finalize(invoice_id=one_by_one[i].pk, now=AFTER_GRACE)

    assert [invoice.pk for invoice in invoices] == [batched[i].pk for i in order]
    assert [finalized(invoice) for invoice in batched] == [finalized(invoice) for invoice in one_by_one]
    plain, credited, pending = (finalized(invoice) for invoice in batched)
    assert credited[:3] == (InvoiceStatus.FINALIZED, 2, AFTER_GRACE)  # gapless after February's 1
    assert plain[:3] == (InvoiceStatus.FINALIZED, 3, AFTER_GRACE)
    assert pending[:4] == (InvoiceStatus.DRAFT, None, None, ApprovalStatus.PENDING)  # it waits
    assert [state for _, state, _ in plain[6]] == [OutcomeState.BILLED] * 4
    assert [transition[4] for transition in plain[7]] == [3] * 4  # one per outcome, naming the number
    assert [state for _, state, _ in pending[6]] == [OutcomeState.BILLABLE] * 2
    assert pending[7] == []  # nothing billed while it waits
    assert (LineKind.CREDIT_APPLIED, -3_000) in credited[5]
    assert credited[8] == [(-3_000, AFTER_GRACE)]  # the credit applied is consumed
    assert plain[8] == []


def test_finalizing_again_does_nothing() -> None:
    drafts = vendor_drafts()
    ids = [invoice.pk for invoice in drafts]
    first = [finalized(invoice) for invoice in invoices_finalize(invoice_ids=ids, now=AFTER_GRACE)]

    again = invoices_finalize(invoice_ids=ids, now=AFTER_GRACE + dt.timedelta(days=1))

    assert [finalized(invoice) for invoice in again] == first
    assert OutcomeTransition.objects.filter(reason="invoice_finalized").count() == 4 + 3


def test_an_unknown_invoice_fails_the_batch_before_anything_is_written() -> None:
    drafts = vendor_drafts()

    with pytest.raises(Invoice.DoesNotExist):
        invoices_finalize(invoice_ids=[drafts[0].pk, 0], now=AFTER_GRACE)

    assert not Invoice.objects.filter(pk=drafts[0].pk, status=InvoiceStatus.FINALIZED).exists()
    assert not Outcome.objects.filter(state=OutcomeState.BILLED).exists()


def test_the_command_finalizes_the_rest_of_a_batch_when_one_invoice_fails() -> None:
    plain, credited, pending = vendor_drafts()

    labels = finalize([plain.pk, 0, pending.pk, credited.pk])

    assert labels == ["finalized as #2", "failed (DoesNotExist)", "awaiting approval", "finalized as #3"]
    assert finalize([plain.pk]) == ["already finalized"]


def test_the_task_pushes_each_invoice_the_batch_finalized(monkeypatch: pytest.MonkeyPatch) -> None:
    plain, credited, pending = vendor_drafts()
    pushed: list[int] = []
    monkeypatch.setattr(tasks.push_invoice, "delay", pushed.append)

    assert tasks.finalize_invoices([plain.pk, pending.pk, credited.pk]) == 2

    assert pushed == [plain.pk, credited.pk]  # not the draft waiting for approval


def test_the_task_falls_back_to_one_job_per_invoice_when_the_batch_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain, _, _ = vendor_drafts()
    alone: list[int] = []
    pushed: list[int] = []
    monkeypatch.setattr(tasks.finalize_invoice, "delay", alone.append)
    monkeypatch.setattr(tasks.push_invoice, "delay", pushed.append)

    assert tasks.finalize_invoices([plain.pk, 0]) == 0

    assert alone == [plain.pk, 0]
    assert pushed == []
    plain.refresh_from_db()
    assert plain.is_draft  # the batch rolled back; its own job finalizes it


def test_batches_keep_the_order_they_are_given() -> None:
    assert list(invoices_in_batches([5, 3, 9, 1, 7], 2)) == [[5, 3], [9, 1], [7]]

"""A period's invoice: built from verified outcomes, rebuilt deterministically, finalized once."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from outcomes.models import Outcome, OutcomeState
from outcomes.services.building import outcomes_build_sweep
from settlement.models import CreditEntry, Invoice, InvoiceStatus, LineKind, LineOutcome
from settlement.services.invoicing import invoice_finalize, period_close, periods_due
from tests.factories import outcome_type_terms, version_terms
from tests.outcomes.conftest import Ingest, event, make_ingest
from tests.settlement.conftest import APRIL, FAST, GRADUATED, MARCH, billable

pytestmark = pytest.mark.django_db


def lines(invoice: Invoice) -> list[tuple[str, int, int]]:
    return [(line.kind, line.quantity, line.amount_minor) for line in invoice.lines.order_by("position")]


def test_a_month_of_outcomes_becomes_one_invoice_with_explained_lines(ingest: Ingest) -> None:
    billable(ingest, 5, MARCH + dt.timedelta(days=3))
    assert Outcome.objects.filter(state=OutcomeState.BILLABLE).count() == 5

    invoice = period_close(
        contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL + dt.timedelta(hours=1)
    )

    # 1 free; then graduated: 2 x 1.00, 2 x 0.505 = 1.01 -> 101 cents; platform fee 100.00.
    assert lines(invoice) == [
        (LineKind.USAGE, 1, 0),
        (LineKind.USAGE, 2, 200),
        (LineKind.USAGE, 2, 101),
        (LineKind.PLATFORM_FEE, 1, 10_000),
    ]
    assert invoice.total_minor == 10_301
    assert LineOutcome.objects.filter(line__invoice=invoice).count() == 5
    assert (invoice.period_start, invoice.period_end) == (MARCH, APRIL)


def test_closing_twice_yields_the_same_single_invoice(ingest: Ingest) -> None:
    billable(ingest, 3, MARCH + dt.timedelta(days=1))
    first = period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL)
    snapshot = lines(first)

    second = period_close(
        contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL + dt.timedelta(hours=5)
    )

    assert second.pk == first.pk
    assert Invoice.objects.count() == 1
    assert lines(second) == snapshot


def test_finalizing_numbers_without_gaps_bills_the_outcomes_and_is_idempotent(ingest: Ingest) -> None:
    billable(ingest, 2, MARCH + dt.timedelta(days=1))
    invoice = period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL)

    finalized = invoice_finalize(invoice_id=invoice.pk, now=APRIL + dt.timedelta(days=3))
    again = invoice_finalize(invoice_id=invoice.pk, now=APRIL + dt.timedelta(days=4))

    assert (finalized.status, finalized.number) == (InvoiceStatus.FINALIZED, 1)
    assert (again.number, again.finalized_at) == (1, finalized.finalized_at)
    assert Outcome.objects.filter(state=OutcomeState.BILLED).count() == 2


def test_a_late_outcome_lands_on_the_next_open_invoice_not_the_finalized_one(ingest: Ingest) -> None:
    billable(ingest, 1, MARCH + dt.timedelta(days=1))
    march = invoice_finalize(
        invoice_id=period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL).pk,
        now=APRIL + dt.timedelta(days=3),
    )
    march_lines = lines(march)
    # Happened in March, reported in April after March was finalized.
    with time_machine.travel(APRIL + dt.timedelta(days=4), tick=False):
        ingest.post(event(natural_key="late", occurred_at=(MARCH + dt.timedelta(days=20)).isoformat()))
    with time_machine.travel(APRIL + dt.timedelta(days=4, minutes=2), tick=False):
        outcomes_build_sweep()

    may = dt.datetime(2026, 5, 1, 4, 0, tzinfo=dt.UTC)
    april = period_close(contract_id=ingest.contract.pk, period_start=APRIL, now=may)

    march.refresh_from_db()
    assert lines(march) == march_lines
    assert LineOutcome.objects.filter(line__invoice=april, outcome__natural_key="late").exists()


def test_periods_missed_while_down_are_all_due(ingest: Ingest) -> None:
    due = periods_due(now=dt.datetime(2020, 4, 15, tzinfo=dt.UTC))
    starts = [start for contract_id, start in due if contract_id == ingest.contract.pk]
    assert len(starts) == 3  # January, February, March 2020


def reverse_all(ingest: Ingest, count: int, at: dt.datetime) -> None:
    with time_machine.travel(at, tick=False):
        ingest.post({"events": [event(natural_key=f"T-{i}", kind="outcome.reversed") for i in range(count)]})
    with time_machine.travel(at + dt.timedelta(minutes=2), tick=False):
        outcomes_build_sweep()


def close_and_finalize(ingest: Ingest, start: dt.datetime, end: dt.datetime) -> Invoice:
    return invoice_finalize(
        invoice_id=period_close(contract_id=ingest.contract.pk, period_start=start, now=end).pk, now=end
    )


MAY = dt.datetime(2026, 5, 1, 4, 0, tzinfo=dt.UTC)
JUNE = dt.datetime(2026, 6, 1, 4, 0, tzinfo=dt.UTC)


def test_a_reversal_after_billing_is_credited_on_the_next_invoice_exactly_once(ingest: Ingest) -> None:
    billable(ingest, 4, MARCH + dt.timedelta(days=1))
    march = close_and_finalize(ingest, MARCH, APRIL)
    assert march.total_minor == 200 + 51 + 10_000  # 1 free, 2 x 1.00, 1 x 0.505 (50.5 -> 51)

    reverse_all(ingest, 4, APRIL + dt.timedelta(days=2))
    assert Outcome.objects.filter(state=OutcomeState.REVERSED).count() == 4
    april = close_and_finalize(ingest, APRIL, MAY)
    may = close_and_finalize(ingest, MAY, JUNE)

    march.refresh_from_db()
    assert march.total_minor == 10_251  # the finalized invoice is never edited
    assert april.lines.get(kind=LineKind.CLAWBACK).amount_minor == -251  # exactly what March billed
    assert april.total_minor == 10_000 - 251
    assert not may.lines.filter(kind=LineKind.CLAWBACK).exists()  # credited once


def test_a_credit_only_invoice_charges_nothing_and_carries_the_balance_forward() -> None:
    terms = version_terms(
        platform_fee_minor=0, outcome_types=[outcome_type_terms(pricing=GRADUATED, verification_policy=FAST)]
    )
    ingest = make_ingest(terms=terms)
    billable(ingest, 3, MARCH + dt.timedelta(days=1))
    close_and_finalize(ingest, MARCH, APRIL)  # 2 x 1.00 + 1 x 0.505 = 250.5 -> 251
    reverse_all(ingest, 3, APRIL + dt.timedelta(days=1))

    april = close_and_finalize(ingest, APRIL, MAY)
    assert april.total_minor == -251
    assert CreditEntry.objects.get(invoice=april).amount_minor == 251

    billable(ingest, 1, MAY + dt.timedelta(days=1), prefix="U")
    june = close_and_finalize(ingest, MAY, JUNE)
    applied = june.lines.get(kind=LineKind.CREDIT_APPLIED)
    assert applied.amount_minor == -100
    assert june.total_minor == 0
    assert CreditEntry.objects.get(invoice=june).amount_minor == -100

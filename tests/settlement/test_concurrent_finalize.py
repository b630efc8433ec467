"""Finalize batches of one vendor side by side against real Postgres: the locks, not luck, keep its
numbers gapless and each outcome billed once."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from outcomes.models import Outcome, OutcomeState, OutcomeTransition
from settlement.invoicing.close import periods_close
from settlement.invoicing.finalize import invoices_finalize
from settlement.models import Invoice, InvoiceStatus
from tests.factories import outcome_type_terms, version_terms
from tests.support.ingest import make_ingest
from tests.support.settlement import APRIL, FAST, GRADUATED, MARCH, billable
from tests.support.vendors import make_vendor_api

pytestmark = pytest.mark.django_db(transaction=True)

CONTRACTS = 12
THREADS = 6


def test_overlapping_batches_of_one_vendor_finalized_at_once_number_every_invoice_once() -> None:
    api = make_vendor_api()
    terms = version_terms(
        platform_fee_minor=10_000,
        outcome_types=[outcome_type_terms(pricing=GRADUATED, free_units=1, verification_policy=FAST)],
    )
    ingests = [make_ingest(api, reference=f"CTR-{n}", terms=terms) for n in range(CONTRACTS)]
    for ingest in ingests[:3]:
        billable(ingest, 3, MARCH + dt.timedelta(days=2))
    ids = [
        invoice.pk for invoice in periods_close(periods=[(i.contract.pk, MARCH) for i in ingests], now=APRIL)
    ]
    # Each batch overlaps the next by two invoices; every other one asks in reverse order.
    batches = [ids[start : start + 4] for start in range(0, CONTRACTS, 2)]
    batches = [batch if n % 2 else batch[::-1] for n, batch in enumerate(batches)]
    assert len(batches) == THREADS
    barrier = threading.Barrier(THREADS)

    def finalize(batch: list[int]) -> list[int | None]:
        try:
            barrier.wait()
            return [invoice.number for invoice in invoices_finalize(invoice_ids=batch, now=APRIL)]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(finalize, batches))

    assert all(None not in numbers for numbers in results)  # no batch failed (no deadlock either)
    numbers = Invoice.objects.filter(pk__in=ids).values_list("status", "number")
    assert sorted(number or 0 for _, number in numbers) == list(range(1, CONTRACTS + 1))
    assert {status for status, _ in numbers} == {InvoiceStatus.FINALIZED}
    assert Outcome.objects.filter(state=OutcomeState.BILLED).count() == 9
    assert OutcomeTransition.objects.filter(reason="invoice_finalized").count() == 9  # each billed once

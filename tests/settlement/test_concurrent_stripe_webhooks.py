"""Duplicate Stripe webhooks racing each other (dj-stripe's classic bug): stored once, applied once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from settlement.invoicing.close import period_close
from settlement.invoicing.finalize import invoice_finalize
from settlement.models import Invoice, InvoiceStatus, StripeEvent
from tests.settlement.test_stripe_gateway import post_event, stripe_event
from tests.support.ingest import Ingest
from tests.support.settlement import APRIL, MARCH, billable
from tests.support.stripe import WEBHOOK_SECRET

pytestmark = pytest.mark.django_db(transaction=True)


def test_ten_concurrent_copies_of_a_paid_event_are_stored_and_applied_once(
    ingest: Ingest, settings: Any
) -> None:
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    billable(ingest, 2, MARCH)
    invoice = invoice_finalize(
        invoice_id=period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL).pk
    )
    Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.OPEN, stripe_invoice_id="in_race")
    event = stripe_event("evt_race", "invoice.paid", "in_race", 1_800_000_000)
    barrier = threading.Barrier(10)

    def deliver(_: int) -> int:
        try:
            barrier.wait()
            return int(post_event(event).status_code)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(deliver, range(10)))

    assert statuses == [200] * 10
    assert StripeEvent.objects.count() == 1
    assert StripeEvent.objects.get().processed_at is not None
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_at is not None) == (InvoiceStatus.PAID, True)

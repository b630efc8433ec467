"""The operations commands: idempotent, with a progress bar and a closing summary."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
import time_machine
from django.core.management import call_command

from devtools.stripe_server import running_server
from settlement.models import Invoice, InvoiceStatus
from tests.support.ingest import Ingest
from tests.support.settlement import APRIL, MARCH, billable
from tests.support.stripe import card_on_file

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_close_finalize_push_and_resync_each_say_what_they_did_and_repeat_safely(
    ingest: Ingest, settings: Any
) -> None:
    billable(ingest, 3, MARCH + dt.timedelta(days=1))
    with running_server() as stripe, time_machine.travel(APRIL + dt.timedelta(days=4), tick=False):
        settings.STRIPE_API_KEY, settings.STRIPE_API_BASE = "sk_test_cli", stripe.base_url
        card_on_file(ingest.contract.customer, stripe.base_url)

        assert "Closing periods: " in run("close_periods", "--contract", str(ingest.contract.pk))
        assert Invoice.objects.filter(contract=ingest.contract).count() > 0
        closed = Invoice.objects.count()
        assert "nothing to do" in run("close_periods", "--all-due")
        assert Invoice.objects.count() == closed

        assert "rebuilt" in run("rebuild_draft", "--all")
        first = run("finalize_invoices", "--all-due")
        assert "finalized as #1" in first
        assert "nothing to do" in run("finalize_invoices", "--all-due")

        assert "paid" in run("push_invoices", "--all-pending")
        assert "nothing to do" in run("push_invoices", "--all-pending")
        assert len(stripe.admin.state()["invoices"]) == Invoice.objects.exclude(stripe_invoice_id="").count()
        assert "Resyncing payments" in run("resync_payments")
    assert not Invoice.objects.filter(status=InvoiceStatus.DRAFT, period_start=MARCH).exists()

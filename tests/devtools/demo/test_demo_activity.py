"""`make run`'s simulated activity: outcomes in every state, an invoice closed, finalized and settled.

time-machine only fixes "today" for the test; the command itself moves Verity's clock on its own."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
import time_machine
from django.core.management import call_command

from contracts.wording import minor_text
from devtools.stripe_server import running_server
from outcomes.models import Outcome, OutcomeState
from settlement.models import Invoice, InvoiceStatus

pytestmark = pytest.mark.django_db(transaction=True)  # the demo relies on on-commit hooks firing


def test_demo_activity_simulates_outcomes_and_settles_the_ended_period(settings: Any) -> None:
    with running_server() as stripe:
        settings.STRIPE_API_KEY = "sk_test_demo"
        settings.STRIPE_API_BASE = stripe.base_url
        with time_machine.travel(dt.datetime(2026, 6, 20, 9, tzinfo=dt.UTC), tick=False):
            call_command("seed_demo", stdout=io.StringIO())
            out = io.StringIO()
            call_command("demo_activity", "--days", "20", stdout=out)

        assert "Simulated" in out.getvalue()
        states = set(Outcome.objects.values_list("state", flat=True))
        assert {OutcomeState.BILLED, OutcomeState.FLAGGED, OutcomeState.DISPUTED} <= states
        may = Invoice.objects.filter(contract__reference="NW-FABRIKAM-SUPPORT").get()
        assert may.status == InvoiceStatus.PAID
        assert may.number is not None
        # Amounts as a person reads them, in major units: never the minor-unit integer.
        assert (
            f"invoice #{may.number} NW-FABRIKAM-SUPPORT: {minor_text(may.total_minor, 'USD')} paid"
            in out.getvalue()
        )
        assert minor_text(may.total_minor, "USD") != f"{may.total_minor} USD"
        assert len(stripe.admin.state()["invoices"]) == Invoice.objects.exclude(stripe_invoice_id="").count()

        again = io.StringIO()
        call_command("demo_activity", "--if-quiet", stdout=again)
        assert "skipped" in again.getvalue()

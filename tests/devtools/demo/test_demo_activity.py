"""`make run`'s simulated activity: outcomes in every state, an invoice closed, finalized and settled.

time-machine only fixes "today" for the test; the command itself moves Verity's clock on its own."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest
import time_machine
from django.core.management import call_command

from contracts.wording import minor_text
from devtools.demo.management.commands.seed_demo import (
    DEMO_CUSTOMER_WEBHOOK_SECRET,
    DEMO_RECEIVER_URL,
    DEMO_WEBHOOK_SECRET,
)
from devtools.stripe_server import running_server
from devtools.webhook_receiver import running_receiver
from notifications.models import Delivery, DeliveryStatus
from outcomes.models import Outcome, OutcomeState
from settlement.models import Invoice, InvoiceStatus

pytestmark = pytest.mark.django_db(transaction=True)  # the demo relies on on-commit hooks firing


def test_demo_activity_simulates_outcomes_and_settles_the_ended_period(settings: Any) -> None:
    settings.WEBHOOKS_OUT_ALLOWED_NETWORKS = ["127.0.0.0/8"]  # as make run sets it for its receiver
    receiver_port = int(DEMO_RECEIVER_URL.rsplit(":", 1)[1].strip("/"))
    with (
        running_server() as stripe,
        running_receiver(
            secrets=[DEMO_WEBHOOK_SECRET, DEMO_CUSTOMER_WEBHOOK_SECRET], port=receiver_port
        ) as receiver,
    ):
        settings.STRIPE_API_KEY = "sk_test_demo"
        settings.STRIPE_API_BASE = stripe.base_url
        with time_machine.travel(dt.datetime(2026, 6, 20, 9, tzinfo=dt.UTC), tick=True):
            call_command("seed_demo", stdout=io.StringIO())
            out = io.StringIO()
            call_command("demo_activity", "--days", "20", stdout=out)

        # The month's events reach the demo receiver signed with the real clock, to the vendor's endpoint
        # and to Contoso's, each verified, none refused.
        received = receiver.snapshot()
        assert received
        assert all(item.verified and item.answered == "200" for item in received)
        assert {item.path for item in received} == {"/", "/contoso"}
        assert {"outcome.billable", "invoice.finalized", "invoice.paid"} <= set(receiver.counts_by_type())
        assert not Delivery.objects.exclude(status=DeliveryStatus.SUCCEEDED).exists()
        [(sent, attempted)] = re.findall(r"Webhooks out: (\d+) of (\d+) deliveries", out.getvalue())
        assert int(sent) == int(attempted) > 0

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

"""A whole billing period, for real: signed webhooks over HTTP, a Celery worker on Redis verifying,
the beat jobs closing and finalizing, Stripe (the local server) invoicing, and Stripe's payment
webhook marking the invoice paid. Closing again changes nothing."""

from __future__ import annotations

import datetime as dt
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from django.utils import timezone

from contracts.services.contracts import contract_activate, contract_create, contract_terminate
from contracts.services.credentials import webhook_source_create
from devtools.stripe_server import RunningServer, running_server
from outcomes.models import Outcome, OutcomeState
from settlement.invoicing.close import period_close
from settlement.models import Invoice, InvoiceStatus
from settlement.tasks import close_due_periods, finalize_due_invoices
from tests.factories import CustomerFactory, VendorFactory, new_contract, outcome_type_terms, version_terms
from tests.support.ingest import event, sign
from tests.support.polling import wait_until
from tests.support.workers import real_celery_worker, worker_done_with, worker_task_counts

pytestmark = pytest.mark.django_db(transaction=True)

STRIPE_KEY = "sk_test_verity_e2e"
STRIPE_WEBHOOK_SECRET = "whsec_verity_e2e_secret_0123456789"
FAST = {
    "confirmation": {"required": False},
    "maturation": {"hold_hours": 0},
    "suppression": {"enabled": False},
}


def wait_for(check: Any, what: str, worker: subprocess.Popen[bytes], seconds: float = 60) -> None:
    def done() -> bool:
        assert worker.poll() is None, "the worker died"
        return bool(check())

    wait_until(done, timeout=seconds, interval=0.25, message=what)


@pytest.fixture
def stripe_live(live_server: Any, settings: Any) -> Iterator[RunningServer]:
    with running_server(api_keys=[STRIPE_KEY]) as server:
        server.admin.configure_webhook(f"{live_server.url}/webhooks/stripe", STRIPE_WEBHOOK_SECRET)
        settings.STRIPE_API_KEY = STRIPE_KEY
        settings.STRIPE_API_BASE = server.base_url
        settings.STRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET
        yield server


@pytest.fixture
def worker(stripe_live: RunningServer) -> Iterator[subprocess.Popen[bytes]]:
    with real_celery_worker(
        STRIPE_API_KEY=STRIPE_KEY,
        STRIPE_API_BASE=stripe_live.base_url,
        STRIPE_WEBHOOK_SECRET=STRIPE_WEBHOOK_SECRET,
    ) as process:
        yield process


def post_signed(url: str, secret: str, payload: Any) -> dict[str, Any]:
    body = orjson.dumps(payload)
    headers = {
        key.removeprefix("HTTP_").replace("_", "-").lower(): value
        for key, value in sign(secret, body).items()
    }
    request = urllib.request.Request(url, data=body, headers={**headers, "content-type": "application/json"})  # noqa: S310 - our own live server
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own live server
        assert response.status == 200
        result: dict[str, Any] = orjson.loads(response.read())
        return result


def test_a_month_from_signed_webhooks_to_a_paid_stripe_invoice(
    live_server: Any, stripe_live: RunningServer, worker: subprocess.Popen[bytes]
) -> None:
    vendor = VendorFactory.create()
    customer = CustomerFactory.create(vendor=vendor)
    started = timezone.now() - dt.timedelta(days=1)
    contract = contract_create(
        vendor=vendor,
        **new_contract(
            {
                "customer_id": str(customer.pk),
                "reference": f"E2E-{uuid.uuid4().hex[:6]}",
                "currency": "USD",
                "timezone": "Europe/Berlin",
                "starts_at": started.isoformat(),
                "collection_method": "send_invoice",
                "days_until_due": 14,
                "grace_period_hours": 0,
                "terms": version_terms(
                    platform_fee_minor=0,
                    outcome_types=[
                        outcome_type_terms(
                            pricing={"model": "per_unit", "unit_price": "0.90"}, verification_policy=FAST
                        )
                    ],
                ),
            }
        ),
        actor="test",
    )
    contract_activate(contract=contract, actor="test")
    source, secret = webhook_source_create(
        vendor=vendor,
        customer=customer,
        name="helpdesk",
        kind="customer_system",
        actor="test",
        by_customer=True,
    )
    url = f"{live_server.url}/webhooks/v1/sources/{source.pk}/events"

    # Five resolutions, one of them sent twice (a retry): five outcomes, never six.
    claims = [event(contract=contract.reference, natural_key=f"T-{i}") for i in range(5)]
    assert post_signed(url, secret, {"events": claims})["accepted"] == 5
    assert post_signed(url, secret, claims[0])["results"][0]["status"] == "duplicate"
    billable = Outcome.objects.filter(contract=contract, state=OutcomeState.BILLABLE)
    wait_for(lambda: billable.count() == 5, "the worker to verify five outcomes", worker)

    # The period ends (the contract is terminated now); the beat jobs do the rest.
    contract_terminate(contract=contract, actor="test")
    close_due_periods.delay()
    invoices = Invoice.objects.filter(contract=contract)
    wait_for(invoices.exists, "the beat-triggered close", worker)
    finalize_due_invoices.delay()
    wait_for(lambda: invoices.filter(status=InvoiceStatus.OPEN).exists(), "finalize and send", worker)

    [remote] = stripe_live.admin.state()["invoices"].values()
    assert (remote["total"], remote["status"], remote["collection_method"]) == (450, "open", "send_invoice")

    # The customer pays; Stripe's webhook tells Verity.
    import stripe

    stripe.StripeClient(STRIPE_KEY, base_addresses={"api": stripe_live.base_url}).v1.invoices.pay(
        remote["id"], params={"paid_out_of_band": True}
    )
    stripe_live.admin.drain_webhooks()
    wait_for(lambda: invoices.filter(status=InvoiceStatus.PAID).exists(), "the payment webhook", worker)

    invoice = invoices.get()
    assert (invoice.number, invoice.total_minor, invoice.stripe_invoice_id) == (1, 450, remote["id"])
    assert Outcome.objects.filter(contract=contract, state=OutcomeState.BILLED).count() == 5

    # Closing again changes nothing: one invoice in Verity, one in Stripe.
    again = period_close(contract_id=contract.pk, period_start=invoice.period_start)
    assert again.pk == invoice.pk
    taken = worker_task_counts()
    close_due_periods.delay()
    finalize_due_invoices.delay()
    # Wait until the worker has run both beat jobs again, and whatever they enqueued, before the check.
    again_run = {name: taken[name] + 1 for name in (close_due_periods.name, finalize_due_invoices.name)}
    wait_for(lambda: worker_done_with(again_run), "the beat jobs to run again", worker)
    assert invoices.count() == 1
    assert len(stripe_live.admin.state()["invoices"]) == 1

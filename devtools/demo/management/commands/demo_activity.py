"""Simulate a month of the demo vendor's activity, day by day, through the real services.

Signed webhook deliveries (the same path as production), verification, the periodic jobs, the
period close, finalization and settlement through Stripe (the local test server under `make run`).
Verity's clock is set to each simulated day (devtools.demo.clock) so every timestamp reads as if it
happened on its day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import uuid
from typing import Any

import orjson
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from contracts.models import CollectionMethod, Contract, Customer, Vendor, WebhookSource
from contracts.selectors import webhook_source_live_secrets
from contracts.wording import minor_text
from devtools.demo.clock import clock_at
from notifications.dispatch import dispatch, dispatch_deferred
from outcomes.ingestion.delivery import delivery_receive
from outcomes.models import Outcome, OutcomeState
from outcomes.services.review import dispute_open
from outcomes.services.verification import outcomes_evaluate_due
from settlement.invoicing.close import period_close
from settlement.invoicing.finalize import invoice_finalize
from settlement.selectors.due import invoices_due_for_finalize, periods_due
from settlement.services.customer_billing import customer_test_card_attach
from settlement.stripe_gateway import SettlementBlocked, StripeUnavailable, invoice_push

VENDOR_SLUG = "northwind"


class Simulation:
    def __init__(self, vendor: Vendor, seed: int) -> None:
        self.random = random.Random(seed)  # noqa: S311 - reproducible demo data, not security
        self.contracts = {c.reference: c for c in Contract.objects.filter(vendor=vendor)}
        self.sources = {(s.customer_id, s.kind): s for s in WebhookSource.objects.filter(vendor=vendor)}
        self.sent = 0

    def post(self, contract: Contract, kind: str, events: list[dict[str, Any]]) -> None:
        source = self.sources[(contract.customer_id, kind)]
        [secret, *_] = webhook_source_live_secrets(source=source, at=timezone.now())
        body = orjson.dumps({"events": events})
        # Signed when it is sent, by the real clock: the signature's timestamp is checked against it.
        msg_id, signed_at = f"msg_{uuid.uuid4().hex}", dt.datetime.now(dt.UTC)
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(signed_at.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, signed_at, body.decode()),
            "content-type": "application/json",
        }
        response = delivery_receive(source_id=str(source.pk), body=body, headers=headers)
        assert response.status == 200, response.body
        self.sent += len(events)

    def event(
        self, contract: Contract, kind: str, natural_key: str, at: dt.datetime, **extra: Any
    ) -> dict[str, Any]:
        outcome_type = contract.versions.first().outcome_types.first()  # type: ignore[union-attr]
        assert outcome_type is not None
        return {
            "id": f"evt_{uuid.uuid4().hex}",
            "kind": kind,
            "contract": contract.reference,
            "outcome_type": outcome_type.key,
            "natural_key": natural_key,
            "occurred_at": at.isoformat(),
            **extra,
        }

    def day(self, day: dt.date, last_day: dt.date) -> None:
        noon = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
        with clock_at(noon):
            self.support_day(day, noon, burst=day == last_day)
            self.review_day(day, noon)
            self.recovery_day(day, noon)
        with clock_at(noon + dt.timedelta(hours=11, minutes=59)):
            outcomes_evaluate_due()

    def support_day(self, day: dt.date, noon: dt.datetime, *, burst: bool) -> None:
        """Fabrikam: the agent claims resolutions, the helpdesk confirms most; a reopen; a burst at the end."""
        contract = self.contracts["NW-FABRIKAM-SUPPORT"]
        count = 60 if burst else self.random.randint(4, 8)
        claims, confirms, reopens = [], [], []
        for i in range(count):
            key = f"TCK-{day:%m%d}-{i:02d}"
            at = noon - dt.timedelta(minutes=self.random.randint(30, 600))
            claims.append(
                self.event(
                    contract,
                    "outcome.claimed",
                    key,
                    at,
                    parent_key=f"conv-{key}",
                    evidence={"ticket_status": "solved"},
                )
            )
            if not burst and self.random.random() < 0.9:
                confirms.append(
                    self.event(
                        contract,
                        "outcome.confirmed",
                        key,
                        at + dt.timedelta(minutes=20),
                        evidence={"ticket_status": "solved"},
                    )
                )
            if not burst and self.random.random() < 0.04:
                reopens.append(
                    self.event(
                        contract,
                        "outcome.reversed",
                        key,
                        at + dt.timedelta(hours=2),
                        evidence={"reason": "reopened"},
                    )
                )
        self.post(contract, WebhookSource.Kind.VENDOR_AGENT, claims)
        if confirms:
            self.post(contract, WebhookSource.Kind.CUSTOMER_SYSTEM, confirms + reopens)

    def review_day(self, day: dt.date, noon: dt.datetime) -> None:
        """Contoso: the document system reports completed reviews (billed per task)."""
        contract = self.contracts["NW-CONTOSO-DOCREVIEW"]
        events = []
        for i in range(self.random.randint(8, 16)):
            at = noon - dt.timedelta(minutes=self.random.randint(10, 500))
            started = at - dt.timedelta(minutes=self.random.randint(5, 90))
            report = hashlib.sha256(f"{day}-{i}".encode()).hexdigest()
            events.append(
                self.event(
                    contract,
                    "task.completed",
                    f"DOC-{day:%m%d}-{i:02d}",
                    at,
                    evidence={
                        "started_at": started.isoformat(),
                        "page_count": self.random.randint(3, 300),
                        "report_sha256": report,
                    },
                )
            )
        self.post(contract, WebhookSource.Kind.CUSTOMER_SYSTEM, events)

    def recovery_day(self, day: dt.date, noon: dt.datetime) -> None:
        """Tailspin: a few overdue invoices paid after the agent's outreach (a success fee each)."""
        contract = self.contracts["NW-TAILSPIN-RECOVERY"]
        events = []
        for i in range(self.random.randint(0, 3)):
            amount = self.random.choice([4_000, 25_000, 180_000, 950_000, 1_200_000])
            events.append(
                self.event(
                    contract,
                    "outcome.claimed",
                    f"INV-{day:%m%d}-{i}",
                    noon - dt.timedelta(hours=2),
                    value={"amount_minor": amount, "currency": "EUR"},
                    evidence={
                        "recovered_amount_minor": amount,
                        "payment_reference": f"PAY-{uuid.uuid4().hex[:8]}",
                    },
                )
            )
        if events:
            self.post(contract, WebhookSource.Kind.CUSTOMER_SYSTEM, events)

    def settle_due(self, stdout: Any) -> None:
        """The periodic jobs: close ended periods, finalize after the grace period, settle through Stripe."""
        now = timezone.now()
        for contract_id, period_start in periods_due(now=now):
            period_close(contract_id=contract_id, period_start=period_start)
        for invoice_id in invoices_due_for_finalize(now=now):
            invoice = invoice_finalize(invoice_id=invoice_id)
            try:
                invoice = invoice_push(invoice_id=invoice.pk)
            except (StripeUnavailable, SettlementBlocked) as exc:
                stdout.write(
                    f"  invoice #{invoice.number}: Stripe not reached ({exc}); push later with push_invoices"
                )
                continue
            stdout.write(
                f"  invoice #{invoice.number} {invoice.contract.reference}: {minor_text(invoice.total_minor, invoice.currency)} {invoice.status}"
            )


class Command(BaseCommand):
    help = "Simulate a month of demo activity (outcomes, flags, a dispute, invoices settled through Stripe)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--if-quiet", action="store_true", help="Do nothing when outcomes already exist.")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Only the last N days (default: since the contracts started).",
        )

    def handle(self, *args: Any, if_quiet: bool, seed: int, days: int | None, **options: Any) -> None:
        vendor = Vendor.objects.filter(slug=VENDOR_SLUG).first()
        if vendor is None:
            self.stdout.write("demo_activity: no demo vendor; run seed_demo first.")
            return
        if if_quiet and Outcome.objects.filter(vendor=vendor).exists():
            self.stdout.write("demo_activity: skipped, the demo already has outcomes.")
            return
        simulation = Simulation(vendor, seed)
        self.cards_on_file(vendor)
        start = min(c.starts_at for c in simulation.contracts.values()).date()
        today = timezone.now().date()
        last_day = today - dt.timedelta(days=1)
        if days is not None:
            start = max(start, today - dt.timedelta(days=days))
        self.stdout.write(
            f"Simulating the demo vendor's activity from {start} to {last_day} (about a minute for a month) …"
        )
        day = start
        # The month's webhooks wait for the real clock: a receiver refuses a signature dated weeks ago.
        with dispatch_deferred():
            while day <= last_day:
                simulation.day(day, last_day)
                with clock_at(dt.datetime.combine(day, dt.time(23, 59), tzinfo=dt.UTC)):
                    simulation.settle_due(self.stdout)
                day += dt.timedelta(days=1)
            self.open_a_dispute(vendor)
            outcomes_evaluate_due()
            simulation.settle_due(self.stdout)
        delivered = dispatch()
        states = {
            state: Outcome.objects.filter(vendor=vendor, state=state).count() for state in OutcomeState.values
        }
        summary = ", ".join(f"{n} {state}" for state, n in states.items() if n)
        self.stdout.write(self.style.SUCCESS(f"Simulated {simulation.sent} events: {summary}."))
        self.stdout.write(
            f"Webhooks out: {delivered.succeeded} of {delivered.attempts} deliveries to the demo receiver "
            "succeeded (the portal's Settings, Webhooks out shows each)."
        )

    def cards_on_file(self, vendor: Vendor) -> None:
        """The customers charged automatically pay with Stripe's test Visa, attached the way test mode does
        it; the ones sent invoices pay on Stripe's hosted page."""
        customers = Customer.objects.filter(
            contracts__vendor=vendor,
            contracts__collection_method=CollectionMethod.CHARGE_AUTOMATICALLY,
            stripe_default_payment_method="",
        ).distinct()
        for customer in customers:
            try:
                customer_test_card_attach(customer=customer)
            except (StripeUnavailable, ValueError) as exc:
                self.stdout.write(f"  {customer.name}: no test card on file ({exc}); its invoices will wait")

    def open_a_dispute(self, vendor: Vendor) -> None:
        """The helpdesk's customer disputes one billable resolution (it stays held until answered)."""
        outcome = (
            Outcome.objects.filter(
                vendor=vendor, state=OutcomeState.BILLABLE, outcome_type_key="ticket.resolved"
            )
            .order_by("-billable_at")
            .first()
        )
        if outcome is not None:
            dispute_open(
                outcome=outcome,
                reason="The customer says this ticket was solved by their own staff.",
                actor="customer:demo",
            )

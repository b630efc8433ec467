"""A month of settlement against a Stripe that misbehaves at every call, end to end.

Faults everywhere (a proxy answering 500s and 429s, hanging, dropping connections before and after
Stripe did the work), stored 500s replayed to every retry, keys Stripe has forgotten by the time a
settlement resumes two days later, a declining card dunned by Stripe's own retries, reversals after
billing on an open and on a paid invoice, and Stripe's webhooks delivered late and twice. Then:
every finalized invoice is paid exactly once or visibly failed and being dunned, every reversal is a
credit note on Stripe, Stripe's totals less credit notes equal Verity's for every customer, and no
invoice status ever moved backwards. A second test kills a real Celery worker between finalize and
pay, and the beat's job finishes the settlement.
"""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from pytest_django.fixtures import Settings as SettingsWrapper

from devtools.stripe_server import RunningServer, running_server
from settlement.models import (
    STATUS_RANK,
    Invoice,
    InvoiceStatus,
    SettlementStatus,
)
from settlement.selectors.due import credit_notes_to_push, invoices_to_push
from settlement.services.credit_notes import invoices_to_credit
from settlement.tasks import finalize_due_invoices, push_invoice
from tests.support.faults import FaultProxy, kill, stripe_behind_a_fault_proxy
from tests.support.ingest import Ingest, make_ingest
from tests.support.polling import wait_until
from tests.support.settlement import APRIL, finalized_invoice, graduated_terms, reverse_all, settlement_round
from tests.support.stripe import (
    card_on_file,
    deliver_stripe_events,
    stripe_totals_by_customer,
    verity_totals_by_customer,
)
from tests.support.workers import real_celery_worker


@pytest.fixture
def stripe_behind_faults(
    settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FaultProxy, RunningServer]]:
    with stripe_behind_a_fault_proxy(settings, monkeypatch, share=0.3, seed=11) as faulty:
        yield faulty


class StatusWatch:
    """Every status each invoice had, in order, as read after each round."""

    def __init__(self) -> None:
        self.seen: dict[int, list[str]] = collections.defaultdict(list)

    def look(self) -> None:
        for pk, status in Invoice.objects.values_list("pk", "status"):
            if not self.seen[pk] or self.seen[pk][-1] != status:
                self.seen[pk].append(status)

    def never_backwards(self) -> bool:
        return all(
            [STATUS_RANK[InvoiceStatus(s)] for s in history]
            == sorted(STATUS_RANK[InvoiceStatus(s)] for s in history)
            for history in self.seen.values()
        )


def beat_round(server: RunningServer, watch: StatusWatch, delivered: int) -> int:
    """The periodic job, once; then Stripe's webhooks arrive (each twice: Stripe delivers at least once)."""
    settlement_round()
    watch.look()
    seen = deliver_stripe_events(server, after=delivered)
    deliver_stripe_events(server, after=delivered)  # duplicates change nothing
    watch.look()
    return seen


@pytest.mark.django_db
def test_a_month_settles_exactly_once_through_faults_at_every_call(
    stripe_behind_faults: tuple[FaultProxy, RunningServer],
) -> None:
    proxy, server = stripe_behind_faults
    settings_base = server.base_url  # cards are put on file directly, not through the faulty proxy
    contracts: list[tuple[Ingest, str]] = []
    for number in range(8):
        kind = {0: "send", 1: "decline"}.get(number, "card")
        header: dict[str, Any] = (
            {"collection_method": "send_invoice", "days_until_due": 14} if kind == "send" else {}
        )
        ingest = make_ingest(terms=graduated_terms(platform_fee_minor=1_000 * (number + 1)), **header)
        card = {"send": None, "decline": "pm_card_chargeCustomerFail"}.get(kind, "pm_card_visa")
        if card is not None:
            card_on_file(ingest.contract.customer, settings_base, card)
        contracts.append((ingest, kind))
    invoices = {
        ingest.contract.pk: finalized_invoice(ingest, outcomes=4, card=None) for ingest, _ in contracts
    }
    # Stored 500s: Stripe made the object and replays a 500; Stripe made nothing and replays a 500.
    server.admin.add_faults(
        {"action": "500_stored", "commit": True, "method": "POST", "path": r"^/v1/invoices$", "count": 1},
        {"action": "500_stored", "commit": False, "method": "POST", "path": r"/add_lines$", "count": 1},
    )
    watch, delivered = StatusWatch(), 0

    for _ in range(3):  # the first runs of the periodic job
        delivered = beat_round(server, watch, delivered)
    # Two days later: every key older than a day may be gone; resuming looks before it makes.
    with time_machine.travel(dt.datetime.now(tz=dt.UTC) + dt.timedelta(days=2), tick=True):
        for _ in range(40):
            delivered = beat_round(server, watch, delivered)
            if not invoices_to_push():
                break
        # Reversals after billing: on the sent (open) invoice and on a paid one.
        sent, _ = contracts[0]
        paid, _ = contracts[2]
        reverse_all(sent, 4, APRIL + dt.timedelta(days=2))
        reverse_all(paid, 2, APRIL + dt.timedelta(days=2))
        for _ in range(40):
            delivered = beat_round(server, watch, delivered)
            if not credit_notes_to_push() and not invoices_to_credit():
                break
    proxy.share = 0  # the faults have had their say; let Stripe's clock run its retries
    server.admin.advance_clock(10 * 86_400)
    delivered = beat_round(server, watch, delivered)

    state = server.admin.state()
    remote_by_verity_id: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for remote in state["invoices"].values():
        remote_by_verity_id[remote["metadata"]["verity_invoice_id"]].append(remote)
    paid_events = collections.Counter(
        event["data"]["object"]["id"] for event in state["events"] if event["type"] == "invoice.paid"
    )
    for ingest, kind in contracts:
        invoice = Invoice.objects.get(pk=invoices[ingest.contract.pk].pk)
        [remote] = remote_by_verity_id[str(invoice.pk)]  # one Stripe invoice, never two
        assert invoice.settlement_status == SettlementStatus.DONE
        assert remote["total"] == invoice.total_minor
        if kind == "decline":  # visibly failed, and Stripe's dunning went through its schedule
            assert (invoice.status, remote["status"]) == (InvoiceStatus.PAYMENT_FAILED, "open")
            assert remote["attempt_count"] >= 2
            assert invoice.payment_error
        elif kind == "send":  # the customer pays on the hosted page; its credit note lowered it
            assert (invoice.status, remote["status"]) == (InvoiceStatus.OPEN, "open")
            assert remote["amount_remaining"] == invoice.total_minor - 251
        else:
            assert (invoice.status, remote["status"]) == (InvoiceStatus.PAID, "paid")
            assert paid_events[remote["id"]] == 1  # paid once
    notes = {note["metadata"]["verity_invoice_id"]: note for note in state["credit_notes"].values()}
    assert set(notes) == {
        str(invoices[contracts[0][0].contract.pk].pk),
        str(invoices[contracts[2][0].contract.pk].pk),
    }
    assert stripe_totals_by_customer(server) == verity_totals_by_customer()
    assert watch.never_backwards(), watch.seen
    assert {"500", "429", "timeout", "drop_after", "timeout_after"} <= set(proxy.fired), proxy.fired


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_between_finalize_and_pay_is_finished_by_the_beat(settings: SettingsWrapper) -> None:
    with running_server() as server:
        settings.STRIPE_API_KEY = "sk_test_verity"
        settings.STRIPE_API_BASE = server.base_url
        env = {"STRIPE_API_KEY": "sk_test_verity", "STRIPE_API_BASE": server.base_url}
        ingest = make_ingest(terms=graduated_terms())
        card_on_file(ingest.contract.customer, server.base_url)
        invoice = finalized_invoice(ingest, card=None)
        # The first `pay` hangs (Stripe slow to answer): the worker is killed while it waits.
        server.admin.add_faults({"action": "timeout", "seconds": 30, "path": r"/pay$", "count": 1})

        with real_celery_worker(**env) as worker:
            push_invoice.delay(invoice.pk)
            wait_until(
                lambda: any(r["path"].endswith("/pay") for r in server.admin.requests()),
                message="the settlement to reach pay",
            )
            kill(worker.pid)
            worker.wait(timeout=10)
        invoice.refresh_from_db()
        steps = dict(invoice.settlement_steps.values_list("step", "status"))
        assert (steps["finalize"], steps["pay"]) == ("done", "started")
        assert invoice.settlement_status == SettlementStatus.PENDING

        with real_celery_worker(**env):
            finalize_due_invoices.delay()  # what the beat sends: it resumes every pending settlement
            wait_until(
                lambda: Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID,
                message="the resumed settlement",
            )
        # The worker has stopped (the block waits for it) and the hung first `pay` never ran (a timeout
        # without commit): nothing can pay the invoice again, so "paid once" holds for good here.
        [remote] = server.admin.state()["invoices"].values()
        assert (remote["status"], remote["amount_paid"]) == ("paid", invoice.total_minor)
        paid = [e for e in server.admin.events("invoice.paid") if e["data"]["object"]["id"] == remote["id"]]
        assert len(paid) == 1

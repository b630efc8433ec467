"""Stripe misbehaving: a fault proxy between the real SDK and the local Stripe-compatible server answers
500s and 429s, hangs, and drops connections (before and after Stripe did the work) on a third of calls.

Settling a batch of invoices through the gateway, retried and resumed as the push task and the beat
do, leaves every invoice settled exactly once: one Stripe invoice each, the right amount, paid once.
"""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Iterator

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from devtools.stripe_server import RunningServer
from settlement.invoicing.close import period_close
from settlement.invoicing.finalize import invoice_finalize
from settlement.models import Invoice, InvoiceStatus, SettlementStep
from settlement.stripe_gateway import StripeUnavailable, invoice_push, stripe_lines
from tests.factories import outcome_type_terms, version_terms
from tests.support.faults import FaultProxy, stripe_behind_a_fault_proxy
from tests.support.ingest import make_ingest
from tests.support.settlement import APRIL, FAST, GRADUATED, MARCH, billable
from tests.support.stripe import card_on_file

pytestmark = pytest.mark.django_db

INVOICES = 12


@pytest.fixture
def stripe_behind_faults(
    settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FaultProxy, RunningServer]]:
    with stripe_behind_a_fault_proxy(settings, monkeypatch, share=0.35, seed=7) as faulty:
        yield faulty


def finalized_invoices(count: int, stripe_base_url: str) -> list[Invoice]:
    invoices = []
    for number in range(count):
        terms = version_terms(
            platform_fee_minor=1_000 * (number + 1),
            minimum_commitment_minor=0,
            outcome_types=[outcome_type_terms(pricing=GRADUATED, free_units=1, verification_policy=FAST)],
        )
        ingest = make_ingest(terms=terms)
        card_on_file(ingest.contract.customer, stripe_base_url)
        billable(ingest, number + 2, MARCH + dt.timedelta(days=2))
        invoice = period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL)
        invoices.append(invoice_finalize(invoice_id=invoice.pk, now=APRIL))
    return invoices


def settle(invoice_ids: list[int], *, rounds: int = 40) -> int:
    """Push until each is paid, as the push task's retries and the beat's resume would; returns the
    number of pushes interrupted by Stripe being unavailable."""
    pending, interrupted = list(invoice_ids), 0
    for _ in range(rounds):
        for invoice_id in list(pending):
            try:
                if invoice_push(invoice_id=invoice_id).status == InvoiceStatus.PAID:
                    pending.remove(invoice_id)
            except StripeUnavailable:
                interrupted += 1
        if not pending:
            break
    assert pending == [], "invoices still not settled"
    return interrupted


def test_every_invoice_is_settled_exactly_once_through_500s_429s_timeouts_and_dropped_connections(
    stripe_behind_faults: tuple[FaultProxy, RunningServer],
) -> None:
    proxy, server = stripe_behind_faults
    invoices = finalized_invoices(INVOICES, server.base_url)
    assert all(invoice.total_minor > 0 for invoice in invoices)

    interrupted = settle([invoice.pk for invoice in invoices])

    state = server.admin.state()
    remote_by_verity_id = collections.defaultdict(list)
    for remote in state["invoices"].values():
        remote_by_verity_id[remote["metadata"]["verity_invoice_id"]].append(remote)
    items_by_invoice = collections.Counter(item["invoice"] for item in state["invoiceitems"].values())
    paid_events = collections.Counter(
        event["data"]["object"]["id"] for event in state["events"] if event["type"] == "invoice.paid"
    )
    assert len(remote_by_verity_id) == INVOICES
    for invoice in invoices:
        invoice.refresh_from_db()
        [remote] = remote_by_verity_id[str(invoice.pk)]  # one Stripe invoice, never two
        assert (remote["status"], remote["total"], remote["amount_paid"]) == (
            "paid",
            invoice.total_minor,
            invoice.total_minor,
        )
        assert items_by_invoice[remote["id"]] == len(stripe_lines(invoice))  # no line sent twice
        assert paid_events[remote["id"]] == 1  # paid once
        assert (invoice.status, invoice.stripe_invoice_id) == (InvoiceStatus.PAID, remote["id"])
        assert set(invoice.settlement_steps.values_list("status", flat=True)) == {SettlementStep.Status.DONE}
    assert len(state["customers"]) == INVOICES  # one Stripe customer per customer
    # The faults really happened, every kind of them, and some outlasted the SDK's own retries.
    assert set(proxy.fired) == set(FaultProxy.ACTIONS), proxy.fired
    assert interrupted > 0

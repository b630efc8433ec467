"""Settlement publishes its events in the transaction of each change: a draft built, waiting for approval,
finalized, paid or failed through Stripe, overdue, credited, and a budget threshold reached; once each."""

from __future__ import annotations

import datetime as dt
from typing import Any

import fastjsonschema
import pytest
import time_machine
from django.db import transaction

from contracts.models import Contract
from devtools.stripe_server import RunningServer
from notifications.models import Event
from settlement.domain_events import EVENT_TYPES
from settlement.invoicing.close import period_close
from settlement.invoicing.finalize import invoice_finalize
from settlement.invoicing.rebuild import invoice_rebuild
from settlement.models import Invoice, InvoiceStatus
from settlement.services.announcements import deadlines_announce
from settlement.services.credit_notes import credit_note_create
from settlement.stripe_gateway import invoice_push
from settlement.tasks import announce_deadlines
from tests.factories import outcome_type_terms, version_terms
from tests.support.ingest import Ingest, make_ingest
from tests.support.settlement import APRIL, FAST, GRADUATED, MARCH, billable, finalized_invoice, reverse_all
from tests.support.stripe import deliver_stripe_events

pytestmark = pytest.mark.django_db

SCHEMAS = {event_type.name: fastjsonschema.compile(event_type.data_schema) for event_type in EVENT_TYPES}
CLOSED_AT = APRIL + dt.timedelta(hours=1)
MARCH_DATA = {
    "period_start": "2026-03-01T05:00:00+00:00",
    "period_end": "2026-04-01T04:00:00+00:00",
    "period": "1\N{EN DASH}31 March 2026",
    "currency": "USD",
    "due_at": None,
    "hosted_invoice_url": None,
}


def events(prefix: str = "") -> list[Event]:
    """The outbox's rows of settlement's types (the contract's own activation left out), oldest first."""
    rows = list(Event.objects.filter(type__in=SCHEMAS, type__startswith=prefix).order_by("id"))
    for row in rows:
        SCHEMAS[row.type](row.data)  # what is recorded is what the catalogue documents
    return rows


def about(row: Event) -> tuple[str, str, Any, Any, Any]:
    return row.type, row.object_id, row.vendor_id, row.customer_id, row.contract_id


def ids(invoice: Invoice) -> tuple[str, Any, Any, Any]:
    contract = Contract.objects.get(pk=invoice.contract_id)
    return str(invoice.pk), contract.vendor_id, contract.customer_id, contract.pk


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=lambda event_type: event_type.name)
def test_each_example_is_valid_by_its_schema(event_type: Any) -> None:
    assert SCHEMAS[event_type.name](event_type.example) == event_type.example


def test_a_closed_period_announces_its_draft_once_however_often_it_is_rebuilt(ingest: Ingest) -> None:
    billable(ingest, 3, MARCH + dt.timedelta(days=2))

    invoice = period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=CLOSED_AT)
    billable(ingest, 1, MARCH + dt.timedelta(days=3), prefix="LATE")
    period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=CLOSED_AT)  # same clock
    period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=CLOSED_AT + dt.timedelta(hours=1))
    rebuilt = invoice_rebuild(invoice_id=invoice.pk, now=CLOSED_AT + dt.timedelta(hours=2))

    assert rebuilt.total_minor == 10_251  # the late outcome is on the draft, and no event says so
    [row] = events()
    assert about(row) == ("invoice.draft_created", *ids(invoice))
    assert row.dedup_key == f"invoice.draft_created:{invoice.pk}"
    assert row.occurred_at == CLOSED_AT
    assert row.data == {
        **MARCH_DATA,
        "number": None,
        "status": "draft",
        "total_minor": 10_200,  # 100.00 fee, 1 free unit, then 1.00 and 1.00
        "finalize_after": "2026-04-04T04:00:00+00:00",
    }


def test_a_close_rolled_back_leaves_no_event(ingest: Ingest) -> None:
    billable(ingest, 3, MARCH + dt.timedelta(days=2))

    with pytest.raises(RuntimeError), transaction.atomic():  # noqa: PT012 (the close, then the failure)
        period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=CLOSED_AT)
        raise RuntimeError("the batch fails after the close")

    assert Invoice.objects.count() == 0
    assert events() == []


def approving() -> Ingest:
    terms = version_terms(
        platform_fee_minor=10_000,
        minimum_commitment_minor=0,
        outcome_types=[outcome_type_terms(pricing=GRADUATED, free_units=1, verification_policy=FAST)],
    )
    return make_ingest(terms=terms, approval_threshold_minor=10_000)


def test_a_draft_over_the_threshold_asks_for_approval_again_only_when_its_total_changes() -> None:
    ingest = approving()
    billable(ingest, 3, MARCH + dt.timedelta(days=2))
    invoice = period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=CLOSED_AT)
    invoice_rebuild(invoice_id=invoice.pk, now=CLOSED_AT + dt.timedelta(hours=1))  # same total: no news

    billable(ingest, 1, MARCH + dt.timedelta(days=3), prefix="LATE")
    invoice_rebuild(invoice_id=invoice.pk, now=CLOSED_AT + dt.timedelta(hours=2))

    assert [row.type for row in events("invoice.draft_created")] == ["invoice.draft_created"]
    rows = events("invoice.awaiting_approval")
    assert len(rows) == 2
    assert about(rows[0]) == ("invoice.awaiting_approval", *ids(invoice))
    assert (rows[0].dedup_key, rows[0].occurred_at) == (None, CLOSED_AT)
    assert rows[0].data == {
        **MARCH_DATA,
        "number": None,
        "status": "draft",
        "total_minor": 10_200,
        "approval_threshold_minor": 10_000,
        "approve_by": "2026-04-04T04:00:00+00:00",
    }
    assert (rows[1].data["total_minor"], rows[1].occurred_at) == (10_251, CLOSED_AT + dt.timedelta(hours=2))


def test_a_finalized_invoice_is_announced_once(ingest: Ingest) -> None:
    billable(ingest, 3, MARCH + dt.timedelta(days=2))
    invoice = period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=CLOSED_AT)
    at = APRIL + dt.timedelta(days=4)

    invoice_finalize(invoice_id=invoice.pk, now=at)
    invoice_finalize(invoice_id=invoice.pk, now=at + dt.timedelta(hours=1))

    [row] = events("invoice.finalized")
    assert about(row) == ("invoice.finalized", *ids(invoice))
    assert (row.dedup_key, row.occurred_at) == (None, at)
    assert row.data == {
        **MARCH_DATA,
        "number": 1,
        "status": "finalized",
        "previous_status": "draft",
        "total_minor": 10_200,
        "finalized_at": at.isoformat(),
    }


def test_a_paid_invoice_is_announced_once_whatever_stripe_repeats(
    ingest: Ingest, stripe_api: RunningServer
) -> None:
    invoice = finalized_invoice(ingest)

    invoice_push(invoice_id=invoice.pk)
    deliver_stripe_events(stripe_api)  # invoice.paid and the rest: the status is already paid
    deliver_stripe_events(stripe_api)  # delivered twice

    invoice.refresh_from_db()
    [row] = events("invoice.paid")
    assert about(row) == ("invoice.paid", *ids(invoice))
    assert row.data == {
        **MARCH_DATA,
        "number": 1,
        "status": "paid",
        "previous_status": "finalized",
        "total_minor": 10_200,
        "paid_at": invoice.paid_at.isoformat(),  # type: ignore[union-attr]
        "hosted_invoice_url": invoice.stripe_hosted_url,
    }
    assert events("invoice.payment_failed") == []


def test_a_declined_payment_is_announced_once_per_attempt(ingest: Ingest, stripe_api: RunningServer) -> None:
    invoice = finalized_invoice(ingest, card="pm_card_chargeCustomerFail")

    invoice_push(invoice_id=invoice.pk)
    deliver_stripe_events(stripe_api)  # Stripe's invoice.payment_failed for the same first attempt

    invoice.refresh_from_db()
    [row] = events("invoice.payment_failed")
    assert about(row) == ("invoice.payment_failed", *ids(invoice))
    assert row.dedup_key == f"invoice.payment_failed:{invoice.pk}:1"
    assert row.data == {
        **MARCH_DATA,
        "number": 1,
        "status": "payment_failed",
        "previous_status": "finalized",
        "total_minor": 10_200,
        "attempt": 1,
        "reason": invoice.payment_error,
        # What Stripe said when the attempt failed (Stripe's later word on the retry is a later fact).
        "next_payment_attempt_at": row.data["next_payment_attempt_at"],
        "hosted_invoice_url": row.data["hosted_invoice_url"],
    }
    assert "card_declined" in row.data["reason"]
    assert dt.datetime.fromisoformat(row.data["next_payment_attempt_at"]) > APRIL
    assert events("invoice.paid") == []


def test_a_zero_invoice_is_paid_without_stripe_and_announced(
    ingest: Ingest, stripe_api: RunningServer
) -> None:
    invoice = finalized_invoice(ingest, card=None)
    Invoice.objects.filter(pk=invoice.pk).update(total_minor=0)

    invoice_push(invoice_id=invoice.pk)
    invoice_push(invoice_id=invoice.pk)

    [row] = events("invoice.paid")
    assert (row.data["previous_status"], row.data["total_minor"]) == ("finalized", 0)


def test_a_credit_note_is_announced_with_its_invoice(ingest: Ingest) -> None:
    invoice = finalized_invoice(ingest, card=None)
    reverse_all(ingest, 3, APRIL + dt.timedelta(days=1))

    note = credit_note_create(invoice_id=invoice.pk, now=APRIL + dt.timedelta(days=2))
    assert credit_note_create(invoice_id=invoice.pk) is None  # nothing new reversed: nothing announced

    assert note is not None
    contract = ingest.contract
    [row] = events("credit_note.")
    assert about(row) == (
        "credit_note.created",
        str(note.pk),
        contract.vendor_id,
        contract.customer_id,
        contract.pk,
    )
    assert row.occurred_at == APRIL + dt.timedelta(days=2)
    assert row.data == {
        "invoice_id": str(invoice.pk),
        "invoice_number": 1,
        "amount_minor": 200,
        "currency": "USD",
        "status": "pending",
        "reason": "3 outcomes reversed after billing",
        "outcomes": 3,
    }


def test_an_invoice_past_its_due_date_and_unpaid_is_announced_overdue_once(ingest: Ingest) -> None:
    invoice = finalized_invoice(ingest, card=None)
    due = APRIL + dt.timedelta(days=14)
    Invoice.objects.filter(pk=invoice.pk).update(
        status=InvoiceStatus.OPEN, due_at=due, stripe_hosted_url="https://invoice.stripe.test/i/1"
    )

    assert deadlines_announce(now=due - dt.timedelta(seconds=1)) == 0  # not yet due
    assert deadlines_announce(now=due + dt.timedelta(minutes=5)) == 1
    deadlines_announce(now=due + dt.timedelta(minutes=10))

    [row] = events("invoice.overdue")
    assert about(row) == ("invoice.overdue", *ids(invoice))
    assert (row.dedup_key, row.occurred_at) == (
        f"invoice.overdue:{invoice.pk}",
        due + dt.timedelta(minutes=5),
    )
    assert row.data == {
        **MARCH_DATA,
        "number": 1,
        "status": "open",
        "total_minor": 10_200,
        "due_at": due.isoformat(),
        "hosted_invoice_url": "https://invoice.stripe.test/i/1",
    }


def test_a_paid_invoice_past_its_due_date_is_not_overdue(ingest: Ingest) -> None:
    invoice = finalized_invoice(ingest, card=None)
    due = APRIL + dt.timedelta(days=14)
    Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.PAID, due_at=due)

    assert deadlines_announce(now=due + dt.timedelta(days=1)) == 0
    assert events("invoice.overdue") == []


# --- budget thresholds ---------------------------------------------------------------------------

CAPPED = version_terms(
    platform_fee_minor=10_000,
    cap_amount_minor=1_000,  # 10.00 USD of outcomes per period
    budget_alert_percents=[50, 80],
    outcome_types=[
        outcome_type_terms(pricing={"model": "per_unit", "unit_price": "1.00"}, verification_policy=FAST)
    ],
)


def test_each_budget_threshold_is_announced_once_per_period_when_the_period_so_far_reaches_it() -> None:
    ingest = make_ingest(terms=CAPPED)
    contract = ingest.contract
    billable(ingest, 4, MARCH + dt.timedelta(days=2))  # 4.00: under 50%
    assert deadlines_announce(now=MARCH + dt.timedelta(days=3)) == 0

    billable(ingest, 1, MARCH + dt.timedelta(days=4), prefix="A")  # 5.00: 50% reached
    at = MARCH + dt.timedelta(days=5)
    assert deadlines_announce(now=at) == 1
    billable(ingest, 4, MARCH + dt.timedelta(days=6), prefix="B")  # 9.00: 80% reached
    later = MARCH + dt.timedelta(days=7)
    with time_machine.travel(later, tick=False):
        assert announce_deadlines.apply().get() == 2  # the beat's task: 50% is handed again, and kept once
    deadlines_announce(now=later + dt.timedelta(hours=1))

    rows = events("budget.")
    assert [(row.data["percent"], row.data["amount_minor"], row.occurred_at) for row in rows] == [
        (50, 500, at),
        (80, 900, later),
    ]
    assert about(rows[0]) == (
        "budget.threshold_reached",
        str(contract.pk),
        contract.vendor_id,
        contract.customer_id,
        contract.pk,
    )
    assert rows[0].dedup_key == f"budget.threshold_reached:{contract.pk}:2026-03-01T05:00:00+00:00:50"
    assert rows[1].data == {
        "percent": 80,
        "threshold_minor": 800,
        "amount_minor": 900,
        "cap_amount_minor": 1_000,
        "currency": "USD",
        "period_start": "2026-03-01T05:00:00+00:00",
        "period_end": "2026-04-01T04:00:00+00:00",
    }


def test_a_period_held_at_its_cap_reaches_every_threshold_and_the_next_period_starts_afresh() -> None:
    three_dollars = outcome_type_terms(
        pricing={"model": "per_unit", "unit_price": "3.00"}, verification_policy=FAST
    )
    ingest = make_ingest(terms={**CAPPED, "budget_alert_percents": [100], "outcome_types": [three_dollars]})
    billable(ingest, 4, MARCH + dt.timedelta(days=2))  # 12.00: the fourth is held, 9.00 is billed

    deadlines_announce(now=MARCH + dt.timedelta(days=3))
    # April: its period has nothing billable yet (March's outcomes are March's draft's).
    period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=CLOSED_AT)
    deadlines_announce(now=CLOSED_AT)

    [row] = events("budget.")
    assert (row.data["percent"], row.data["amount_minor"], row.data["period_start"]) == (
        100,
        900,
        "2026-03-01T05:00:00+00:00",
    )


def test_contracts_without_a_cap_or_thresholds_announce_nothing(ingest: Ingest) -> None:
    no_alerts = make_ingest(reference="CTR-no-alerts", terms={**CAPPED, "budget_alert_percents": []})
    billable(ingest, 30, MARCH + dt.timedelta(days=2))
    billable(no_alerts, 30, MARCH + dt.timedelta(days=2))

    assert deadlines_announce(now=MARCH + dt.timedelta(days=3)) == 0
    assert events("budget.") == []

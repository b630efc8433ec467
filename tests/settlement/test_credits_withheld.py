"""Credits wait for unpaid invoices: a credit that would leave the vendor (refunded, or put on the customer's
Stripe balance) is withheld while the customer has an overdue invoice with the vendor, with the reason in
the trail, and issued exactly once when the overdue invoice is paid (Stripe's signed webhook, then the
periodic job); per contract, and never for someone else's debt or a debt not yet due."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from contracts.models import AuditEntry, CreditAfterPayment
from devtools.stripe_server import RunningServer
from notifications.models import Event
from outcomes.services.building import outcomes_build_sweep
from settlement.models import CreditNote, CreditNoteStatus, Invoice, InvoiceStatus
from settlement.services.credit_notes import credit_note_create
from settlement.services.credit_withholding import credit_notes_release, credit_withholding_reason
from settlement.stripe_gateway import invoice_push
from settlement.tasks import finalize_due_invoices
from tests.support.ingest import Ingest, event, make_ingest
from tests.support.settlement import (
    APRIL,
    MAY,
    billable,
    close_and_finalize,
    finalized_invoice,
    graduated_terms,
    reverse_all,
)
from tests.support.stripe import (
    deliver_stripe_events,
    stripe_invoices,
    stripe_sdk,
    stripe_totals_by_customer,
    verity_totals_by_customer,
)

pytestmark = pytest.mark.django_db

REVERSED_AT = APRIL + dt.timedelta(days=2)  # March's 4 outcomes reversed: 2.51 off March's invoice


def sent_contract(
    ingest_api: Ingest | None = None, reference: str = "CTR-ingest", **header: object
) -> Ingest:
    """A contract whose invoices are sent to the customer, due in 7 days."""
    return make_ingest(
        ingest_api.api if ingest_api else None,
        reference=reference,
        terms=graduated_terms(),
        collection_method="send_invoice",
        days_until_due=7,
        **header,
    )


def paid_on_stripe(stripe_api: RunningServer, invoice: Invoice) -> Invoice:
    """The customer pays the invoice on Stripe; Stripe's signed webhooks tell Verity."""
    stripe_sdk(stripe_api).v1.invoices.pay(invoice.stripe_invoice_id, params={"paid_out_of_band": True})
    deliver_stripe_events(stripe_api)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    return invoice


def paid_march_and_open_april(stripe_api: RunningServer, ingest: Ingest) -> tuple[Invoice, Invoice]:
    """March's invoice (4 outcomes) sent and paid; April's (2 outcomes) sent, unpaid, due in 7 days."""
    march = invoice_push(invoice_id=finalized_invoice(ingest, outcomes=4, card=None).pk)
    march = paid_on_stripe(stripe_api, march)
    billable(ingest, 2, APRIL + dt.timedelta(days=3), prefix="U")
    april = invoice_push(invoice_id=close_and_finalize(ingest, APRIL, MAY).pk)
    assert (april.status, april.due_at is not None) == (InvoiceStatus.OPEN, True)
    return march, april


def beat_at(at: dt.datetime) -> None:
    """The periodic job, run at `at` (Verity's clock; Stripe's calls follow it)."""
    with time_machine.travel(at, tick=True):
        finalize_due_invoices()


def audit_actions(note: CreditNote) -> list[str]:
    return list(
        AuditEntry.objects.filter(object_type="creditnote", object_id=str(note.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )


def stripe_credit_notes(stripe_api: RunningServer) -> list[dict[str, object]]:
    return list(stripe_api.admin.state()["credit_notes"].values())


def test_a_credit_waits_while_the_customer_has_an_overdue_invoice_and_is_issued_once_it_is_paid(
    stripe_api: RunningServer,
) -> None:
    ingest = sent_contract(credit_after_payment=CreditAfterPayment.REFUND)
    march, april = paid_march_and_open_april(stripe_api, ingest)
    assert april.due_at is not None
    overdue = april.due_at + dt.timedelta(days=1)

    reverse_all(ingest, 4, REVERSED_AT)
    note = credit_note_create(invoice_id=march.pk, now=overdue)
    beat_at(overdue + dt.timedelta(minutes=5))  # the periodic job leaves it waiting
    beat_at(overdue + dt.timedelta(minutes=10))

    assert note is not None
    note.refresh_from_db()
    reason = f"withheld: customer has overdue invoice #{april.number}"
    assert (note.status, note.amount_minor, note.withheld_reason, note.withheld_at) == (
        CreditNoteStatus.WITHHELD,
        251,
        reason,
        overdue,
    )
    assert (note.stripe_credit_note_id, note.released_at) == ("", None)
    assert stripe_credit_notes(stripe_api) == []  # no credit note on Stripe
    assert stripe_api.admin.state()["refunds"] == {}  # nothing refunded
    assert audit_actions(note) == ["credit_note.withheld"]
    [created] = Event.objects.filter(type="credit_note.created", object_id=str(note.pk))
    assert (created.data["status"], created.data["amount_minor"]) == ("withheld", 251)

    paid_on_stripe(stripe_api, april)
    beat_at(overdue + dt.timedelta(hours=1))
    beat_at(overdue + dt.timedelta(hours=2))  # again: nothing more

    note.refresh_from_db()
    assert (note.status, note.method, note.withheld_reason) == (
        CreditNoteStatus.ISSUED,
        CreditNote.Method.REFUND,
        reason,  # the trail keeps why it waited
    )
    assert note.released_at is not None
    [remote_note] = stripe_credit_notes(stripe_api)
    assert (remote_note["id"], remote_note["total"], remote_note["invoice"]) == (
        note.stripe_credit_note_id,
        251,
        march.stripe_invoice_id,
    )
    [refund] = stripe_api.admin.state()["refunds"].values()
    assert refund["amount"] == 251
    assert audit_actions(note) == ["credit_note.withheld", "credit_note.released"]
    assert Event.objects.filter(type="credit_note.created", object_id=str(note.pk)).count() == 1
    assert stripe_totals_by_customer(stripe_api) == verity_totals_by_customer()


def test_with_the_policy_off_the_credit_is_issued_at_once(stripe_api: RunningServer) -> None:
    ingest = sent_contract(withhold_credits_while_overdue=False)
    march, april = paid_march_and_open_april(stripe_api, ingest)
    assert april.due_at is not None
    overdue = april.due_at + dt.timedelta(days=1)

    reverse_all(ingest, 4, REVERSED_AT)
    note = credit_note_create(invoice_id=march.pk, now=overdue)
    beat_at(overdue + dt.timedelta(minutes=5))

    assert note is not None
    note.refresh_from_db()
    assert (note.status, note.method, note.withheld_reason, note.withheld_at) == (
        CreditNoteStatus.ISSUED,
        CreditNote.Method.CUSTOMER_BALANCE,
        "",
        None,
    )
    assert [remote["total"] for remote in stripe_credit_notes(stripe_api)] == [251]
    assert audit_actions(note) == []


def test_an_invoice_due_tomorrow_withholds_nothing(stripe_api: RunningServer) -> None:
    ingest = sent_contract()
    march, april = paid_march_and_open_april(stripe_api, ingest)
    assert april.due_at is not None
    the_day_before = april.due_at - dt.timedelta(days=1)

    reverse_all(ingest, 4, REVERSED_AT)
    note = credit_note_create(invoice_id=march.pk, now=the_day_before)
    beat_at(the_day_before + dt.timedelta(minutes=5))

    assert note is not None
    note.refresh_from_db()
    assert (note.status, note.method, note.withheld_reason) == (
        CreditNoteStatus.ISSUED,
        CreditNote.Method.CUSTOMER_BALANCE,
        "",
    )
    assert [remote["total"] for remote in stripe_credit_notes(stripe_api)] == [251]


def test_a_credit_pending_when_an_invoice_falls_overdue_is_withheld_before_it_reaches_stripe(
    stripe_api: RunningServer,
) -> None:
    ingest = sent_contract()
    march, april = paid_march_and_open_april(stripe_api, ingest)
    assert april.due_at is not None

    reverse_all(ingest, 4, REVERSED_AT)
    note = credit_note_create(invoice_id=march.pk, now=april.due_at - dt.timedelta(hours=1))
    assert note is not None
    assert note.status == CreditNoteStatus.PENDING  # not overdue yet
    beat_at(april.due_at + dt.timedelta(hours=1))  # the push comes after the due date

    note.refresh_from_db()
    assert (note.status, note.withheld_reason) == (
        CreditNoteStatus.WITHHELD,
        f"withheld: customer has overdue invoice #{april.number}",
    )
    assert stripe_credit_notes(stripe_api) == []


def test_a_credit_against_the_overdue_invoice_itself_lowers_what_it_asks(stripe_api: RunningServer) -> None:
    ingest = sent_contract()
    _, april = paid_march_and_open_april(stripe_api, ingest)
    assert april.due_at is not None
    overdue = april.due_at + dt.timedelta(days=1)

    reversed_on(ingest, ["U-1"], MAY + dt.timedelta(days=1))
    note = credit_note_create(invoice_id=april.pk, now=overdue)
    beat_at(overdue + dt.timedelta(minutes=5))

    assert note is not None
    note.refresh_from_db()
    assert (note.status, note.method, note.withheld_reason) == (
        CreditNoteStatus.ISSUED,
        CreditNote.Method.PRE_PAYMENT,  # netted against what April still asks
        "",
    )
    [remote_april] = [
        remote for remote in stripe_invoices(stripe_api) if remote["id"] == april.stripe_invoice_id
    ]
    assert remote_april["amount_remaining"] == april.total_minor - note.amount_minor


def reversed_on(ingest: Ingest, natural_keys: list[str], at: dt.datetime) -> None:
    """The customer's system reverses these billed outcomes at `at`."""
    with time_machine.travel(at, tick=False):
        response = ingest.post(
            {
                "events": [
                    event(contract=ingest.contract.reference, natural_key=key, kind="outcome.reversed")
                    for key in natural_keys
                ]
            }
        )
        assert response.status_code == 200
    with time_machine.travel(at + dt.timedelta(minutes=2), tick=False):
        outcomes_build_sweep()


def test_another_customers_overdue_invoice_withholds_nothing(stripe_api: RunningServer) -> None:
    ingest = sent_contract()
    other = sent_contract(ingest, reference="CTR-other-customer")  # same vendor, another customer
    assert other.contract.customer_id != ingest.contract.customer_id
    march = paid_on_stripe(
        stripe_api, invoice_push(invoice_id=finalized_invoice(ingest, outcomes=4, card=None).pk)
    )
    theirs = invoice_push(invoice_id=finalized_invoice(other, outcomes=2, card=None).pk)
    assert theirs.due_at is not None
    overdue = theirs.due_at + dt.timedelta(days=1)

    reverse_all(ingest, 4, REVERSED_AT)
    note = credit_note_create(invoice_id=march.pk, now=overdue)
    beat_at(overdue + dt.timedelta(minutes=5))

    assert note is not None
    note.refresh_from_db()
    assert (note.status, note.withheld_reason) == (CreditNoteStatus.ISSUED, "")
    assert Invoice.objects.get(pk=theirs.pk).status == InvoiceStatus.OPEN  # theirs is still overdue


def test_an_honest_month_changes_nothing(stripe_api: RunningServer) -> None:
    """Every invoice paid on time: the credit goes exactly as it did before withholding existed."""
    ingest = sent_contract()
    march, april = paid_march_and_open_april(stripe_api, ingest)
    paid_on_stripe(stripe_api, april)
    assert april.due_at is not None
    later = april.due_at + dt.timedelta(days=3)

    reverse_all(ingest, 4, REVERSED_AT)
    note = credit_note_create(invoice_id=march.pk, now=later)
    beat_at(later)

    assert note is not None
    note.refresh_from_db()
    assert (note.status, note.method, note.withheld_reason, note.released_at) == (
        CreditNoteStatus.ISSUED,
        CreditNote.Method.CUSTOMER_BALANCE,
        "",
        None,
    )
    assert not CreditNote.objects.filter(status=CreditNoteStatus.WITHHELD).exists()
    assert not AuditEntry.objects.filter(action__startswith="credit_note.").exists()
    assert stripe_totals_by_customer(stripe_api) == verity_totals_by_customer()


# --- the boundary, on the service ---------------------------------------------------------------


def test_an_invoice_is_overdue_only_once_its_due_date_has_passed(ingest: Ingest) -> None:
    march = finalized_invoice(ingest, card=None)
    Invoice.objects.filter(pk=march.pk).update(status=InvoiceStatus.PAID)
    billable(ingest, 2, APRIL + dt.timedelta(days=3), prefix="U")
    april = close_and_finalize(ingest, APRIL, MAY)
    due = MAY + dt.timedelta(days=7)
    Invoice.objects.filter(pk=april.pk).update(status=InvoiceStatus.OPEN, due_at=due)
    march = Invoice.objects.select_related("contract").get(pk=march.pk)

    assert credit_withholding_reason(invoice=march, paid=True, now=due) == ""  # due, not yet overdue
    assert credit_withholding_reason(invoice=march, paid=True, now=due + dt.timedelta(microseconds=1)) == (
        f"withheld: customer has overdue invoice #{april.number}"
    )
    # A credit against an invoice still unpaid only lowers what it asks: never withheld.
    assert credit_withholding_reason(invoice=march, paid=False, now=due + dt.timedelta(days=1)) == ""


@pytest.mark.parametrize(
    ("april_status", "withheld"),
    [
        (InvoiceStatus.OPEN, True),
        (InvoiceStatus.PAYMENT_FAILED, True),
        (InvoiceStatus.PAID, False),
        (InvoiceStatus.VOID, False),
        (InvoiceStatus.UNCOLLECTIBLE, False),
    ],
)
def test_only_an_invoice_still_collected_is_overdue(
    ingest: Ingest, april_status: str, withheld: bool
) -> None:
    march = finalized_invoice(ingest, card=None)
    Invoice.objects.filter(pk=march.pk).update(status=InvoiceStatus.PAID)
    billable(ingest, 2, APRIL + dt.timedelta(days=3), prefix="U")
    april = close_and_finalize(ingest, APRIL, MAY)
    due = MAY + dt.timedelta(days=7)
    Invoice.objects.filter(pk=april.pk).update(status=april_status, due_at=due)
    reverse_all(ingest, 4, REVERSED_AT)

    note = credit_note_create(invoice_id=march.pk, now=due + dt.timedelta(days=1))

    assert note is not None
    assert note.status == (CreditNoteStatus.WITHHELD if withheld else CreditNoteStatus.PENDING)
    # Released only once nothing is overdue: here, when April is paid.
    assert credit_notes_release(now=due + dt.timedelta(days=2)) == []
    Invoice.objects.filter(pk=april.pk).update(status=InvoiceStatus.PAID)
    assert credit_notes_release(now=due + dt.timedelta(days=3)) == ([note.pk] if withheld else [])
    assert credit_notes_release(now=due + dt.timedelta(days=4)) == []  # once


def test_the_api_says_why_a_credit_waits(ingest: Ingest) -> None:
    march = finalized_invoice(ingest, card=None)
    Invoice.objects.filter(pk=march.pk).update(status=InvoiceStatus.PAID)
    billable(ingest, 2, APRIL + dt.timedelta(days=3), prefix="U")
    april = close_and_finalize(ingest, APRIL, MAY)
    due = MAY + dt.timedelta(days=7)
    Invoice.objects.filter(pk=april.pk).update(status=InvoiceStatus.OPEN, due_at=due)
    reverse_all(ingest, 4, REVERSED_AT)
    note = credit_note_create(invoice_id=march.pk, now=due + dt.timedelta(days=1))
    assert note is not None
    reason = f"withheld: customer has overdue invoice #{april.number}"

    [listed] = ingest.api.client.get(f"/api/v1/invoices/{march.pk}/credit-notes").json()["results"]

    assert (listed["status"], listed["withheld_reason"], listed["withheld_at"], listed["released_at"]) == (
        "withheld",
        reason,
        "2026-05-09T04:00:00Z",
        None,
    )

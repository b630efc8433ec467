"""The admin's Stripe side of a customer: linked on a page of its own only once Stripe confirms the customer,
checked again by an action, unlinked by another; the operator is the audit actor.

Invoices, their settlement steps and credit notes are view only; an operator retries the steps Stripe
refused or abandons a settlement with the invoice list's actions, through the settlement services,
audited as `admin:<username>`, with a message per invoice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import models
from django.test import Client

from contracts.models import AuditEntry, Customer
from devtools.stripe_server import RunningServer
from settlement.models import (
    CreditNote,
    CreditNoteStatus,
    Invoice,
    InvoiceStatus,
    SettlementStatus,
    SettlementStep,
)
from settlement.services import invoice_actions
from tests.factories import CustomerFactory
from tests.settlement.collection_scenes import blocked, credited, finalized, on_stripe
from tests.support.ingest import Ingest
from tests.support.settlement import APRIL, MARCH, billable
from tests.support.stripe import stripe_customer_made_outside

pytestmark = pytest.mark.django_db

OPERATOR = "ops@verity.test"


@pytest.fixture
def admin_client() -> Client:
    operator = get_user_model().objects.create_superuser(username=OPERATOR, email=OPERATOR, password="unused")
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def customer() -> Customer:
    return CustomerFactory.create()


def link_url(customer: Customer) -> str:
    return f"/admin/contracts/customer/{customer.pk}/stripe-link/"


def test_the_change_page_leads_to_the_link_page(admin_client: Client, customer: Customer) -> None:
    change = admin_client.get(f"/admin/contracts/customer/{customer.pk}/change/")

    assert change.status_code == 200
    assert link_url(customer) in change.content.decode()
    assert admin_client.get(link_url(customer)).status_code == 200


def test_a_stripe_customer_that_exists_is_linked_with_the_operator_as_actor(
    admin_client: Client, customer: Customer, stripe_api: RunningServer
) -> None:
    stripe_id = stripe_customer_made_outside(stripe_api, card="pm_card_visa")

    response = admin_client.post(link_url(customer), {"stripe_customer_id": stripe_id})

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.stripe_customer_id == stripe_id
    assert customer.can_be_charged_automatically
    assert AuditEntry.objects.get(action="customer.stripe_linked").actor == f"user:{OPERATOR}"


@pytest.mark.parametrize(
    ("fault", "shown"),
    [
        (False, "Stripe has no customer cus_nope."),
        (True, "Stripe cannot be reached right now; nothing was changed."),
    ],
)
def test_a_customer_stripe_does_not_know_or_stripe_down_is_shown_and_nothing_changes(
    admin_client: Client, customer: Customer, stripe_api: RunningServer, fault: bool, shown: str
) -> None:
    if fault:
        stripe_api.admin.add_faults(
            {"action": "500", "method": "GET", "path": r"^/v1/customers/", "count": 10}
        )

    response = admin_client.post(link_url(customer), {"stripe_customer_id": "cus_nope"})

    assert response.status_code == 200
    assert shown in response.content.decode()
    customer.refresh_from_db()
    assert customer.stripe_customer_id == ""
    assert not AuditEntry.objects.filter(action="customer.stripe_linked").exists()


def test_the_check_action_reads_the_card_again_and_reports_a_customer_stripe_lost(
    admin_client: Client, stripe_api: RunningServer
) -> None:
    with_card = CustomerFactory.create(
        stripe_customer_id=stripe_customer_made_outside(stripe_api, card="pm_card_visa")
    )
    lost = CustomerFactory.create(stripe_customer_id="cus_gone")

    response = admin_client.post(
        "/admin/contracts/customer/",
        {"action": "stripe_check", "_selected_action": [str(with_card.pk), str(lost.pk)]},
        follow=True,
    )

    content = response.content.decode()
    assert f"{with_card}: {with_card.stripe_customer_id}, card on file." in content
    assert f"{lost}: Stripe has no customer cus_gone." in content
    with_card.refresh_from_db()
    assert with_card.can_be_charged_automatically


def test_the_unlink_action(admin_client: Client, customer: Customer) -> None:
    Customer.objects.filter(pk=customer.pk).update(
        stripe_customer_id="cus_A", stripe_default_payment_method="pm_A"
    )

    admin_client.post(
        "/admin/contracts/customer/", {"action": "stripe_unlink", "_selected_action": [str(customer.pk)]}
    )

    customer.refresh_from_db()
    assert (customer.stripe_customer_id, customer.stripe_default_payment_method) == ("", "")
    assert AuditEntry.objects.get(action="customer.stripe_unlinked").actor == f"user:{OPERATOR}"


# --- invoices and their settlement ----------------------------------------------------------

ACTOR = f"admin:{OPERATOR}"
INVOICES = "/admin/settlement/invoice/"


@dataclass
class Estate:
    """Two finalized invoices Stripe refused, one whose settlement is done, and a credit note."""

    stuck: Invoice
    also_stuck: Invoice
    done: Invoice
    note: CreditNote


@pytest.fixture
def estate(ingest: Ingest) -> Estate:
    billable(ingest, 5, MARCH + dt.timedelta(days=2))
    stuck = finalized(ingest, MARCH, APRIL)
    note = credited(ingest, stuck, ["T-4"], APRIL + dt.timedelta(days=1))
    blocked(stuck, APRIL + dt.timedelta(days=2))
    also_stuck = finalized(ingest, APRIL, APRIL + dt.timedelta(days=30))
    blocked(also_stuck, APRIL + dt.timedelta(days=31))
    done = on_stripe(finalized(ingest, APRIL + dt.timedelta(days=30), APRIL + dt.timedelta(days=61)))
    return Estate(stuck=stuck, also_stuck=also_stuck, done=done, note=note)


@pytest.fixture
def pushed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The invoices whose settlement a retry resumed after its commit (the task would call Stripe)."""
    calls: list[int] = []
    monkeypatch.setattr(invoice_actions.push_invoice, "delay", calls.append)
    return calls


def act(client: Client, action: str, invoices: list[Invoice], **extra: str) -> list[tuple[str, str]]:
    """Run an action on the invoice list; the messages it left, as (level, text)."""
    response = client.post(
        INVOICES, {"action": action, "_selected_action": [str(i.pk) for i in invoices], **extra}, follow=True
    )
    assert response.redirect_chain == [(INVOICES, 302)], response.content[:500]
    return [(message.level_tag, message.message) for message in response.context["messages"]]


def states(*invoices: Invoice) -> list[tuple[str, str]]:
    return [
        (invoice.status, invoice.settlement_status)
        for invoice in Invoice.objects.filter(pk__in=[i.pk for i in invoices]).order_by("id")
    ]


VIEW_ONLY: dict[type[models.Model], Callable[[Estate], models.Model]] = {
    Invoice: lambda e: e.stuck,
    SettlementStep: lambda e: e.stuck.settlement_steps.get(),
    CreditNote: lambda e: e.note,
}


@pytest.mark.parametrize("model", VIEW_ONLY, ids=lambda m: m.__name__)
def test_every_page_opens_and_nothing_can_be_added_changed_or_deleted(
    admin_client: Client, estate: Estate, model: type[models.Model]
) -> None:
    base = f"/admin/settlement/{model._meta.model_name}/"
    obj = VIEW_ONLY[model](estate)

    changelist = admin_client.get(base)
    assert changelist.status_code == 200
    assert changelist.context["cl"].result_count >= 1
    assert admin_client.get(base, {"q": "a"}).status_code == 200
    page = admin_client.get(f"{base}{obj.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content  # view only
    assert admin_client.get(f"{base}add/").status_code == 403
    assert admin_client.post(f"{base}{obj.pk}/change/", {}).status_code == 403
    assert admin_client.post(f"{base}{obj.pk}/delete/", {"post": "yes"}).status_code == 403
    assert model._default_manager.filter(pk=obj.pk).exists()


def test_the_invoice_list_filters_on_status_and_settlement_status(
    admin_client: Client, estate: Estate
) -> None:
    blocked_ones = admin_client.get(INVOICES, {"settlement_status__exact": "blocked"}).context["cl"]
    open_ones = admin_client.get(INVOICES, {"status__exact": "open"}).context["cl"]

    assert {i.pk for i in blocked_ones.result_list} == {estate.stuck.pk, estate.also_stuck.pk}
    assert {i.pk for i in open_ones.result_list} == {estate.done.pk}


def test_retry_runs_the_failed_steps_again_and_resumes_each_settlement(
    admin_client: Client,
    estate: Estate,
    pushed: list[int],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        said = act(admin_client, "retry_failed_steps", [estate.stuck, estate.also_stuck, estate.done])

    assert said == [
        ("success", f"Invoice {estate.stuck.pk}: step invoice will run again."),
        ("success", f"Invoice {estate.also_stuck.pk}: step invoice will run again."),
        ("warning", f"Invoice {estate.done.pk}: no failed step."),
    ]
    assert states(estate.stuck, estate.also_stuck, estate.done) == [
        (InvoiceStatus.FINALIZED, SettlementStatus.PENDING),
        (InvoiceStatus.FINALIZED, SettlementStatus.PENDING),
        (InvoiceStatus.OPEN, SettlementStatus.DONE),
    ]
    step = estate.stuck.settlement_steps.get()
    assert (step.status, step.key_version) == (SettlementStep.Status.STARTED, 2)
    assert sorted(pushed) == sorted([estate.stuck.pk, estate.also_stuck.pk])
    entries = AuditEntry.objects.filter(action="invoice.settlement_step_retried").order_by("object_id")
    assert [(e.object_id, e.actor) for e in entries] == sorted(
        [(str(estate.stuck.pk), ACTOR), (str(estate.also_stuck.pk), ACTOR)]
    )


def test_abandon_needs_a_reason_and_then_stops_each_open_settlement(
    admin_client: Client, estate: Estate
) -> None:
    refused = act(admin_client, "abandon_settlement", [estate.stuck], reason="  ")

    assert refused == [("error", "Nothing abandoned: give a reason (it goes to the audit log).")]
    assert states(estate.stuck) == [(InvoiceStatus.FINALIZED, SettlementStatus.BLOCKED)]
    assert not AuditEntry.objects.filter(action="invoice.settlement_abandoned").exists()

    said = act(
        admin_client, "abandon_settlement", [estate.stuck, estate.done], reason="Settled by bank transfer."
    )

    assert said == [
        ("success", f"Invoice {estate.stuck.pk}: settlement abandoned."),
        (
            "error",
            f"Invoice {estate.done.pk}: Invoice {estate.done.pk}'s settlement is done: nothing to abandon.",
        ),
    ]
    assert states(estate.stuck, estate.also_stuck, estate.done) == [
        (InvoiceStatus.FINALIZED, SettlementStatus.ABANDONED),
        (InvoiceStatus.FINALIZED, SettlementStatus.BLOCKED),  # not selected
        (InvoiceStatus.OPEN, SettlementStatus.DONE),
    ]
    estate.note.refresh_from_db()
    assert estate.note.status == CreditNoteStatus.NOT_REQUIRED
    entry = AuditEntry.objects.get(action="invoice.settlement_abandoned")
    assert (entry.object_id, entry.actor, entry.details) == (
        str(estate.stuck.pk),
        ACTOR,
        {"reason": "Settled by bank transfer.", "was": "blocked"},
    )


def test_a_staff_member_without_the_change_permission_has_no_action(estate: Estate) -> None:
    viewer = get_user_model().objects.create_user(username="looker", password="unused", is_staff=True)
    viewer.user_permissions.add(
        *Permission.objects.filter(codename="view_invoice", content_type__app_label="settlement")
    )
    client = Client()
    client.force_login(viewer)

    page = client.get(INVOICES)
    response = client.post(
        INVOICES, {"action": "abandon_settlement", "_selected_action": [str(estate.stuck.pk)], "reason": "x"}
    )

    assert page.status_code == 200
    assert b"retry_failed_steps" not in page.content
    assert response.status_code in (200, 302)
    assert states(estate.stuck) == [(InvoiceStatus.FINALIZED, SettlementStatus.BLOCKED)]
    assert not AuditEntry.objects.filter(action__startswith="invoice.settlement").exists()

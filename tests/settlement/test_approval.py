"""A draft above the contract's approval threshold waits for the customer's approval of its total."""

from __future__ import annotations

import datetime as dt
from typing import Any

import fastjsonschema
import pytest
import time_machine
from django.core import mail
from rest_framework.test import APIClient

from contracts.models import AuditEntry, Role
from core.errors import ValidationFailed
from notifications.dispatch import events_fan_out
from notifications.models import Event
from settlement.domain_events import EVENT_TYPES
from settlement.invoicing.close import period_close
from settlement.invoicing.finalize import invoice_finalize
from settlement.models import ApprovalStatus, Invoice, InvoiceStatus
from settlement.selectors.due import invoices_due_for_finalize
from tests.factories import outcome_type_terms, version_terms
from tests.support.ingest import Ingest, make_ingest
from tests.support.portal import make_member
from tests.support.settlement import APRIL, FAST, GRADUATED, MARCH, billable

pytestmark = pytest.mark.django_db

AFTER_GRACE = APRIL + dt.timedelta(days=4)  # the default grace period is 72 hours


def approving(threshold: int | None) -> Ingest:
    terms = version_terms(
        platform_fee_minor=10_000,
        minimum_commitment_minor=0,
        outcome_types=[outcome_type_terms(pricing=GRADUATED, free_units=1, verification_policy=FAST)],
    )
    return make_ingest(terms=terms, approval_threshold_minor=threshold)


def customer_client(ingest: Ingest) -> APIClient:
    response = ingest.api.client.post(
        f"/api/v1/customers/{ingest.contract.customer_id}/api-keys", {"name": "AP"}, format="json"
    )
    assert response.status_code == 201, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['key']}")
    return client


def closed(ingest: Ingest, outcomes: int = 3) -> Invoice:
    billable(ingest, outcomes, MARCH + dt.timedelta(days=2))
    return period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL + dt.timedelta(hours=1))


def test_a_draft_above_the_threshold_waits_and_is_not_rebuilt_in_a_loop() -> None:
    ingest = approving(threshold=10_000)
    invoice = closed(ingest)
    assert invoice.total_minor > 10_000
    assert invoice.approval_status == ApprovalStatus.PENDING

    assert invoices_due_for_finalize(now=AFTER_GRACE) == []  # the beat job leaves it alone
    invoice = invoice_finalize(invoice_id=invoice.pk, now=AFTER_GRACE)  # asked directly, it still waits
    assert (invoice.status, invoice.number) == (InvoiceStatus.DRAFT, None)


def test_the_customer_approves_and_a_draft_past_its_grace_period_is_finalized_at_once() -> None:
    ingest = approving(threshold=10_000)
    invoice = closed(ingest)
    customer = customer_client(ingest)

    listed = customer.get("/api/v1/customer/invoices", {"status": "draft"})
    assert [row["approval_status"] for row in listed.json()["results"]] == ["pending"]

    with time_machine.travel(AFTER_GRACE, tick=False):
        response = customer.post(f"/api/v1/customer/invoices/{invoice.pk}/approve")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["approval_status"]) == ("finalized", "approved")
    assert body["approved_total_minor"] == invoice.total_minor
    assert body["number"] == 1
    entry = AuditEntry.objects.get(action="invoice.approved")
    assert entry.object_id == str(invoice.pk)
    assert entry.actor.startswith("api_key:")

    again = customer.post(f"/api/v1/customer/invoices/{invoice.pk}/approve")
    assert again.status_code == 409
    assert again.json()["code"] == "invoice_not_draft"


def test_an_approval_is_for_one_total_a_changed_draft_asks_again() -> None:
    ingest = approving(threshold=10_000)
    invoice = closed(ingest)
    customer = customer_client(ingest)
    with time_machine.travel(APRIL + dt.timedelta(hours=2), tick=False):  # within the grace period
        response = customer.post(f"/api/v1/customer/invoices/{invoice.pk}/approve")
    assert response.json()["status"] == "draft"
    assert response.json()["approval_status"] == "approved"

    billable(ingest, 2, MARCH + dt.timedelta(days=20), prefix="late")  # late outcomes land in the draft
    invoice = period_close(
        contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL + dt.timedelta(hours=3)
    )
    assert invoice.approval_status == ApprovalStatus.PENDING
    assert invoice_finalize(invoice_id=invoice.pk, now=AFTER_GRACE).status == InvoiceStatus.DRAFT

    with time_machine.travel(AFTER_GRACE, tick=False):
        assert (
            customer.post(f"/api/v1/customer/invoices/{invoice.pk}/approve").json()["status"] == "finalized"
        )


def test_a_draft_within_the_threshold_needs_no_approval() -> None:
    ingest = approving(threshold=1_000_000)
    invoice = closed(ingest)
    assert invoice.approval_status == ApprovalStatus.NOT_REQUIRED
    assert invoices_due_for_finalize(now=AFTER_GRACE) == [invoice.pk]

    response = customer_client(ingest).post(f"/api/v1/customer/invoices/{invoice.pk}/approve")
    assert response.status_code == 409
    assert response.json()["code"] == "approval_not_requested"
    assert invoice_finalize(invoice_id=invoice.pk, now=AFTER_GRACE).status == InvoiceStatus.FINALIZED


def test_only_the_invoices_customer_may_approve() -> None:
    ingest = approving(threshold=0)
    invoice = closed(ingest)
    stranger = approving(threshold=0)

    assert (
        customer_client(stranger).post(f"/api/v1/customer/invoices/{invoice.pk}/approve").status_code == 404
    )
    assert customer_client(stranger).get("/api/v1/customer/invoices").json()["results"] == []
    assert ingest.api.client.post(f"/api/v1/customer/invoices/{invoice.pk}/approve").status_code == 403
    invoice.refresh_from_db()
    assert invoice.approval_status == ApprovalStatus.PENDING


def test_the_threshold_is_validated_and_shown_on_the_contract() -> None:
    ingest = approving(threshold=25_000)
    shown = ingest.api.client.get(f"/api/v1/contracts/{ingest.contract.pk}").json()
    assert shown["approval_threshold_minor"] == 25_000

    with pytest.raises(ValidationFailed) as refused:
        approving(threshold=-1)
    assert list(refused.value.field_errors) == ["approval_threshold_minor"]


def test_the_customer_contests_by_its_key_and_the_vendor_is_told_and_reads_why(
    django_capture_on_commit_callbacks: Any,
) -> None:
    ingest = approving(threshold=10_000)
    invoice = closed(ingest)
    owner = make_member(role=Role.OWNER, vendor=ingest.contract.vendor)
    make_member(role=Role.VIEWER, vendor=ingest.contract.vendor)  # not a billing contact
    customer = customer_client(ingest)
    at = APRIL + dt.timedelta(hours=2)

    with time_machine.travel(at, tick=False):
        response = customer.post(
            f"/api/v1/customer/invoices/{invoice.pk}/contest",
            {"reason": "  T-3 was reopened.  "},
            format="json",
        )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["approval_status"]) == ("draft", "pending")  # it keeps waiting
    assert body["contest_reason"] == "T-3 was reopened."
    assert body["contested_by"].startswith("api_key:")
    assert body["contested_at"] == "2026-04-01T06:00:00Z"
    # The vendor reads it in its API, on its invoice page and in its audit log.
    vendor_view = ingest.api.client.get(f"/api/v1/invoices/{invoice.pk}").json()
    assert {key: vendor_view[key] for key in ("contest_reason", "contested_by", "contested_at")} == {
        key: body[key] for key in ("contest_reason", "contested_by", "contested_at")
    }
    entry = AuditEntry.objects.get(action="invoice.contested")
    assert (entry.actor, entry.details["reason"]) == (body["contested_by"], "T-3 was reopened.")
    # The vendor is told: an `invoice.contested` event for its endpoints, and an email to its billing
    # contacts once the dispatcher fans the event out.
    [event] = Event.objects.filter(type="invoice.contested")
    assert (event.object_id, event.customer_id, event.contract_id) == (
        str(invoice.pk),
        ingest.contract.customer_id,
        ingest.contract.pk,
    )
    assert {key: event.data[key] for key in ("reason", "contested_by", "status", "total_minor")} == {
        "reason": "T-3 was reopened.",
        "contested_by": body["contested_by"],
        "status": "draft",
        "total_minor": invoice.total_minor,
    }
    assert event.data["contested_at"] == "2026-04-01T06:00:00+00:00"
    contested_schema = next(t for t in EVENT_TYPES if t.name == "invoice.contested").data_schema
    fastjsonschema.compile(contested_schema)(event.data)  # what is recorded is what the catalogue says
    with django_capture_on_commit_callbacks(execute=True):
        events_fan_out(now=at)
    [email] = [m for m in mail.outbox if "contests" in m.subject]
    assert email.to == [owner.user.email]
    assert "T-3 was reopened." in email.body
    assert f"/invoices/{invoice.pk}/" in email.body


def test_a_contest_without_a_reason_or_of_a_draft_not_waiting_is_refused_and_changes_nothing() -> None:
    ingest = approving(threshold=10_000)
    invoice = closed(ingest)
    customer = customer_client(ingest)
    url = f"/api/v1/customer/invoices/{invoice.pk}/contest"

    for body, code in (({"reason": "   "}, "required"), ({"reason": "x" * 2001}, "too_long")):
        refused = customer.post(url, body, format="json")
        assert refused.status_code == 400
        assert refused.json()["field_errors"]["reason"][0]["code"] == code
    missing = customer.post(url, {}, format="json")
    assert (missing.status_code, list(missing.json()["field_errors"])) == (400, ["reason"])

    relaxed = approving(threshold=1_000_000)
    not_waiting = closed(relaxed)
    answer = customer_client(relaxed).post(
        f"/api/v1/customer/invoices/{not_waiting.pk}/contest", {"reason": "No."}, format="json"
    )
    assert (answer.status_code, answer.json()["code"]) == (409, "approval_not_requested")
    assert not Invoice.objects.exclude(contested_at=None).exists()
    assert not AuditEntry.objects.filter(action="invoice.contested").exists()
    assert not Event.objects.filter(type="invoice.contested").exists()


def test_only_the_invoices_customer_may_contest() -> None:
    ingest = approving(threshold=0)
    invoice = closed(ingest)
    stranger = approving(threshold=0)
    url = f"/api/v1/customer/invoices/{invoice.pk}/contest"

    assert customer_client(stranger).post(url, {"reason": "Not ours."}, format="json").status_code == 404
    assert ingest.api.client.post(url, {"reason": "Not ours."}, format="json").status_code == 403
    invoice.refresh_from_db()
    assert (invoice.contested_at, invoice.contest_reason) == (None, "")
    assert not Event.objects.filter(type="invoice.contested").exists()

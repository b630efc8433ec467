"""The customer portal's invoices: the customer's own invoices only, drafts waiting for approval first;
an invoice's lines down to their outcomes, paged by key; approving or contesting a draft (approvers and
admins, through the customer API's service); the printable view and CSV; share links for an auditor."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.test import Client

from contracts.models import AuditEntry, CustomerRole, Role
from customer_portal import invoices as invoice_pages
from notifications.models import Event
from settlement.invoicing.close import period_close
from settlement.models import ApprovalStatus, Invoice, InvoiceShareLink, InvoiceStatus, LineOutcome
from tests.factories import outcome_type_terms, version_terms
from tests.support.estate import db_fingerprint
from tests.support.ingest import Ingest, make_ingest
from tests.support.portal import make_customer_member, make_member, signed_in
from tests.support.settlement import (
    APRIL,
    FAST,
    GRADUATED,
    MARCH,
    billable,
    close_and_finalize,
    graduated_terms,
)

pytestmark = pytest.mark.django_db

BEFORE_DEADLINE = APRIL + dt.timedelta(hours=2)
AFTER_DEADLINE = APRIL + dt.timedelta(days=4)  # the default grace period is 72 hours


def approving_draft(outcomes: int = 3) -> tuple[Ingest, Invoice]:
    """March's draft, above its contract's approval threshold: it waits for the customer's approval."""
    terms = version_terms(
        platform_fee_minor=10_000,
        minimum_commitment_minor=0,
        outcome_types=[outcome_type_terms(pricing=GRADUATED, free_units=1, verification_policy=FAST)],
    )
    ingest = make_ingest(terms=terms, approval_threshold_minor=10_000)
    billable(ingest, outcomes, MARCH + dt.timedelta(days=2))
    invoice = period_close(
        contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL + dt.timedelta(hours=1)
    )
    assert invoice.approval_status == ApprovalStatus.PENDING
    return ingest, invoice


def finalized(outcomes: int = 3) -> tuple[Ingest, Invoice]:
    ingest = make_ingest(terms=graduated_terms())
    billable(ingest, outcomes, MARCH + dt.timedelta(days=2))
    return ingest, close_and_finalize(ingest, MARCH, APRIL)


def member(ingest: Ingest, role: str = CustomerRole.APPROVER) -> Client:
    return signed_in(make_customer_member(customer=ingest.contract.customer, role=role))


def test_the_list_shows_the_customers_invoices_drafts_waiting_first_and_another_customers_is_404() -> None:
    ours, draft = approving_draft()
    final = close_and_finalize(ours, APRIL, APRIL + dt.timedelta(days=30))
    _, theirs = finalized()
    client = member(ours, CustomerRole.VIEWER)

    page = client.get("/customer/invoices/").content.decode()
    awaiting, rest = page.split('id="all-title"')
    assert f"/customer/invoices/{draft.pk}/" in awaiting
    assert draft.finalize_after.strftime("%Y-%m-%d %H:%M") in awaiting
    assert f"/customer/invoices/{final.pk}/" in rest
    assert f"/customer/invoices/{theirs.pk}/" not in page
    for suffix in ("", "print/", "lines.csv"):
        assert client.get(f"/customer/invoices/{theirs.pk}/{suffix}").status_code == 404
    detail = client.get(f"/customer/invoices/{draft.pk}/").content.decode()
    assert 'id="approve-form"' not in detail  # a viewer only looks
    assert "An approver or admin of your team approves or contests it." in detail


def test_a_line_drills_down_to_its_outcomes_a_page_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(invoice_pages, "OUTCOMES_PER_PAGE", 1)
    ingest, invoice = finalized(outcomes=5)
    line = max(invoice.lines.filter(kind="usage"), key=lambda line: line.outcome_links.count())
    ids = sorted(LineOutcome.objects.filter(line=line).values_list("outcome_id", flat=True), reverse=True)
    assert len(ids) >= 2
    client = member(ingest, CustomerRole.VIEWER)

    first = client.get(f"/customer/invoices/{invoice.pk}/", {"line": line.position})
    assert [link.outcome_id for link in first.context["page"].items] == ids[:1]
    assert f'href="/customer/outcomes/{ids[0]}/"' in first.content.decode()
    second = client.get(f"/customer/invoices/{invoice.pk}/?{first.context['page'].next_query}")
    assert second.context["line"] == line  # the line is kept across pages
    assert [link.outcome_id for link in second.context["page"].items] == ids[1:2]
    assert second.context["page"].has_next == (len(ids) > 2)
    trail = client.get(f"/customer/outcomes/{ids[0]}/").content.decode()
    assert f'href="/customer/invoices/{invoice.pk}/"' in trail


def test_an_approver_approves_a_draft_before_its_deadline_and_it_waits_for_the_end_of_grace() -> None:
    ingest, invoice = approving_draft()
    client = member(ingest)
    with time_machine.travel(BEFORE_DEADLINE, tick=False):
        response = client.post(f"/customer/invoices/{invoice.pk}/approve/", follow=True)
    assert "finalized at the end of its grace period" in response.content.decode()
    invoice.refresh_from_db()
    assert (invoice.status, invoice.approval_status, invoice.approved_total_minor) == (
        InvoiceStatus.DRAFT,
        ApprovalStatus.APPROVED,
        invoice.total_minor,
    )
    assert invoice.approved_by.startswith("customer_user:")
    assert AuditEntry.objects.filter(action="invoice.approved", object_id=str(invoice.pk)).count() == 1


def test_approving_after_the_deadline_finalizes_at_once() -> None:
    ingest, invoice = approving_draft()
    with time_machine.travel(AFTER_DEADLINE, tick=False):
        response = member(ingest, CustomerRole.ADMIN).post(f"/customer/invoices/{invoice.pk}/approve/")
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.FINALIZED
    assert invoice.number is not None


def test_a_viewer_can_neither_approve_nor_contest_and_nothing_changes() -> None:
    ingest, invoice = approving_draft()
    viewer = member(ingest, CustomerRole.VIEWER)
    before = db_fingerprint()
    assert viewer.post(f"/customer/invoices/{invoice.pk}/approve/").status_code == 403
    assert viewer.post(f"/customer/invoices/{invoice.pk}/contest/", {"reason": "Too high"}).status_code == 403
    assert (
        viewer.post(f"/customer/invoices/{invoice.pk}/share-links/", {"expires_in_days": 3}).status_code
        == 403
    )
    assert db_fingerprint() == before


def test_an_approver_contests_a_draft_with_a_reason_before_or_after_its_deadline() -> None:
    ingest, invoice = approving_draft()
    client = member(ingest)
    before = db_fingerprint()
    refused = client.post(f"/customer/invoices/{invoice.pk}/contest/", {"reason": "  "})
    assert refused.status_code == 400
    assert "This field is required." in refused.content.decode()
    assert db_fingerprint() == before

    for at, reason in (
        (BEFORE_DEADLINE, "Line 1 counts tickets we reopened."),
        (AFTER_DEADLINE, "Still wrong."),
    ):
        with time_machine.travel(at, tick=False):
            response = client.post(f"/customer/invoices/{invoice.pk}/contest/", {"reason": reason})
        assert response.status_code == 302
        invoice.refresh_from_db()
        assert (invoice.contest_reason, invoice.contested_at) == (reason, at)
        # Contesting never finalizes: the draft still waits for an approval.
        assert (invoice.status, invoice.approval_status) == (InvoiceStatus.DRAFT, ApprovalStatus.PENDING)
    assert AuditEntry.objects.filter(action="invoice.contested", object_id=str(invoice.pk)).count() == 2
    # The vendor is told each time, as through the customer API (the service publishes it).
    told = Event.objects.filter(type="invoice.contested", object_id=str(invoice.pk)).order_by("pk")
    assert [event.data["reason"] for event in told] == ["Line 1 counts tickets we reopened.", "Still wrong."]
    assert "Still wrong." in client.get(f"/customer/invoices/{invoice.pk}/").content.decode()
    vendor = signed_in(make_member(role=Role.VIEWER, vendor=ingest.contract.vendor))
    assert "Still wrong." in vendor.get(f"/invoices/{invoice.pk}/").content.decode()  # the vendor reads why


def test_a_final_invoice_can_be_neither_approved_nor_contested_and_the_form_says_why() -> None:
    ingest, invoice = finalized()
    client = member(ingest)
    before = db_fingerprint()
    contest = client.post(f"/customer/invoices/{invoice.pk}/contest/", {"reason": "Too high"}, follow=True)
    assert "Not contested: This invoice is already final." in contest.content.decode()
    approve = client.post(f"/customer/invoices/{invoice.pk}/approve/", follow=True)
    assert "Not approved: This invoice is already final." in approve.content.decode()
    assert db_fingerprint() == before


def test_the_csv_lists_every_line_with_its_outcome_ids_and_the_print_view_has_no_navigation() -> None:
    ingest, invoice = finalized(outcomes=3)
    client = member(ingest, CustomerRole.VIEWER)
    response = client.get(f"/customer/invoices/{invoice.pk}/lines.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))  # type: ignore[attr-defined]
    billed = {
        (link.line.position, link.outcome_id) for link in LineOutcome.objects.filter(line__invoice=invoice)
    }
    assert len(billed) == 3
    assert {
        (int(row["line_position"]), int(row["outcome_id"])) for row in rows if row["outcome_id"]
    } == billed
    assert {row["invoice_number"] for row in rows} == {str(invoice.number)}

    printed = client.get(f"/customer/invoices/{invoice.pk}/print/")
    assert printed.status_code == 200
    html = printed.content.decode()
    assert f"#{invoice.number}" in html or str(invoice.number) in html
    assert "/customer/outcomes/" not in html  # no portal navigation
    assert "<script" not in html


def test_an_approver_makes_a_share_link_shown_once_and_revokes_it() -> None:
    ingest, invoice = finalized()
    client = member(ingest)
    response = client.post(
        f"/customer/invoices/{invoice.pk}/share-links/", {"label": "Our auditor", "expires_in_days": 7}
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    link = InvoiceShareLink.objects.get(invoice=invoice)
    assert (link.label, link.created_by.startswith("customer_user:")) == ("Our auditor", True)
    assert f"/shared/invoices/vsl_{link.prefix}_" in response.content.decode()
    assert f"/customer/invoices/{invoice.pk}/#share-links" in response.content.decode()

    page = client.get(f"/customer/invoices/{invoice.pk}/").content.decode()
    assert f"vsl_{link.prefix}_…" in page
    assert client.post(f"/customer/invoices/{invoice.pk}/share-links/{link.pk}/revoke/").status_code == 302
    link.refresh_from_db()
    assert link.revoked_at is not None
    assert link.revoked_by.startswith("customer_user:")


def test_a_draft_cannot_be_shared() -> None:
    ingest, invoice = approving_draft()
    response = member(ingest).post(
        f"/customer/invoices/{invoice.pk}/share-links/", {"expires_in_days": 7}, follow=True
    )
    assert "A draft invoice cannot be shared" in response.content.decode()
    assert not InvoiceShareLink.objects.exists()

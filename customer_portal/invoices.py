"""The customer portal's invoices: the chosen customer's invoices (drafts waiting for their approval
first), an invoice's page (lines down to the outcomes each bills, a page at a time; credit notes and
what they reverse; payment status and Stripe's hosted page), its printable view and CSV, approving or
contesting a draft, and share links for an auditor.

Reads go through the selectors scoped to `request.customer`; changes through the services the
customer API calls (settlement.services.approval, settlement.services.share_links). The printable
view and the CSV are the vendor's and the shared page's own (settlement.printing, shared_csv_rows)."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django import forms
from django.contrib import messages
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.errors import DomainError, ValidationFailed
from core.portal import add_domain_errors, keyset_page
from customer_portal.portal import CustomerPortalRequest, customer_portal_actor, customer_portal_view
from settlement.forms import ShareLinkForm
from settlement.models import ApprovalStatus, Invoice, InvoiceStatus
from settlement.printing import csp_nonce, invoice_print_html
from settlement.selectors.invoices import (
    credit_notes_with_first_outcomes,
    invoice_get,
    invoice_get_for_customer,
    invoice_lines_shown,
    invoice_list_for_customer,
    line_outcomes,
)
from settlement.selectors.share_links import (
    share_link_get,
    share_link_list,
    shared_csv_rows,
)
from settlement.services.approval import CONTEST_REASON_MAX, invoice_approve, invoice_contest
from settlement.services.share_links import share_link_revoke
from settlement.shared_views import CREDIT_NOTE_OUTCOMES_SHOWN, CsvEcho
from settlement.views import share_link_create_page

OUTCOMES_PER_PAGE = 100


class InvoiceContestForm(forms.Form):
    reason = forms.CharField(
        label="Why you contest it",
        max_length=CONTEST_REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The vendor reads it on the invoice; the draft waits for your approval meanwhile.",
    )


@customer_portal_view
def invoice_list_page(request: CustomerPortalRequest) -> HttpResponse:
    """Drafts waiting for the customer's approval first (soonest deadline first), then the rest."""
    invoices = invoice_list_for_customer(customer=request.customer).select_related("contract")
    awaiting = list(
        invoices.filter(status=InvoiceStatus.DRAFT, approval_status=ApprovalStatus.PENDING).order_by(
            "finalize_after", "pk"
        )
    )
    others = invoices.exclude(pk__in=[invoice.pk for invoice in awaiting])
    return render(
        request,
        "customer_portal/invoices/list.html",
        {"section": "invoices", "awaiting": awaiting, "page": keyset_page(request, others, per_page=50)},
    )


@customer_portal_view
def invoice_detail_page(request: CustomerPortalRequest, invoice_id: str) -> HttpResponse:
    invoice = invoice_get_for_customer(customer=request.customer, invoice_id=invoice_id)
    return _invoice_page(request, invoice)


def _invoice_page(
    request: CustomerPortalRequest, invoice: Invoice, contest_form: InvoiceContestForm | None = None
) -> HttpResponse:
    """The invoice, and the outcomes of one line (`?line=`, by default the first that bills outcomes),
    a page at a time by key; with a contest form that was refused, its errors (400)."""
    lines, with_outcomes, line = invoice_lines_shown(invoice=invoice, wanted=request.GET.get("line", ""))
    now = timezone.now()
    awaiting = invoice.is_draft and invoice.approval_status == ApprovalStatus.PENDING
    return render(
        request,
        "customer_portal/invoices/detail.html",
        {
            "section": "invoices",
            "invoice": invoice,
            "lines": lines,
            "outcome_lines": with_outcomes,
            "line": line,
            "page": (
                keyset_page(
                    request,
                    line_outcomes(invoice=invoice, position=line.position),
                    per_page=OUTCOMES_PER_PAGE,
                    key="outcome_id",
                )
                if line is not None
                else None
            ),
            "credit_notes": credit_notes_with_first_outcomes(
                invoice=invoice, first=CREDIT_NOTE_OUTCOMES_SHOWN
            ),
            "awaiting_approval": awaiting,
            "contest_form": contest_form or InvoiceContestForm(),
            "share_links": [] if invoice.is_draft else list(share_link_list(invoice=invoice)),
            "share_form": ShareLinkForm(),
            "now": now,
        },
        status=400 if contest_form is not None else 200,
    )


@customer_portal_view
def invoice_print_page(request: CustomerPortalRequest, invoice_id: str) -> HttpResponse:
    """The vendor's printable invoice (settlement.printing), standalone: no navigation, no script."""
    invoice = invoice_get_for_customer(customer=request.customer, invoice_id=invoice_id)
    return HttpResponse(
        invoice_print_html(
            invoice=invoice_get(vendor=invoice.vendor, invoice_id=invoice.pk), style_nonce=csp_nonce(request)
        ),
        content_type="text/html; charset=utf-8",
    )


@customer_portal_view
def invoice_csv_page(request: CustomerPortalRequest, invoice_id: str) -> HttpResponse:
    """The lines with the outcome ids each bills, one row per outcome, streamed: the shared page's CSV."""
    invoice = invoice_get_for_customer(customer=request.customer, invoice_id=invoice_id)
    writer = csv.writer(CsvEcho())
    rows: Iterator[str] = (writer.writerow(row) for row in shared_csv_rows(invoice=invoice))
    return StreamingHttpResponse(  # type: ignore[return-value]  # a page may stream: Django serves both
        rows,
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="invoice-{invoice.number or invoice.pk}-lines.csv"'
        },
    )


def _detail_url(invoice: Invoice, anchor: str = "") -> str:
    return reverse("customer:invoice-detail", args=[invoice.pk]) + (f"#{anchor}" if anchor else "")


@require_POST
@customer_portal_view(write=True)
def invoice_approve_page(request: CustomerPortalRequest, invoice_id: str) -> HttpResponse:
    """Approve the draft's current total (approvers and admins), through the customer API's service."""
    invoice = invoice_get_for_customer(customer=request.customer, invoice_id=invoice_id)
    try:
        invoice = invoice_approve(
            customer=request.customer, invoice_id=invoice.pk, actor=customer_portal_actor(request)
        )
    except DomainError as exc:
        messages.error(request, f"Not approved: {exc.message}")
    else:
        messages.success(
            request,
            "Approved: the invoice is finalized."
            if not invoice.is_draft
            else "Approved: the invoice is finalized at the end of its grace period.",
        )
    return redirect(_detail_url(invoice))


@require_POST
@customer_portal_view(write=True)
def invoice_contest_page(request: CustomerPortalRequest, invoice_id: str) -> HttpResponse:
    """Contest the draft with a reason (approvers and admins); a refused reason is shown on the form."""
    invoice = invoice_get_for_customer(customer=request.customer, invoice_id=invoice_id)
    form = InvoiceContestForm(request.POST)
    if form.is_valid():
        try:
            invoice_contest(
                customer=request.customer,
                invoice_id=invoice.pk,
                actor=customer_portal_actor(request),
                reason=form.cleaned_data["reason"],
            )
        except ValidationFailed as exc:
            add_domain_errors(form, exc)
        except DomainError as exc:  # no longer a draft waiting for approval: no form to show it on
            messages.error(request, f"Not contested: {exc.message}")
            return redirect(_detail_url(invoice))
        else:
            messages.success(
                request, "Contested: the vendor sees your reason; the draft waits for your approval."
            )
            return redirect(_detail_url(invoice))
    return _invoice_page(request, invoice, contest_form=form)


@require_POST
@customer_portal_view(write=True)
def invoice_share_link_create_page(request: CustomerPortalRequest, invoice_id: str) -> HttpResponse:
    """Make a share link for an auditor (approvers and admins) and show it once (never by a redirect)."""
    invoice = invoice_get_for_customer(customer=request.customer, invoice_id=invoice_id)
    back = _detail_url(invoice, "share-links")
    return share_link_create_page(request, invoice, actor=customer_portal_actor(request), back=back)


@require_POST
@customer_portal_view(write=True)
def invoice_share_link_revoke_page(
    request: CustomerPortalRequest, invoice_id: str, link_id: str
) -> HttpResponse:
    """Revoke one of the invoice's share links at once (approvers and admins)."""
    invoice = invoice_get_for_customer(customer=request.customer, invoice_id=invoice_id)
    link = share_link_get(invoice=invoice, link_id=link_id)
    share_link_revoke(link=link, actor=customer_portal_actor(request))
    messages.success(request, "Share link revoked: it no longer opens.")
    return redirect(_detail_url(invoice, "share-links"))

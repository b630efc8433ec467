"""The portal's settlement pages: the dashboard and invoices."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from contracts.portal import PortalRequest, portal_actor, portal_view
from core.errors import DomainError
from core.portal import form_sent_before, keyset_page, remember_form_sent
from settlement.forms import InvoiceFilterForm, SettlementAbandonForm, ShareLinkForm
from settlement.models import Invoice, InvoiceStatus, SettlementStatus, SettlementStep
from settlement.printing import csp_nonce, invoice_print_html
from settlement.selectors.dashboard import (
    AT_A_GLANCE,
    dashboard_billed_per_period,
    dashboard_contract_periods,
    dashboard_contracts_first,
    dashboard_outcomes_per_day,
    dashboard_to_collect,
)
from settlement.selectors.invoices import (
    credit_note_get,
    credit_note_outcomes,
    invoice_credit_notes,
    invoice_credits,
    invoice_get,
    invoice_line_get,
    invoice_list,
    line_outcomes,
)
from settlement.selectors.share_links import share_link_get, share_link_list
from settlement.services.invoice_actions import (
    invoice_finalize_now,
    invoice_push_now,
    invoice_rebuild_now,
    invoice_step_retry_now,
)
from settlement.services.settlement_steps import settlement_abandon
from settlement.services.share_links import share_link_create, share_link_revoke, share_link_url


@portal_view
def dashboard(request: PortalRequest) -> HttpResponse:
    now = timezone.now()
    contracts = dashboard_contract_periods(vendor=request.vendor, now=now)
    # At a glance, the contracts that make the most this period; every one of them on request.
    every = request.GET.get("contracts") == "all"
    listed = dashboard_contracts_first(figures=contracts)
    return render(
        request,
        "settlement/dashboard.html",
        {
            "section": "dashboard",
            "contracts": listed if every else listed[:AT_A_GLANCE],
            "contracts_in_force": len(contracts),
            "at_a_glance": AT_A_GLANCE,
            "totals": {
                "outcomes": sum(c.outcomes for c in contracts),
                "flagged": sum(c.flagged for c in contracts),
                "disputed": sum(c.disputed for c in contracts),
                "anomalies": sum(n for c in contracts for _, n in c.anomalies),
            },
            "per_day": dashboard_outcomes_per_day(vendor=request.vendor, now=now),
            "billed": dashboard_billed_per_period(vendor=request.vendor),
            "to_collect": dashboard_to_collect(vendor=request.vendor),
        },
    )


@portal_view
def invoice_list_page(request: PortalRequest) -> HttpResponse:
    form = InvoiceFilterForm(request.GET or None, vendor=request.vendor)
    filters = form.cleaned_data if form.is_valid() else {}
    invoices = invoice_list(
        vendor=request.vendor,
        status=filters.get("status") or None,
        contract_id=filters["contract"].pk if filters.get("contract") else None,
        customer_id=filters["customer"].pk if filters.get("customer") else None,
        month=filters.get("period"),
        collection=filters.get("collection") or None,
    )
    return render(
        request,
        "settlement/invoice_list.html",
        {"section": "invoices", "form": form, "page": keyset_page(request, invoices, per_page=50)},
    )


@portal_view
def invoice_detail(request: PortalRequest, invoice_id: str) -> HttpResponse:
    invoice = invoice_get(vendor=request.vendor, invoice_id=invoice_id)
    credit_entry, credit_balance = invoice_credits(invoice=invoice)
    steps = list(invoice.settlement_steps.all())
    can_abandon = invoice.settlement_status == SettlementStatus.BLOCKED
    return render(
        request,
        "settlement/invoice_detail.html",
        {
            "section": "invoices",
            "invoice": invoice,
            "lines": list(invoice.lines.all()),
            "steps": steps,
            "blocked": any(step.status == SettlementStep.Status.FAILED for step in steps),
            "credit_entry": credit_entry,
            "credit_balance": credit_balance,
            "credit_notes": list(invoice_credit_notes(invoice=invoice)),
            "held": [
                {
                    "outcome_type": key,
                    "cap_amount_minor": held.get("cap_amount_minor"),
                    **_first(held["outcomes"]),
                }
                for key, held in sorted(invoice.held_over_cap.items())
            ],
            "can_rebuild": invoice.status == InvoiceStatus.DRAFT,
            "can_finalize": invoice.status == InvoiceStatus.DRAFT,
            "can_push": invoice.number is not None and invoice.settlement_status == SettlementStatus.PENDING,
            "can_abandon": can_abandon,
            "abandon_form": SettlementAbandonForm() if can_abandon else None,
            "share_links": list(share_link_list(invoice=invoice)),
            "share_form": ShareLinkForm(),
            "now": timezone.now(),
        },
    )


def _first(outcome_ids: list[int], shown: int = 20) -> dict[str, Any]:
    return {"count": len(outcome_ids), "shown": outcome_ids[:shown], "more": max(len(outcome_ids) - shown, 0)}


@portal_view
def invoice_line(request: PortalRequest, invoice_id: str, position: str) -> HttpResponse:
    invoice = invoice_get(vendor=request.vendor, invoice_id=invoice_id)
    line = invoice_line_get(invoice=invoice, position=position)
    links = line_outcomes(invoice=invoice, position=line.position)
    return render(
        request,
        "settlement/invoice_line.html",
        {
            "section": "invoices",
            "invoice": invoice,
            "line": line,
            "page": keyset_page(request, links, per_page=100, key="outcome_id"),
        },
    )


@portal_view
def credit_note_detail(request: PortalRequest, invoice_id: str, credit_note_id: str) -> HttpResponse:
    """A credit note and the reversed outcomes it credits, each linked to its trail."""
    invoice = invoice_get(vendor=request.vendor, invoice_id=invoice_id)
    note = credit_note_get(invoice=invoice, credit_note_id=credit_note_id)
    links = credit_note_outcomes(credit_note=note)
    return render(
        request,
        "settlement/credit_note.html",
        {
            "section": "invoices",
            "invoice": invoice,
            "note": note,
            "page": keyset_page(request, links, per_page=100, key="outcome_id"),
        },
    )


@portal_view
def invoice_print(request: PortalRequest, invoice_id: str) -> HttpResponse:
    invoice = invoice_get(vendor=request.vendor, invoice_id=invoice_id)
    return HttpResponse(
        invoice_print_html(invoice=invoice, style_nonce=csp_nonce(request)),
        content_type="text/html; charset=utf-8",
    )


ACTIONS: dict[str, tuple[Callable[..., Any], str]] = {
    "rebuild": (invoice_rebuild_now, "Draft rebuilt from the current outcomes."),
    "finalize": (invoice_finalize_now, "Invoice finalized; it is being sent to Stripe."),
    "push": (invoice_push_now, "Settlement through Stripe requested."),
}


@require_POST
@portal_view(write=True)
def invoice_action(request: PortalRequest, invoice_id: str, action: str) -> HttpResponse:
    """Rebuild, finalize or push one invoice (owners and admins), then back to its page."""
    invoice: Invoice = invoice_get(vendor=request.vendor, invoice_id=invoice_id)
    if action not in ACTIONS:
        messages.error(request, f"Unknown action {action!r}.")
    else:
        service, done = ACTIONS[action]
        try:
            result = service(invoice=invoice, actor=portal_actor(request))
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            if action == "finalize" and result.is_draft:
                messages.warning(
                    request, "This total waits for the customer's approval: finalized once approved."
                )
            else:
                messages.success(request, done)
    return redirect("settlement:invoice-detail", invoice_id=invoice.pk)


@require_POST
@portal_view(write=True)
def invoice_step_retry(request: PortalRequest, invoice_id: str) -> HttpResponse:
    """Run a settlement step Stripe refused again (owners and admins), then back to the invoice."""
    invoice: Invoice = invoice_get(vendor=request.vendor, invoice_id=invoice_id)
    step = request.POST.get("step", "")
    try:
        invoice_step_retry_now(invoice=invoice, step=step, actor=portal_actor(request))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Step {step} will run again; settlement resumes now.")
    return redirect("settlement:invoice-detail", invoice_id=invoice.pk)


@require_POST
@portal_view(write=True)
def invoice_settlement_abandon(request: PortalRequest, invoice_id: str) -> HttpResponse:
    """Stop settling a blocked invoice through Verity, with a reason (owners and admins)."""
    invoice: Invoice = invoice_get(vendor=request.vendor, invoice_id=invoice_id)
    form = SettlementAbandonForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, f"Not abandoned. Reason: {' '.join(str(error) for error in form.errors['reason'])}"
        )
        return redirect("settlement:invoice-detail", invoice_id=invoice.pk)
    try:
        settlement_abandon(
            invoice_id=invoice.pk, actor=portal_actor(request), reason=form.cleaned_data["reason"]
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, "Settlement abandoned: Verity no longer settles this invoice through Stripe."
        )
    return redirect("settlement:invoice-detail", invoice_id=invoice.pk)


def share_link_create_page(request: HttpRequest, invoice: Invoice, *, actor: str, back: str) -> HttpResponse:
    """Make a share link for an auditor from a portal's form and show it once (never by a redirect):
    the same page for the vendor's portal and the customer's, each passing who acts and where to go back."""
    if (sent := form_sent_before(request)) is not None:
        messages.info(
            request, "That form was already sent: no second link was made. A link is shown only once."
        )
        return redirect(sent)
    form = ShareLinkForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, "No link made: " + " ".join(str(e) for errors in form.errors.values() for e in errors)
        )
        return redirect(back)
    now = timezone.now()
    try:
        link, token = share_link_create(
            invoice=invoice,
            actor=actor,
            label=form.cleaned_data["label"],
            expires_at=now + dt.timedelta(days=form.cleaned_data["expires_in_days"]),
            now=now,
        )
    except DomainError as exc:
        messages.error(request, f"No link made: {exc.message}")
        return redirect(back)
    remember_form_sent(request, back)
    response = render(
        request,
        "settlement/share_link_once.html",
        {
            "section": "invoices",
            "invoice": invoice,
            "link": link,
            "url": share_link_url(token),
            "back_url": back,
        },
    )
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@portal_view(write=True)
def invoice_share_link_create(request: PortalRequest, invoice_id: str) -> HttpResponse:
    """Make a share link for an auditor (owners and admins) and show it once (never by a redirect)."""
    invoice: Invoice = invoice_get(vendor=request.vendor, invoice_id=invoice_id)
    back = reverse("settlement:invoice-detail", args=[invoice.pk]) + "#share-links"
    return share_link_create_page(request, invoice, actor=portal_actor(request), back=back)


@require_POST
@portal_view(write=True)
def invoice_share_link_revoke(request: PortalRequest, invoice_id: str, link_id: str) -> HttpResponse:
    """Revoke one of the invoice's share links at once (owners and admins)."""
    invoice: Invoice = invoice_get(vendor=request.vendor, invoice_id=invoice_id)
    link = share_link_get(invoice=invoice, link_id=link_id)
    share_link_revoke(link=link, actor=portal_actor(request))
    messages.success(request, "Share link revoked: it no longer opens.")
    return redirect(reverse("settlement:invoice-detail", args=[invoice.pk]) + "#share-links")

"""The Stripe webhook endpoint (verify the signature, store the event raw, process it, 5xx on failure),
and the portal's settlement pages: the dashboard and invoices."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from csp.decorators import csp_exempt
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from contracts.portal import PortalRequest, portal_actor, portal_view
from core.api.errors import logged_once, require_post
from core.errors import DomainError
from core.portal import keyset_page
from settlement import selectors
from settlement.forms import InvoiceFilterForm, SettlementAbandonForm
from settlement.models import Invoice, InvoiceStatus, SettlementStatus, SettlementStep
from settlement.printing import csp_nonce, invoice_print_html
from settlement.services.invoice_actions import (
    invoice_finalize_now,
    invoice_push_now,
    invoice_rebuild_now,
    invoice_step_retry_now,
)
from settlement.services.settlement_steps import settlement_abandon
from settlement.services.stripe_events import (
    EventNotVerified,
    stripe_event_process,
    stripe_event_record,
    stripe_event_verify,
)

logger = logging.getLogger(__name__)

MAX_CREATED = 2**32  # seconds since the epoch: year 2106


def _shape_problem(event: Any, payload: bytes) -> str | None:
    """Why a verified event cannot be stored as it is, or None: a validly signed body is still input."""
    if not isinstance(event, dict):
        return "The event is not a JSON object."
    event_id, event_type, created = event.get("id"), event.get("type", ""), event.get("created", 0)
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 100:
        return "id must be a string of 1 to 100 characters."
    if not isinstance(event_type, str) or len(event_type) > 100:
        return "type must be a string of at most 100 characters."
    if type(created) is not int or not 0 <= created < MAX_CREATED:
        return "created must be integer seconds since the epoch."
    if len(str(event.get("account") or "")) > 100:
        return "account must be a Stripe account id of at most 100 characters."
    data = event.get("data", {})
    obj = data.get("object", {}) if isinstance(data, dict) else None
    if not isinstance(obj, dict) or not isinstance(obj.get("id", ""), str):
        return "data.object must be an object, with a string id."
    if b"\\u0000" in payload:  # PostgreSQL keeps no NUL in jsonb; Stripe never sends one
        return "The event holds a NUL character."
    return None


@csp_exempt()  # a machine's JSON endpoint, on the hot path: no page to protect
@csrf_exempt
@require_post
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    """The deployment's endpoint: its own account's events and, in platform mode, connected accounts'."""
    return _stripe_event_receive(request, vendor_id=None)


@csp_exempt()
@csrf_exempt
@require_post
def stripe_vendor_webhook(request: HttpRequest, vendor_id: str) -> JsonResponse:
    """A vendor's own endpoint: the events of the Stripe account it connected with its own key."""
    return _stripe_event_receive(request, vendor_id=vendor_id)


def _stripe_event_receive(request: HttpRequest, *, vendor_id: str | None) -> JsonResponse:
    try:
        verified = stripe_event_verify(
            payload=request.body,
            signature_header=request.headers.get("Stripe-Signature", ""),
            vendor_id=vendor_id,
        )
    except EventNotVerified:
        return JsonResponse(
            {
                "status": 400,
                "code": "invalid_signature",
                "message": "Stripe-Signature does not verify.",
                "field_errors": {},
            },
            status=400,
        )
    event = verified.event
    problem = _shape_problem(event, request.body)
    if problem is not None:
        return JsonResponse(
            {"status": 400, "code": "invalid_event", "message": problem, "field_errors": {}}, status=400
        )
    stored, _ = stripe_event_record(event=event, account=verified.account)
    try:
        stripe_event_process(event_id=stored.pk)
    except Exception:
        logger.exception("Stripe event %s failed; Stripe will retry", stored.pk)
        return logged_once(
            JsonResponse(
                {
                    "status": 500,
                    "code": "processing_failed",
                    "message": "Try again later.",
                    "field_errors": {},
                },
                status=500,
            )
        )
    return JsonResponse({"received": True})


# Portal pages ------------------------------------------------------------------------------------


@portal_view
def dashboard(request: PortalRequest) -> HttpResponse:
    now = timezone.now()
    contracts = selectors.dashboard_contract_periods(vendor=request.vendor, now=now)
    return render(
        request,
        "settlement/dashboard.html",
        {
            "section": "dashboard",
            "contracts": contracts,
            "totals": {
                "outcomes": sum(c.outcomes for c in contracts),
                "flagged": sum(c.flagged for c in contracts),
                "disputed": sum(c.disputed for c in contracts),
                "anomalies": sum(n for c in contracts for _, n in c.anomalies),
            },
            "per_day": selectors.dashboard_outcomes_per_day(vendor=request.vendor, now=now),
            "billed": selectors.dashboard_billed_per_period(vendor=request.vendor),
            "to_collect": selectors.dashboard_to_collect(vendor=request.vendor),
        },
    )


@portal_view
def invoice_list(request: PortalRequest) -> HttpResponse:
    form = InvoiceFilterForm(request.GET or None, vendor=request.vendor)
    filters = form.cleaned_data if form.is_valid() else {}
    invoices = selectors.invoice_list(
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
    invoice = selectors.invoice_get(vendor=request.vendor, invoice_id=invoice_id)
    credit_entry, credit_balance = selectors.invoice_credits(invoice=invoice)
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
            "credit_notes": list(selectors.invoice_credit_notes(invoice=invoice)),
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
        },
    )


def _first(outcome_ids: list[int], shown: int = 20) -> dict[str, Any]:
    return {"count": len(outcome_ids), "shown": outcome_ids[:shown], "more": max(len(outcome_ids) - shown, 0)}


@portal_view
def invoice_line(request: PortalRequest, invoice_id: str, position: str) -> HttpResponse:
    invoice = selectors.invoice_get(vendor=request.vendor, invoice_id=invoice_id)
    line = selectors.invoice_line_get(invoice=invoice, position=position)
    links = selectors.line_outcomes(invoice=invoice, position=line.position)
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
    invoice = selectors.invoice_get(vendor=request.vendor, invoice_id=invoice_id)
    note = selectors.credit_note_get(invoice=invoice, credit_note_id=credit_note_id)
    links = selectors.credit_note_outcomes(credit_note=note)
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
    invoice = selectors.invoice_get(vendor=request.vendor, invoice_id=invoice_id)
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
    invoice: Invoice = selectors.invoice_get(vendor=request.vendor, invoice_id=invoice_id)
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
    invoice: Invoice = selectors.invoice_get(vendor=request.vendor, invoice_id=invoice_id)
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
    invoice: Invoice = selectors.invoice_get(vendor=request.vendor, invoice_id=invoice_id)
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

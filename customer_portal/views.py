"""The customer portal's pages: the overview of each contract's current period and the deadlines coming,
the customer's outcomes and each one's trail, and the switch between the person's customers.

Every read goes through a selector scoped to the chosen customer; the trail is the customer's view of
it (outcomes.trail, the customer API's too): nothing of the vendor's own (who at the vendor acted, their
review notes and evidence, the facts behind a flag)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from contracts.models import Contract, Membership
from core.portal import keyset_page
from customer_portal.portal import CustomerPortalRequest, customer_choose, customer_portal_view
from outcomes import selectors as outcome_selectors
from outcomes.models import OutcomeState
from outcomes.rules import reason_text
from outcomes.timeline import outcome_timeline
from outcomes.trail import outcome_trail_for_customer
from settlement.models import ApprovalStatus, InvoiceStatus
from settlement.selectors.dashboard import (
    dashboard_cap_use,
    dashboard_contract_periods,
    dashboard_outcomes_per_day_by_contract,
)
from settlement.selectors.invoices import invoice_list

STATE_COUNT_CAP = 10_000


@customer_portal_view
def overview_page(request: CustomerPortalRequest) -> HttpResponse:
    customer, now = request.customer, timezone.now()
    contracts = dashboard_contract_periods(vendor=customer.vendor, now=now, customer=customer)
    per_day = dashboard_outcomes_per_day_by_contract(customer=customer, now=now)
    cap_use = dashboard_cap_use(figures=contracts)
    return render(
        request,
        "customer_portal/overview.html",
        {
            "section": "overview",
            "contracts": contracts,
            "charts": [
                {
                    "row": row,
                    "per_day": per_day.get(row.contract.pk),
                    "caps": cap_use.get(row.contract.pk, []),
                    "data_id": f"per-day-{row.contract.pk}",
                }
                for row in contracts
            ],
            "held": [
                {
                    "state": held.state,
                    "count": held.count,
                    "reasons": [(code, count, reason_text(code)) for code, count in held.reasons],
                }
                for held in outcome_selectors.held_outcomes_for_customer(customer=customer)
            ],
            "disputes": list(
                outcome_selectors.dispute_list_for_customer(customer=customer, status="open").order_by(
                    "deadline", "pk"
                )[:20]
            ),
            "audit_samples": list(outcome_selectors.audit_samples_awaiting(customer=customer, now=now)[:20]),
            "approvals": list(
                invoice_list(vendor=customer.vendor, customer_id=customer.pk, status=InvoiceStatus.DRAFT)
                .filter(approval_status=ApprovalStatus.PENDING)
                .order_by("period_start", "pk")[:20]
            ),
        },
    )


class CustomerOutcomeFilterForm(forms.Form):
    contract = forms.ChoiceField(label="Contract", required=False)
    state = forms.ChoiceField(label="State", required=False)

    def __init__(self, data: Any, *, contracts: list[Contract]) -> None:
        super().__init__(data)
        contract, state = self.fields["contract"], self.fields["state"]
        assert isinstance(contract, forms.ChoiceField)
        assert isinstance(state, forms.ChoiceField)
        contract.choices = [("", "Any contract"), *((str(c.pk), c.reference) for c in contracts)]
        state.choices = [("", "Any state"), *OutcomeState.choices]

    def selector_filters(self) -> dict[str, Any]:
        if not self.is_valid():
            return {}
        return {
            "contract_id": self.cleaned_data["contract"] or None,
            "state": self.cleaned_data["state"] or None,
        }


@customer_portal_view
def outcome_list_page(request: CustomerPortalRequest) -> HttpResponse:
    contracts = list(Contract.objects.filter(customer=request.customer).order_by("reference"))
    form = CustomerOutcomeFilterForm(request.GET, contracts=contracts)
    outcomes = outcome_selectors.outcome_list_for_customer(
        customer=request.customer, **form.selector_filters()
    )
    return render(
        request,
        "customer_portal/outcome_list.html",
        {
            "section": "outcomes",
            "form": form,
            "page": keyset_page(request, outcomes.select_related("contract")),
            "is_filtered": any(form.selector_filters().values()),
        },
    )


@customer_portal_view
def outcome_detail_page(request: CustomerPortalRequest, outcome_id: str) -> HttpResponse:
    from customer_portal.outcome_actions import outcome_actions_context  # it imports this module's form

    # The customer's view of the trail, as the customer API gives it (outcomes.trail): nothing of the
    # vendor's own (who acted, its notes and evidence, the facts that raised a flag).
    trail = outcome_trail_for_customer(customer=request.customer, outcome_id=outcome_id)
    outcome = trail.outcome
    timeline = outcome_timeline(
        trail=trail,
        invoice_links=outcome_selectors.outcome_invoice_lines(outcome=outcome),
        invoice_url=lambda invoice_id: reverse("customer:invoice-detail", args=[invoice_id]),
    )
    return render(
        request,
        "customer_portal/outcome_detail.html",
        {
            "section": "outcomes",
            "outcome": outcome,
            "timeline": timeline,
            **outcome_actions_context(request, outcome),
        },
    )


@customer_portal_view
def account_list_page(request: CustomerPortalRequest) -> HttpResponse:
    return render(
        request,
        "customer_portal/accounts.html",
        {
            "section": "accounts",
            "memberships": request.customer_memberships,
            "vendor_membership": Membership.objects.filter(user=request.user)  # type: ignore[misc]
            .select_related("vendor")
            .first(),
        },
    )


@require_POST
@login_required
def account_switch_page(request: HttpRequest, customer_id: str) -> HttpResponse:
    """Show another of the person's customers (a viewer may: it changes only their own session)."""
    customer_choose(request, customer_id)
    return redirect("customer:overview")

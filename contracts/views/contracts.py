"""Contract pages: the list, a contract with its versions in plain words, create, amend, lifecycle moves."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from contracts import selectors
from contracts.api.serializers import ContractFilter
from contracts.forms.contract import blank_contract, collect, contract_form, version_terms
from contracts.models import Contract, ContractStatus
from contracts.portal import PortalRequest, portal_actor, portal_view
from contracts.services import contracts as contract_services
from contracts.terms import Amendment, parse
from contracts.wording import approval_text, contract_versions_words, period_text
from core.errors import DomainError
from core.forms import errors_of
from core.portal import keyset_page

TRANSITIONS = {
    "activate": (contract_services.contract_activate, "activated"),
    "suspend": (contract_services.contract_suspend, "suspended"),
    "resume": (contract_services.contract_resume, "resumed"),
    "terminate": (contract_services.contract_terminate, "terminated"),
}
# The moves offered from each status (the service still decides what is allowed).
OFFERED = {
    ContractStatus.DRAFT: ("activate",),
    ContractStatus.ACTIVE: ("suspend", "terminate"),
    ContractStatus.SUSPENDED: ("resume", "terminate"),
    ContractStatus.TERMINATED: (),
}


@portal_view
def contract_list_page(request: PortalRequest) -> HttpResponse:
    # The API's filter serializer validates the query; a filter it refuses is shown and ignored.
    query = {name: request.GET[name] for name in ("status", "customer_id") if request.GET.get(name)}
    checked = ContractFilter(data=query)
    filter_errors = {} if checked.is_valid() else checked.errors
    search = request.GET.get("q", "").strip()
    queryset = selectors.contract_list(
        vendor=request.vendor,
        status=None if "status" in filter_errors else query.get("status"),
        customer_id=None if "customer_id" in filter_errors else query.get("customer_id"),
        search=search or None,
    )
    page = keyset_page(request, queryset, key=("created_at", "id"), per_page=50)
    return render(
        request,
        "contracts/contract_list.html",
        {
            "section": "contracts",
            "page": page,
            "rows": [(contract, list(contract.versions.all())) for contract in page.items],
            "statuses": ContractStatus.choices,
            "customers": selectors.customer_list(vendor=request.vendor),
            "chosen": {**query, "q": search},
            "filter_errors": filter_errors,
        },
    )


@portal_view
def contract_detail_page(request: PortalRequest, contract_id: str) -> HttpResponse:
    contract = selectors.contract_get(vendor=request.vendor, contract_id=contract_id)
    now = timezone.now()
    in_force = selectors.contract_version_in_force(contract=contract, at=now)
    versions = contract_versions_words(contract, in_force)
    return render(
        request,
        "contracts/contract_detail.html",
        {
            "section": "contracts",
            "contract": contract,
            "period": period_text(contract),
            "approval": approval_text(contract),
            "versions": versions,
            "moves": OFFERED[ContractStatus(contract.status)],
        },
    )


@portal_view(write=True)
def contract_create_page(request: PortalRequest) -> HttpResponse:
    customers = list(selectors.customer_list(vendor=request.vendor))
    if request.method != "POST":
        form = contract_form(
            data=blank_contract(timezone.localdate().isoformat()), raw=None, errors=None, customers=customers
        )
        return render(request, "contracts/contract_form.html", {"section": "contracts", "form": form})
    adding = "add_outcome_type" in request.POST
    data, errors = collect(request.POST)
    if not adding and not errors:
        try:
            header, terms = contract_services.contract_create_parse(data)
            contract = contract_services.contract_create(
                vendor=request.vendor, header=header, terms=terms, actor=portal_actor(request)
            )
        except DomainError as exc:
            errors = errors_of(exc)
        else:
            messages.success(request, f"Contract {contract.reference} created as a draft.")
            return redirect("contracts:contract-detail", contract_id=contract.pk)
    form = contract_form(
        data=data, raw=request.POST, errors=errors, customers=customers, extra_outcome_type=adding
    )
    return render(
        request,
        "contracts/contract_form.html",
        {"section": "contracts", "form": form},
        status=400 if errors else 200,
    )


def _header_values(contract: Contract) -> dict[str, Any]:
    """A draft's own fields as the edit form shows them: instants in the contract's time zone."""
    zone = ZoneInfo(contract.timezone)
    return {
        "customer_id": str(contract.customer_id),
        "reference": contract.reference,
        "currency": contract.currency,
        "timezone": contract.timezone,
        "period_count": contract.period_count,
        "anchor_day": contract.anchor_day,
        "starts_at": contract.starts_at.astimezone(zone).isoformat(),
        "ends_at": contract.ends_at.astimezone(zone).isoformat() if contract.ends_at else None,
        "collection_method": contract.collection_method,
        "days_until_due": contract.days_until_due,
        "withhold_credits_while_overdue": contract.withhold_credits_while_overdue,
        "grace_period_hours": contract.grace_period_hours,
        "approval_threshold_minor": contract.approval_threshold_minor,
    }


@portal_view(write=True)
def contract_edit_page(request: PortalRequest, contract_id: str) -> HttpResponse:
    """A draft's own fields (customer, reference, currency, periods, dates, collection), as the API's
    PATCH changes them; its terms change by amending. An input left blank clears an optional field."""
    contract = selectors.contract_get(vendor=request.vendor, contract_id=contract_id)
    if contract.status != ContractStatus.DRAFT:
        messages.error(request, "Only a draft contract can be edited; amend its terms instead.")
        return redirect("contracts:contract-detail", contract_id=contract.pk)
    customers = list(selectors.customer_list(vendor=request.vendor))
    context: dict[str, Any] = {"section": "contracts", "contract": contract}
    if request.method != "POST":
        form = contract_form(data=_header_values(contract), raw=None, errors=None, customers=customers)
        return render(request, "contracts/contract_edit.html", {**context, "form": form})
    posted, errors = collect(request.POST)
    data = {name: posted.get(name) for name in _header_values(contract)}  # blank: null, not "unchanged"
    if not errors:
        try:
            header = contract_services.contract_header_parse(data, current=contract)
            contract_services.contract_update_draft(
                contract=contract, header=header, fields=list(data), actor=portal_actor(request)
            )
        except DomainError as exc:
            errors = errors_of(exc)
        else:
            messages.success(request, f"Draft {contract.reference} updated.")
            return redirect("contracts:contract-detail", contract_id=contract.pk)
    form = contract_form(data=data, raw=request.POST, errors=errors, customers=customers)
    return render(request, "contracts/contract_edit.html", {**context, "form": form}, status=400)


@portal_view(write=True)
def contract_amend_page(request: PortalRequest, contract_id: str) -> HttpResponse:
    contract = selectors.contract_get(vendor=request.vendor, contract_id=contract_id)
    latest = list(contract.versions.all())[-1]
    context: dict[str, Any] = {"section": "contracts", "contract": contract, "latest": latest}
    if request.method != "POST":
        form = contract_form(
            data={"terms": version_terms(latest)},
            raw=None,
            errors=None,
            customers=None,
            currency=contract.currency,
        )
        return render(request, "contracts/contract_form.html", {**context, "form": form})
    adding = "add_outcome_type" in request.POST
    data, errors = collect(request.POST, currency=contract.currency)
    if not adding and not errors:
        try:
            version = contract_services.contract_amend(
                contract=contract, amendment=parse(Amendment, data), actor=portal_actor(request)
            )
        except DomainError as exc:
            errors = errors_of(exc)
        else:
            messages.success(
                request,
                f"Version {version.number} added, in force from {version.effective_from:%Y-%m-%d %H:%M} UTC.",
            )
            return redirect("contracts:contract-detail", contract_id=contract.pk)
    form = contract_form(
        data=data,
        raw=request.POST,
        errors=errors,
        customers=None,
        extra_outcome_type=adding,
        currency=contract.currency,
    )
    return render(
        request, "contracts/contract_form.html", {**context, "form": form}, status=400 if errors else 200
    )


@require_POST
@portal_view
def contract_transition_page(request: PortalRequest, contract_id: str, move: str) -> HttpResponse:
    contract = selectors.contract_get(vendor=request.vendor, contract_id=contract_id)
    if move not in TRANSITIONS:
        raise Http404("No such move.")
    service, done = TRANSITIONS[move]
    try:
        service(contract=contract, actor=portal_actor(request))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Contract {contract.reference} {done}.")
    return redirect("contracts:contract-detail", contract_id=contract.pk)

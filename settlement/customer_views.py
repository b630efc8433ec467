"""Portal pages of customers and their billing: the customers and whether Stripe can charge them, a new
customer, a customer's page with its contracts, its name, email and reference (edit), its tax details (address,
tax ids, exemption), its Stripe customer (link, unlink) and a link where they save a card; and the page Stripe
sends them back to."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from contracts import selectors as contract_selectors
from contracts.forms.customer import (
    TaxDetailsForm,
    errors_on_rows,
    identity_body,
    identity_form,
    identity_values,
    tax_details_body,
    tax_details_form,
    tax_details_values,
)
from contracts.forms.settings import customer_member_form
from contracts.models import CollectionMethod, ContractStatus, Customer, CustomerRole
from contracts.portal import PortalRequest, portal_actor, portal_view
from contracts.services.customers import customer_create, customer_fields_parse, customer_update
from contracts.terms import parse
from contracts.wording import period_text
from core.errors import DomainError, FieldErrors
from core.forms import Form, Input, bind, errors_of
from core.portal import keyset_page
from settlement.services.customer_billing import (
    SetupLinkIn,
    StripeLinkIn,
    customer_setup_link_create,
    customer_stripe_link,
    customer_stripe_unlink,
)

NO_STORE = "no-store"


@portal_view
def customer_list(request: PortalRequest) -> HttpResponse:
    customers = contract_selectors.customer_list(vendor=request.vendor, with_contract_counts=True)
    return render(
        request,
        "settlement/customer_list.html",
        {"section": "customers", "page": keyset_page(request, customers, key=("created_at", "id"))},
    )


@portal_view(write=True)
def customer_create_page(request: PortalRequest) -> HttpResponse:
    """A new customer through customer_create, the API's service: name, email and reference, and optionally
    the tax details."""
    if request.method != "POST":
        form, status = tax_details_form({}, with_identity=True), 200
    else:
        tax_body, rows = tax_details_body(request.POST)
        try:
            customer = customer_create(
                vendor=request.vendor,
                fields=customer_fields_parse({**identity_body(request.POST), **tax_body}),
                actor=portal_actor(request),
            )
        except DomainError as exc:
            errors = errors_on_rows(errors_of(exc), rows)
            form, status = tax_details_form(request.POST, errors, with_identity=True), exc.status
        else:
            messages.success(request, f"Customer {customer.name} added.")
            return redirect("settlement:customer-detail", customer_id=customer.pk)
    return render(
        request, "settlement/customer_create.html", {"section": "customers", "form": form}, status=status
    )


@portal_view(write=True)
def customer_edit_page(request: PortalRequest, customer_id: str) -> HttpResponse:
    """A customer's name, billing email and external reference, through customer_update (the API's PATCH)."""
    customer = contract_selectors.customer_get(vendor=request.vendor, customer_id=customer_id)
    if request.method != "POST":
        form, status = identity_form(identity_values(customer)), 200
    else:
        try:
            fields = customer_fields_parse(identity_body(request.POST), current=customer)
            customer_update(customer=customer, fields=fields, actor=portal_actor(request))
        except DomainError as exc:
            form, status = identity_form(request.POST, errors_of(exc)), exc.status
        else:
            messages.success(request, "Customer saved.")
            return redirect("settlement:customer-detail", customer_id=customer.pk)
    return render(
        request,
        "settlement/customer_edit.html",
        {"section": "customers", "customer": customer, "form": form},
        status=status,
    )


def stripe_link_form(values: dict[str, str] | None = None, errors: FieldErrors | None = None) -> Form:
    return bind(
        [
            Input(
                "stripe_customer_id",
                "Stripe customer",
                value=(values or {}).get("stripe_customer_id", ""),
                help="The id of an existing customer in Stripe, e.g. cus_NffrFeUfNV2Hib; Verity checks it there.",
            )
        ],
        errors,
        form_name="stripe",
    )


def customer_page(
    request: PortalRequest,
    customer: Customer,
    *,
    link_form: Form | None = None,
    tax_form: TaxDetailsForm | None = None,
    setup_url: str = "",
    member_form: Form | None = None,
    status: int = 200,
) -> HttpResponse:
    contracts = list(
        contract_selectors.contract_list(vendor=request.vendor, customer_id=str(customer.pk)).order_by(
            "-created_at"
        )
    )
    charged_automatically = [
        contract
        for contract in contracts
        if contract.collection_method == CollectionMethod.CHARGE_AUTOMATICALLY
        and contract.status != ContractStatus.TERMINATED
    ]
    response = render(
        request,
        "settlement/customer_detail.html",
        {
            "section": "customers",
            "customer": customer,
            "contracts": [(contract, period_text(contract)) for contract in contracts],
            "needs_card": bool(charged_automatically) and not customer.can_be_charged_automatically,
            "link_form": link_form or stripe_link_form(),
            "tax_form": tax_form or tax_details_form(tax_details_values(customer)),
            "setup_url": setup_url,
            "customer_members": list(contract_selectors.customer_member_list(customer=customer)),
            "customer_member_form": member_form or customer_member_form(),
            "customer_role_choices": CustomerRole.choices,
        },
        status=status,
    )
    if setup_url:
        response["Cache-Control"] = NO_STORE  # the link lets whoever holds it save a card for the customer
    return response


@portal_view
def customer_detail(request: PortalRequest, customer_id: str) -> HttpResponse:
    customer = contract_selectors.customer_get(vendor=request.vendor, customer_id=customer_id)
    return customer_page(request, customer)


@require_POST
@portal_view(write=True)
def customer_stripe_link_page(request: PortalRequest, customer_id: str) -> HttpResponse:
    customer = contract_selectors.customer_get(vendor=request.vendor, customer_id=customer_id)
    values = {"stripe_customer_id": request.POST.get("stripe_customer_id", "").strip()}
    try:
        link = parse(StripeLinkIn, values)
        customer = customer_stripe_link(customer=customer, link=link, actor=portal_actor(request))
    except DomainError as exc:
        errors = exc.field_errors or {"stripe_customer_id": [{"code": exc.code, "message": exc.message}]}
        return customer_page(request, customer, link_form=stripe_link_form(values, errors), status=exc.status)
    card = (
        "it has a card for invoices"
        if customer.can_be_charged_automatically
        else "it has no card on file yet"
    )
    messages.success(request, f"Linked to Stripe customer {customer.stripe_customer_id}: {card}.")
    return redirect("settlement:customer-detail", customer_id=customer.pk)


@require_POST
@portal_view(write=True)
def customer_tax_details_page(request: PortalRequest, customer_id: str) -> HttpResponse:
    customer = contract_selectors.customer_get(vendor=request.vendor, customer_id=customer_id)
    body, rows = tax_details_body(request.POST)
    try:
        fields = customer_fields_parse(body, current=customer)
        customer_update(customer=customer, fields=fields, actor=portal_actor(request))
    except DomainError as exc:
        form = tax_details_form(request.POST, errors_on_rows(errors_of(exc), rows))
        return customer_page(request, customer, tax_form=form, status=exc.status)
    messages.success(request, "Tax details saved.")
    return redirect("settlement:customer-detail", customer_id=customer.pk)


@require_POST
@portal_view(write=True)
def customer_stripe_unlink_page(request: PortalRequest, customer_id: str) -> HttpResponse:
    customer = contract_selectors.customer_get(vendor=request.vendor, customer_id=customer_id)
    customer_stripe_unlink(customer=customer, actor=portal_actor(request))
    messages.success(request, "Unlinked from Stripe: the next invoice makes or finds its Stripe customer.")
    return redirect("settlement:customer-detail", customer_id=customer.pk)


@require_POST
@portal_view(write=True)
def customer_setup_link_page(request: PortalRequest, customer_id: str) -> HttpResponse:
    """Answered directly (not by a redirect): the link is shown once, to copy and send; another is cheap."""
    customer = contract_selectors.customer_get(vendor=request.vendor, customer_id=customer_id)
    try:
        url = customer_setup_link_create(
            customer=customer,
            setup=SetupLinkIn(),
            default_success_url=request.build_absolute_uri(reverse("settlement:card-saved")),
            actor=portal_actor(request),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("settlement:customer-detail", customer_id=customer.pk)
    return customer_page(request, customer, setup_url=url)


def card_saved(request: HttpRequest) -> HttpResponse:
    """Where Stripe sends a customer who saved a card: they have no account here, so it names nothing."""
    return render(request, "settlement/card_saved.html")

"""The "People" section of a customer's page: invite a person of the customer to the customer portal,
change their role, remove them (contracts.services.customer_members). Owners and admins only."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from contracts import selectors as contract_selectors
from contracts.forms.settings import customer_member_form
from contracts.portal import PortalRequest, portal_actor, portal_view
from contracts.services import customer_members
from contracts.terms import parse
from core.errors import DomainError
from core.forms import errors_of
from settlement.customer_views import customer_page


def _back(customer_id: object) -> HttpResponse:
    return redirect(reverse("settlement:customer-detail", args=[customer_id]) + "#members")


@require_POST
@portal_view(write=True)
def customer_member_invite_page(request: PortalRequest, customer_id: str) -> HttpResponse:
    customer = contract_selectors.customer_get(vendor=request.vendor, customer_id=customer_id)
    values = {name: request.POST.get(name, "").strip() for name in ("email", "role")}
    try:
        member = customer_members.customer_member_invite(
            customer=customer,
            fields=parse(customer_members.CustomerMemberFields, values),
            by=request.membership,
            actor=portal_actor(request),
            base_url=request.build_absolute_uri("/"),
        )
    except DomainError as exc:
        form = customer_member_form(values, errors_of(exc))
        return customer_page(request, customer, member_form=form, status=exc.status)
    messages.success(request, f"{member.user.email} invited as {member.get_role_display().lower()}.")
    return _back(customer.pk)


def _member_change(
    request: PortalRequest, customer_id: object, change: Callable[[], object], done: str
) -> HttpResponse:
    try:
        change()
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return _back(customer_id)


@require_POST
@portal_view(write=True)
def customer_member_role_page(
    request: PortalRequest, customer_id: str, customer_member_id: str
) -> HttpResponse:
    customer = contract_selectors.customer_get(vendor=request.vendor, customer_id=customer_id)
    member = contract_selectors.customer_member_get(
        vendor=request.vendor, customer=customer, customer_member_id=customer_member_id
    )
    role = request.POST.get("role", "")
    return _member_change(
        request,
        customer.pk,
        lambda: customer_members.customer_member_change_role(
            membership=member,
            role=parse(customer_members.CustomerRoleFields, {"role": role}).role,
            by=request.membership,
            actor=portal_actor(request),
        ),
        f"{member.user.email} is now {role}.",
    )


@require_POST
@portal_view(write=True)
def customer_member_remove_page(
    request: PortalRequest, customer_id: str, customer_member_id: str
) -> HttpResponse:
    customer = contract_selectors.customer_get(vendor=request.vendor, customer_id=customer_id)
    member = contract_selectors.customer_member_get(
        vendor=request.vendor, customer=customer, customer_member_id=customer_member_id
    )
    return _member_change(
        request,
        customer.pk,
        lambda: customer_members.customer_member_remove(
            membership=member, by=request.membership, actor=portal_actor(request)
        ),
        f"{member.user.email} removed from {customer.name}.",
    )

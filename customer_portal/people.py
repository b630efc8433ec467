"""The customer's people (the People section of Settings): its admins invite a person by email with a
role, change a role, remove one; approvers and viewers read the list. Each change goes through
contracts.services.customer_members with the admin's customer membership as the deciding party, the
same service the vendor's owners and admins use (which keeps the customer's last admin). An invitation
the service refuses shows its errors on the form (the Settings page again); a refused change of role or
removal, as a message."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from contracts import selectors as contract_selectors
from contracts.forms.settings import customer_member_form
from contracts.models import CustomerMembership
from contracts.services import customer_members
from contracts.terms import parse
from core.errors import DomainError
from core.forms import errors_of
from customer_portal.controls import settings_render
from customer_portal.portal import (
    CustomerPortalRequest,
    customer_portal_actor,
    customer_portal_view,
    require_customer_admin,
)

PEOPLE = "customer:settings"


def _back() -> HttpResponse:
    return redirect(reverse(PEOPLE) + "#people")


def _error_text(exc: DomainError) -> str:
    """A service's error as one line (a field's errors, or the message)."""
    return " ".join(error["message"] for errors in errors_of(exc).values() for error in errors)


def _member(request: CustomerPortalRequest, customer_membership_id: str) -> CustomerMembership:
    return contract_selectors.customer_member_get(
        vendor=request.customer.vendor,
        customer=request.customer,
        customer_member_id=customer_membership_id,
    )


def _change(request: CustomerPortalRequest, change: Callable[[], object], done: str) -> HttpResponse:
    try:
        change()
    except DomainError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, done)
    return _back()


@require_POST
@customer_portal_view
def person_invite_page(request: CustomerPortalRequest) -> HttpResponse:
    require_customer_admin(request)
    values = {name: request.POST.get(name, "").strip() for name in ("email", "role")}
    try:
        member = customer_members.customer_member_invite(
            customer=request.customer,
            fields=parse(customer_members.CustomerMemberFields, values),
            by=request.customer_membership,
            actor=customer_portal_actor(request),
            base_url=request.build_absolute_uri("/"),
        )
    except DomainError as exc:
        # The form again with the service's errors beside its inputs, as the vendor's invitation shows them.
        form = customer_member_form(values, errors_of(exc))
        return settings_render(request, person_form=form, status=exc.status)
    messages.success(request, f"{member.user.email} invited as {member.get_role_display().lower()}.")
    return _back()


@require_POST
@customer_portal_view
def person_role_page(request: CustomerPortalRequest, customer_membership_id: str) -> HttpResponse:
    require_customer_admin(request)
    member, role = _member(request, customer_membership_id), request.POST.get("role", "")
    return _change(
        request,
        lambda: customer_members.customer_member_change_role(
            membership=member,
            role=parse(customer_members.CustomerRoleFields, {"role": role}).role,
            by=request.customer_membership,
            actor=customer_portal_actor(request),
        ),
        f"{member.user.email} is now {role}.",
    )


@require_POST
@customer_portal_view
def person_remove_page(request: CustomerPortalRequest, customer_membership_id: str) -> HttpResponse:
    require_customer_admin(request)
    member = _member(request, customer_membership_id)
    return _change(
        request,
        lambda: customer_members.customer_member_remove(
            membership=member, by=request.customer_membership, actor=customer_portal_actor(request)
        ),
        f"{member.user.email} removed.",
    )

"""Team pages: add a member by email, change a member's role, remove a member."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from contracts import selectors
from contracts.forms.settings import member_form
from contracts.portal import PortalRequest, portal_actor, portal_view
from contracts.services import members
from contracts.terms import parse
from contracts.views.settings import settings_page
from core.errors import DomainError
from core.forms import errors_of


@require_POST
@portal_view
def member_add_page(request: PortalRequest) -> HttpResponse:
    values = {name: request.POST.get(name, "") for name in ("email", "role")}
    try:
        membership = members.member_add(
            vendor=request.vendor,
            fields=parse(members.MemberFields, values),
            by=request.membership,
            actor=portal_actor(request),
            base_url=request.build_absolute_uri("/"),
        )
    except DomainError as exc:
        return settings_page(
            request, status=exc.status, member_form=member_form(request, values, errors_of(exc))
        )
    messages.success(request, f"{membership.user.email} added as {membership.get_role_display().lower()}.")
    return redirect(reverse("contracts:settings") + "#team")


def _team_change(request: PortalRequest, change: Callable[[], object], done: str) -> HttpResponse:
    try:
        change()
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect(reverse("contracts:settings") + "#team")


@require_POST
@portal_view
def member_role_page(request: PortalRequest, membership_id: str) -> HttpResponse:
    membership = selectors.membership_get(vendor=request.vendor, membership_id=membership_id)
    role = request.POST.get("role", "")
    return _team_change(
        request,
        lambda: members.member_change_role(
            membership=membership,
            role=parse(members.RoleFields, {"role": role}).role,
            by=request.membership,
            actor=portal_actor(request),
        ),
        f"{membership.user.email} is now {role}.",
    )


@require_POST
@portal_view
def member_remove_page(request: PortalRequest, membership_id: str) -> HttpResponse:
    membership = selectors.membership_get(vendor=request.vendor, membership_id=membership_id)
    return _team_change(
        request,
        lambda: members.member_remove(
            membership=membership, by=request.membership, actor=portal_actor(request)
        ),
        f"{membership.user.email} removed from the team.",
    )

"""The settings page (webhook sources, API keys, the team) and what its areas share: the page re-shown with
a refused form, and the guard against a form sent twice. Each area's pages live in their own module:
sources.py, api_keys.py, team.py, invoice_details.py."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from contracts import selectors
from contracts.forms.settings import api_key_form, member_form, role_choices, source_form
from contracts.models import Role
from contracts.portal import PortalRequest, portal_view
from core.forms import Form
from core.portal import form_sent_before

NO_STORE = "no-store"


def settings_page(request: PortalRequest, *, status: int = 200, **forms: Form) -> HttpResponse:
    memberships = list(selectors.membership_list(vendor=request.vendor))
    return render(
        request,
        "contracts/settings.html",
        {
            "section": "settings",
            "sources": selectors.webhook_source_list(vendor=request.vendor),
            "api_keys": selectors.api_key_list(vendor=request.vendor).select_related("customer"),
            "memberships": memberships,
            "role_choices": role_choices(request),
            "is_owner": request.membership.role == Role.OWNER,
            "now": timezone.now(),
            "source_form": forms.get("source_form") or source_form(request),
            "api_key_form": forms.get("api_key_form") or api_key_form(request),
            "member_form": forms.get("member_form") or member_form(request),
        },
        status=status,
    )


@portal_view
def settings_home(request: PortalRequest) -> HttpResponse:
    return settings_page(request)


def sent_before(request: HttpRequest) -> HttpResponse | None:
    """A form already sent (the page of a secret reloaded): back to what it made, nothing made twice."""
    url = form_sent_before(request)
    if url is None:
        return None
    messages.info(
        request,
        "That form was already sent, so nothing new was made. A secret is shown only once: "
        "if it was not kept, rotate the source's secret or create a new key.",
    )
    return redirect(url)

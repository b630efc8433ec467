"""The portal's Stripe settings page: which Stripe account the vendor settles in, whether its webhook
arrives, and (owners only) the forms to connect, test, rotate, set tax and disconnect. Secrets go in,
never out: only the key's last 4 characters are shown."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from contracts.models import Role
from contracts.portal import PortalRequest, portal_actor, portal_view
from core.errors import DomainError, FieldErrors, PermissionDenied
from core.forms import Form, Input, bind, errors_of
from settlement.models import StripeConnection
from settlement.selectors.stripe_accounts import stripe_connection_of
from settlement.services.stripe_events import EVENT_HANDLERS
from settlement.stripe_connections.account import platform_available
from settlement.stripe_connections.connect import (
    stripe_connection_connect,
    stripe_connection_disconnect,
    stripe_connection_tax_set,
)
from settlement.stripe_connections.credentials import stripe_connection_rotate, stripe_connection_test
from settlement.stripe_connections.inputs import stripe_connection_parse, stripe_rotation_parse

Mode = StripeConnection.Mode
TAX_CHOICES = [("false", "Off: no tax on invoices"), ("true", "On: Stripe Tax computes it")]


def _tax_input(values: dict[str, str]) -> Input:
    return Input(
        "tax_enabled", "Tax", value=values.get("tax_enabled", "false"), widget="select", choices=TAX_CHOICES
    )


def _secret(name: str, label: str, help_text: str) -> Input:
    """A secret's input: never filled back, whatever was sent."""
    return Input(name, label, widget="password", help=help_text)


def own_account_form(values: dict[str, str] | None = None, errors: FieldErrors | None = None) -> Form:
    values = values or {}
    return bind(
        [
            _secret(
                "secret_key",
                "Restricted key",
                "rk_live_… (or a secret key, sk_live_…) of your Stripe account, with the permissions below.",
            ),
            _secret(
                "webhook_secret",
                "Webhook signing secret",
                "whsec_… of the endpoint you added in Stripe for the webhook URL below.",
            ),
            _tax_input(values),
        ],
        errors,
        form_name="own",
    )


def connected_account_form(values: dict[str, str] | None = None, errors: FieldErrors | None = None) -> Form:
    values = values or {}
    return bind(
        [
            Input(
                "account_id",
                "Connected account",
                value=values.get("account_id", ""),
                help="acct_…: your account connected to this deployment's Stripe platform.",
            ),
            _tax_input(values),
        ],
        errors,
        form_name="connected",
    )


def rotate_form(errors: FieldErrors | None = None) -> Form:
    return bind(
        [
            _secret("secret_key", "New restricted key", "Leave empty to keep the current key."),
            _secret(
                "webhook_secret", "New webhook signing secret", "Leave empty to keep the current secret."
            ),
        ],
        errors,
        form_name="rotate",
    )


def _stripe_page(request: PortalRequest, *, status: int = 200, **forms: Form) -> HttpResponse:
    connection = stripe_connection_of(vendor=request.vendor)
    webhook_url = request.build_absolute_uri(reverse("stripe-vendor-webhook", args=[request.vendor.pk]))
    return render(
        request,
        "settlement/stripe_connection.html",
        {
            "section": "settings",
            "connection": connection,
            "is_owner": request.membership.role == Role.OWNER,
            "platform_available": platform_available(),
            "webhook_url": webhook_url,
            "webhook_events": sorted(EVENT_HANDLERS),
            "own_form": forms.get("own_form") or own_account_form(),
            "connected_form": forms.get("connected_form") or connected_account_form(),
            "rotate_form": forms.get("rotate_form") or rotate_form(),
        },
        status=status,
    )


@portal_view
def stripe_connection_page(request: PortalRequest) -> HttpResponse:
    return _stripe_page(request)


def _owner_only(exc: DomainError) -> None:
    """The service's refusal of a non-owner is the portal's 403 page, as for any change a role may not make."""
    if isinstance(exc, PermissionDenied):
        raise DjangoPermissionDenied(exc.message) from exc


@require_POST
@portal_view(write=True)
def stripe_connect_page(request: PortalRequest) -> HttpResponse:
    mode = request.POST.get("mode", "")
    own = mode == Mode.OWN_ACCOUNT
    names = ("secret_key", "webhook_secret") if own else ("account_id",)
    data: dict[str, Any] = {"mode": mode, **{name: request.POST.get(name, "").strip() for name in names}}
    data["tax_enabled"] = request.POST.get("tax_enabled", "false") == "true"
    try:
        fields = stripe_connection_parse(data, vendor=request.vendor, by=request.membership)
        connection = stripe_connection_connect(
            vendor=request.vendor, fields=fields, by=request.membership, actor=portal_actor(request)
        )
    except DomainError as exc:
        _owner_only(exc)
        values = {
            "account_id": str(data.get("account_id", "")),
            "tax_enabled": request.POST.get("tax_enabled", ""),
        }
        form = (
            {"own_form": own_account_form(values, errors_of(exc))}
            if own
            else {"connected_form": connected_account_form(values, errors_of(exc))}
        )
        return _stripe_page(request, status=exc.status, **form)
    messages.success(
        request, f"Connected to Stripe account {connection.account_id}: invoices now settle there."
    )
    return redirect("settlement:stripe-connection")


def _act(request: PortalRequest, action: Callable[[], Any], done: Callable[[Any], str]) -> HttpResponse:
    try:
        result = action()
    except DomainError as exc:
        _owner_only(exc)
        messages.error(request, exc.message)
    else:
        messages.success(request, done(result))
    return redirect("settlement:stripe-connection")


@require_POST
@portal_view(write=True)
def stripe_test_page(request: PortalRequest) -> HttpResponse:
    def done(connection: StripeConnection) -> str:
        if connection.check_error:
            return f"Checked: Stripe refused it. {connection.check_error}"
        return f"Checked: Stripe account {connection.account_id} answers."

    return _act(
        request,
        lambda: stripe_connection_test(
            vendor=request.vendor, by=request.membership, actor=portal_actor(request)
        ),
        done,
    )


@require_POST
@portal_view(write=True)
def stripe_rotate_page(request: PortalRequest) -> HttpResponse:
    data = {
        name: value
        for name in ("secret_key", "webhook_secret")
        if (value := request.POST.get(name, "").strip())
    }
    try:
        fields = stripe_rotation_parse(data, vendor=request.vendor, by=request.membership)
        stripe_connection_rotate(
            vendor=request.vendor, fields=fields, by=request.membership, actor=portal_actor(request)
        )
    except DomainError as exc:
        _owner_only(exc)
        if not exc.field_errors:  # not connected, or Stripe down: nothing to show on the inputs
            messages.error(request, exc.message)
            return redirect("settlement:stripe-connection")
        return _stripe_page(request, status=exc.status, rotate_form=rotate_form(exc.field_errors))
    messages.success(request, "New credentials checked and saved.")
    return redirect("settlement:stripe-connection")


@require_POST
@portal_view(write=True)
def stripe_tax_page(request: PortalRequest) -> HttpResponse:
    enabled = request.POST.get("tax_enabled") == "true"
    return _act(
        request,
        lambda: stripe_connection_tax_set(
            vendor=request.vendor,
            enabled=enabled,
            by=request.membership,
            actor=portal_actor(request),
        ),
        lambda _: (
            "Tax is on: Stripe Tax computes it on the next invoices."
            if enabled
            else "Tax is off for the next invoices."
        ),
    )


@require_POST
@portal_view(write=True)
def stripe_disconnect_page(request: PortalRequest) -> HttpResponse:
    return _act(
        request,
        lambda: stripe_connection_disconnect(
            vendor=request.vendor, by=request.membership, actor=portal_actor(request)
        ),
        lambda _: "Disconnected: invoices settle with the deployment's Stripe key again.",
    )

"""Settings pages: webhook sources (secret shown once, rotation with overlap, a signed curl example),
API keys (shown once, revoke), the team (add by email, roles, remove) and the vendor's invoice details."""

from __future__ import annotations

import datetime as dt
import json
import shlex
from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from contracts import selectors
from contracts.api.serializers import ApiKeyCreateIn, RotateSecretIn, WebhookSourceCreateIn
from contracts.customer_form import (
    address_and_tax_id_values,
    errors_on_rows,
    tax_details_body,
    tax_details_form,
)
from contracts.models import ApiKey, ContractStatus, Role, WebhookSource
from contracts.portal import PortalRequest, customer_choices, portal_actor, portal_view
from contracts.services import credentials, members
from contracts.services.vendors import vendor_invoice_details_update
from contracts.views.contracts import errors_of
from core.errors import DomainError, FieldErrors, NotFound
from core.forms import Form, Input, bind, serializer_errors
from core.portal import form_sent_before, remember_form_sent

OVERLAPS = [
    ("0", "None: the old secret stops at once"),
    ("3600", "1 hour"),
    ("86400", "24 hours"),
    ("604800", "7 days"),
    ("2592000", "30 days"),
]
NO_STORE = "no-store"


def _role_choices(request: PortalRequest) -> list[tuple[str, str]]:
    """Only an owner may hand out the owner role."""
    return [
        (role.value, role.label)
        for role in Role
        if role != Role.OWNER or request.membership.role == Role.OWNER
    ]


def _customer_choices(request: PortalRequest, empty: str) -> list[tuple[str, str]]:
    return customer_choices(selectors.customer_list(vendor=request.vendor), empty)


def source_form(
    request: PortalRequest, values: dict[str, str] | None = None, errors: FieldErrors | None = None
) -> Form:
    values = values or {}
    return bind(
        [
            Input("name", "Name", value=values.get("name", ""), help="e.g. Helpdesk production"),
            Input(
                "kind",
                "Kind",
                value=values.get("kind", ""),
                widget="select",
                choices=[("", "Choose a kind"), *WebhookSource.Kind.choices],
            ),
            Input(
                "customer_id",
                "Customer",
                value=values.get("customer_id", ""),
                widget="select",
                choices=_customer_choices(request, "Choose a customer"),
            ),
        ],
        errors,
        form_name="source",
    )


def api_key_form(
    request: PortalRequest, values: dict[str, str] | None = None, errors: FieldErrors | None = None
) -> Form:
    values = values or {}
    return bind(
        [
            Input(
                "name", "Name", value=values.get("name", ""), help="Where the key is used, e.g. CI exporter"
            ),
            Input(
                "scope",
                "Scope",
                value=values.get("scope", ApiKey.Scope.WRITE),
                widget="select",
                choices=list(ApiKey.Scope.choices),
            ),
            Input(
                "customer_id",
                "Holder",
                value=values.get("customer_id", ""),
                widget="select",
                choices=_customer_choices(request, "This vendor (the vendor API)"),
                help="A customer's key reaches only the customer API: that customer's outcomes and invoices.",
            ),
        ],
        errors,
        form_name="api_key",
    )


def member_form(
    request: PortalRequest, values: dict[str, str] | None = None, errors: FieldErrors | None = None
) -> Form:
    values = values or {}
    return bind(
        [
            Input("email", "Email", value=values.get("email", ""), widget="email"),
            Input(
                "role",
                "Role",
                value=values.get("role", Role.VIEWER),
                widget="select",
                choices=_role_choices(request),
            ),
        ],
        errors,
        form_name="member",
    )


def _settings_page(request: PortalRequest, *, status: int = 200, **forms: Form) -> HttpResponse:
    memberships = list(selectors.membership_list(vendor=request.vendor))
    return render(
        request,
        "contracts/settings.html",
        {
            "section": "settings",
            "sources": selectors.webhook_source_list(vendor=request.vendor),
            "api_keys": selectors.api_key_list(vendor=request.vendor).select_related("customer"),
            "memberships": memberships,
            "role_choices": _role_choices(request),
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
    return _settings_page(request)


def curl_example(request: PortalRequest, source: WebhookSource, secret: str | None) -> str:
    """A ready-to-run signed delivery to this source, signed as docs/webhooks.md describes (Standard
    Webhooks: base64 HMAC-SHA256 of "{id}.{timestamp}.{body}" keyed by the secret's decoded bytes)."""
    now = timezone.now().astimezone(dt.UTC)
    # A contract in force now (active, started, not ended): an event for any other is refused.
    contract = (
        selectors.contract_list(
            vendor=request.vendor,
            customer_id=str(source.customer_id),
            status=ContractStatus.ACTIVE,
            in_force_at=now,
        )
        .order_by("-starts_at", "-created_at")
        .first()
    )
    version = None if contract is None else selectors.contract_version_in_force(contract=contract, at=now)
    outcome_type = None if version is None else next(iter(version.outcome_types.all()), None)
    body = {
        "id": f"evt_{now:%Y%m%d%H%M%S}",
        "kind": "outcome.claimed" if source.kind == WebhookSource.Kind.VENDOR_AGENT else "outcome.confirmed",
        "contract": contract.reference if contract else "YOUR-CONTRACT-REFERENCE",
        "outcome_type": outcome_type.key if outcome_type else "ticket.resolved",
        "natural_key": "T-1001",
        "occurred_at": now.replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }
    return render_to_string(
        "contracts/curl_example.sh",
        {
            "url": request.build_absolute_uri(reverse("webhook-events", kwargs={"source_id": source.pk})),
            "secret": shlex.quote(secret) if secret else "'whsec_…'  # shown once at creation or rotation",
            "body": shlex.quote(json.dumps(body, separators=(",", ":"))),
        },
    )


def _sent_before(request: PortalRequest) -> HttpResponse | None:
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


def _secret_shown_once(
    request: PortalRequest, source: WebhookSource, secret: str, *, rotated: bool
) -> HttpResponse:
    response = render(
        request,
        "contracts/secret_once.html",
        {
            "section": "settings",
            "source": source,
            "secret": secret,
            "rotated": rotated,
            "curl": curl_example(request, source, secret),
        },
    )
    response["Cache-Control"] = NO_STORE
    return response


@require_POST
@portal_view
def source_create(request: PortalRequest) -> HttpResponse:
    if again := _sent_before(request):
        return again
    values = {name: request.POST.get(name, "") for name in ("name", "kind", "customer_id")}
    checked = WebhookSourceCreateIn(data=values)
    errors: FieldErrors = {} if checked.is_valid() else serializer_errors(checked)
    if not errors:
        try:
            customer = selectors.customer_get(
                vendor=request.vendor, customer_id=checked.validated_data["customer_id"]
            )
            source, secret = credentials.webhook_source_create(
                vendor=request.vendor,
                customer=customer,
                name=checked.validated_data["name"],
                kind=checked.validated_data["kind"],
                actor=portal_actor(request),
            )
        except NotFound:
            errors = {"customer_id": [{"code": "not_found", "message": "No such customer."}]}
        except DomainError as exc:
            errors = errors_of(exc)
        else:
            remember_form_sent(request, reverse("contracts:source-detail", args=[source.pk]))
            return _secret_shown_once(request, source, secret, rotated=False)
    return _settings_page(request, status=400, source_form=source_form(request, values, errors))


@portal_view
def source_detail(request: PortalRequest, source_id: str) -> HttpResponse:
    return _source_page(request, selectors.webhook_source_get(vendor=request.vendor, source_id=source_id))


def _source_page(
    request: PortalRequest, source: WebhookSource, rotate_errors: list[str] | None = None, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "contracts/source_detail.html",
        {
            "section": "settings",
            "source": source,
            "secrets": source.secrets.all(),
            "now": timezone.now(),
            "overlaps": OVERLAPS,
            "rotate_errors": rotate_errors or [],
            "curl": curl_example(request, source, None),
        },
        status=status,
    )


@require_POST
@portal_view
def source_rotate(request: PortalRequest, source_id: str) -> HttpResponse:
    source = selectors.webhook_source_get(vendor=request.vendor, source_id=source_id)
    if again := _sent_before(request):
        return again
    checked = RotateSecretIn(data={"overlap_seconds": request.POST.get("overlap_seconds", "")})
    if checked.is_valid():
        try:
            secret = credentials.webhook_source_rotate_secret(
                source=source,
                overlap=dt.timedelta(seconds=checked.validated_data["overlap_seconds"]),
                actor=portal_actor(request),
            )
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("contracts:source-detail", source_id=source.pk)
        remember_form_sent(request, reverse("contracts:source-detail", args=[source.pk]))
        return _secret_shown_once(
            request,
            selectors.webhook_source_get(vendor=request.vendor, source_id=source_id),
            secret,
            rotated=True,
        )
    errors = [item["message"] for items in serializer_errors(checked).values() for item in items]
    return _source_page(request, source, rotate_errors=errors, status=400)


@require_POST
@portal_view
def source_revoke(request: PortalRequest, source_id: str) -> HttpResponse:
    source = selectors.webhook_source_get(vendor=request.vendor, source_id=source_id)
    credentials.webhook_source_revoke(source=source, actor=portal_actor(request))
    messages.success(request, f"Webhook source {source.name} revoked: its secrets no longer verify.")
    return redirect("contracts:source-detail", source_id=source.pk)


@require_POST
@portal_view
def api_key_create(request: PortalRequest) -> HttpResponse:
    if again := _sent_before(request):
        return again
    values = {name: request.POST.get(name, "") for name in ("name", "scope", "customer_id")}
    checked = ApiKeyCreateIn(data=values)
    errors: FieldErrors = {} if checked.is_valid() else serializer_errors(checked)
    customer = None
    if values["customer_id"]:
        try:
            customer = selectors.customer_get(vendor=request.vendor, customer_id=values["customer_id"])
        except NotFound:
            errors["customer_id"] = [{"code": "not_found", "message": "No such customer."}]
    if errors:
        return _settings_page(request, status=400, api_key_form=api_key_form(request, values, errors))
    api_key, raw = credentials.api_key_create(
        vendor=request.vendor,
        name=checked.validated_data["name"],
        scope=checked.validated_data["scope"],
        actor=portal_actor(request),
        created_by_id=request.user.pk,
        customer=customer,
    )
    remember_form_sent(request, reverse("contracts:settings") + "#api-keys")
    response = render(
        request, "contracts/api_key_once.html", {"section": "settings", "api_key": api_key, "key": raw}
    )
    response["Cache-Control"] = NO_STORE
    return response


@require_POST
@portal_view
def api_key_revoke(request: PortalRequest, api_key_id: str) -> HttpResponse:
    api_key = selectors.api_key_get(vendor=request.vendor, api_key_id=api_key_id)
    credentials.api_key_revoke(api_key=api_key, actor=portal_actor(request))
    messages.success(request, f"API key {api_key.name} revoked.")
    return redirect(reverse("contracts:settings") + "#api-keys")


@require_POST
@portal_view
def member_add(request: PortalRequest) -> HttpResponse:
    values = {name: request.POST.get(name, "") for name in ("email", "role")}
    try:
        membership = members.member_add(
            vendor=request.vendor,
            data=values,
            by=request.membership,
            actor=portal_actor(request),
            base_url=request.build_absolute_uri("/"),
        )
    except DomainError as exc:
        return _settings_page(
            request, status=exc.status, member_form=member_form(request, values, errors_of(exc))
        )
    messages.success(request, f"{membership.user.email} added as {membership.get_role_display().lower()}.")
    return redirect(reverse("contracts:settings") + "#team")


def _team_change(request: PortalRequest, change: Any, done: str) -> HttpResponse:
    try:
        change()
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect(reverse("contracts:settings") + "#team")


@require_POST
@portal_view
def member_role(request: PortalRequest, membership_id: str) -> HttpResponse:
    membership = selectors.membership_get(vendor=request.vendor, membership_id=membership_id)
    role = request.POST.get("role", "")
    return _team_change(
        request,
        lambda: members.member_change_role(
            membership=membership, data={"role": role}, by=request.membership, actor=portal_actor(request)
        ),
        f"{membership.user.email} is now {role}.",
    )


@require_POST
@portal_view
def member_remove(request: PortalRequest, membership_id: str) -> HttpResponse:
    membership = selectors.membership_get(vendor=request.vendor, membership_id=membership_id)
    return _team_change(
        request,
        lambda: members.member_remove(
            membership=membership, by=request.membership, actor=portal_actor(request)
        ),
        f"{membership.user.email} removed from the team.",
    )


def _seller_name_input(value: str) -> list[Input]:
    return [
        Input("name", "Name on invoices", value=value, help="Your organization as your invoices name it.")
    ]


@portal_view
def invoice_details_page(request: PortalRequest) -> HttpResponse:
    """The seller on the vendor's invoices: its name, address and tax ids (owners and admins change them)."""
    vendor = request.vendor
    status = 200
    if request.method == "POST":  # a viewer's POST is refused by portal_view
        body, rows = tax_details_body(request.POST)
        body = {
            "name": request.POST.get("name", "").strip(),
            "address": body["address"],
            "tax_ids": body["tax_ids"],
        }
        try:
            vendor_invoice_details_update(vendor=vendor, data=body, actor=portal_actor(request))
        except DomainError as exc:
            errors = errors_on_rows(errors_of(exc), rows)
            form = tax_details_form(
                request.POST, errors, with_exemption=False, identity=_seller_name_input(body["name"])
            )
            status = exc.status
        else:
            messages.success(request, "Invoice details saved.")
            return redirect("contracts:invoice-details")
    else:
        values = address_and_tax_id_values(vendor.address, vendor.tax_ids)
        form = tax_details_form(values, with_exemption=False, identity=_seller_name_input(vendor.name))
    return render(
        request,
        "contracts/invoice_details.html",
        {"section": "settings", "tax_form": form},
        status=status,
    )

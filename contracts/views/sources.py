"""Webhook source pages: create (the secret shown once), a source with its secrets and a signed curl
example, rotation with an overlap, revocation."""

from __future__ import annotations

import datetime as dt
import json
import shlex

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from contracts import selectors
from contracts.api.serializers import RotateSecretIn, WebhookSourceCreateIn
from contracts.forms.settings import source_form
from contracts.models import ContractStatus, WebhookSource
from contracts.portal import PortalRequest, portal_actor, portal_view
from contracts.services import credentials
from contracts.views.settings import NO_STORE, sent_before, settings_page
from core.errors import DomainError, FieldErrors, NotFound
from core.forms import errors_of, serializer_errors
from core.portal import remember_form_sent

OVERLAPS = [
    ("0", "None: the old secret stops at once"),
    ("3600", "1 hour"),
    ("86400", "24 hours"),
    ("604800", "7 days"),
    ("2592000", "30 days"),
]


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
def source_create_page(request: PortalRequest) -> HttpResponse:
    if again := sent_before(request):
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
    return settings_page(request, status=400, source_form=source_form(request, values, errors))


@portal_view
def source_detail_page(request: PortalRequest, source_id: str) -> HttpResponse:
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
def source_rotate_page(request: PortalRequest, source_id: str) -> HttpResponse:
    source = selectors.webhook_source_get(vendor=request.vendor, source_id=source_id)
    if again := sent_before(request):
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
def source_revoke_page(request: PortalRequest, source_id: str) -> HttpResponse:
    source = selectors.webhook_source_get(vendor=request.vendor, source_id=source_id)
    credentials.webhook_source_revoke(source=source, actor=portal_actor(request))
    messages.success(request, f"Webhook source {source.name} revoked: its secrets no longer verify.")
    return redirect("contracts:source-detail", source_id=source.pk)

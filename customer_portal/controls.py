"""The customer's own controls (Settings): its caps (units, amount) and alerts per contract and outcome type, the webhook
sources of its system of record (create, approve one the vendor created, rotate), the endpoints it
registered for its events (each endpoint's own page: customer_portal.endpoints), and its API keys. Admins
change them; approvers and viewers read them.

Every change goes through the service the customer API calls, as the customer: a source created here is
approved at once, approving one rotates its secret, a key created here records who created it. A secret
is shown once, on the answer to the form (core.portal's forms sent once)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from contracts import selectors as contract_selectors
from contracts.api.serializers import ApiKeyCreateIn, CustomerWebhookSourceCreateIn, RotateSecretIn
from contracts.forms.settings import customer_member_form
from contracts.models import (
    ApiKey,
    Contract,
    ContractStatus,
    CustomerCap,
    CustomerRole,
    OutcomeType,
    WebhookSource,
)
from contracts.services import credentials
from contracts.views.settings import NO_STORE, sent_before
from contracts.views.sources import OVERLAPS
from core.errors import DomainError, ValidationFailed
from core.events import CUSTOMER
from core.forms import (
    Form,
    Input,
    MalformedInput,
    bind,
    errors_of,
    money_minor,
    money_text,
    serializer_errors,
)
from core.portal import add_domain_errors, remember_form_sent
from customer_portal.portal import (
    CustomerPortalRequest,
    customer_portal_actor,
    customer_portal_view,
    is_customer_admin,
    require_customer_admin,
)
from notifications import selectors as notification_selectors
from notifications.api.serializers import CustomerWebhookEndpointCreateIn
from notifications.catalogue import EVENT_TYPES
from notifications.models import Endpoint
from notifications.services import endpoints
from outcomes.services.customer_caps import customer_cap_remove, customer_cap_set

SETTINGS = "customer:settings"


# --- caps and alerts ----------------------------------------------------------------------------


class CapForm(forms.Form):
    """A cap of the customer's own: units, an amount in major units of the contract's currency, or both."""

    max_units = forms.IntegerField(
        label="Most per period",
        min_value=0,
        max_value=2_147_483_647,
        required=False,
        help_text="outcomes; 0: every one waits for you",
    )
    max_amount_minor = forms.CharField(
        label="Most billed per period", required=False, max_length=24, help_text="e.g. 500.00"
    )
    alert_percents = forms.CharField(
        label="Alerts at (%)", required=False, max_length=60, help_text="e.g. 50, 80, 100"
    )

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.fields["max_amount_minor"].label = f"Most billed per period ({currency})"

    def clean_max_amount_minor(self) -> int | None:
        """The amount typed in major units of the contract's currency, as the service's minor units."""
        text = self.cleaned_data["max_amount_minor"].strip()
        if not text:
            return None
        try:
            return money_minor(text, self.currency)
        except MalformedInput as exc:
            raise forms.ValidationError(str(exc), code="invalid_amount") from None

    def clean_alert_percents(self) -> list[int]:
        text = self.cleaned_data["alert_percents"].replace(",", " ").split()
        try:
            percents = sorted({int(item) for item in text})
        except ValueError as exc:
            raise forms.ValidationError("Whole percents from 1 to 100, separated by commas.") from exc
        if any(not 1 <= percent <= 100 for percent in percents) or len(percents) > 10:
            raise forms.ValidationError("At most 10 percents, each from 1 to 100.")
        return percents


def _forms(sent: dict[str, Any]) -> dict[str, Form]:
    """The create forms of sources, endpoints and keys; the one that was sent with its values and errors."""
    values: dict[str, Any] = sent.get("values", {})
    return {
        "source_form": bind(
            [Input("name", "Name", value=values.get("name", ""), help="e.g. Our helpdesk")],
            sent.get("source"),
            form_name="source",
        ),
        "endpoint_form": bind(
            [
                Input(
                    "url", "URL", value=values.get("url", ""), help="e.g. https://hooks.example.com/verity"
                ),
                Input("description", "Description", value=values.get("description", ""), help="Optional"),
                Input("event_types", "Event types", widget="none"),
            ],
            sent.get("endpoint"),
            form_name="endpoint",
        ),
        "api_key_form": bind(
            [
                Input("name", "Name", value=values.get("name", ""), help="e.g. Finance reconciliation"),
                Input(
                    "scope",
                    "Scope",
                    value=values.get("scope", ApiKey.Scope.WRITE),
                    widget="select",
                    choices=list(ApiKey.Scope.choices),
                ),
            ],
            sent.get("api_key"),
            form_name="api_key",
        ),
    }


@dataclass
class CapRow:
    contract: Contract
    outcome_type: OutcomeType
    cap: CustomerCap | None
    form: CapForm


def _cap_prefix(contract: Contract, key: str) -> str:
    return f"cap-{contract.pk.hex[:8]}-{key.replace('.', '-')}"


def _cap_form(
    contract: Contract, key: str, *, data: Any = None, initial: dict[str, Any] | None = None
) -> CapForm:
    return CapForm(data, prefix=_cap_prefix(contract, key), initial=initial, currency=contract.currency)


def _cap_rows(request: CustomerPortalRequest, bound: CapForm | None = None) -> list[CapRow]:
    """One form per outcome type of each contract's terms in force now (a contract not started yet: its
    latest), with the customer's cap on it if set; `bound` replaces the one that was sent."""
    now, rows = timezone.now(), []
    for contract in contract_selectors.contract_list_for_customer(customer=request.customer).order_by(
        "reference"
    ):
        if contract.status == ContractStatus.TERMINATED:
            continue
        version = contract_selectors.contract_version_in_force(contract=contract, at=now) or (
            list(contract.versions.all())[-1] if contract.versions.all() else None
        )
        if version is None:
            continue
        caps = {cap.outcome_type_key: cap for cap in contract_selectors.customer_cap_list(contract=contract)}
        for outcome_type in version.outcome_types.all():
            prefix, cap = _cap_prefix(contract, outcome_type.key), caps.get(outcome_type.key)
            form = (
                bound
                if bound is not None and bound.prefix == prefix
                else _cap_form(
                    contract,
                    outcome_type.key,
                    initial={}
                    if cap is None
                    else {
                        "max_units": cap.max_units,
                        "max_amount_minor": None
                        if cap.max_amount_minor is None
                        else money_text(cap.max_amount_minor, contract.currency),
                        "alert_percents": ", ".join(map(str, cap.alert_percents)),
                    },
                )
            )
            rows.append(CapRow(contract, outcome_type, cap, form))
    return rows


def settings_render(
    request: CustomerPortalRequest,
    *,
    status: int = 200,
    cap_form: CapForm | None = None,
    forms_sent: dict[str, Any] | None = None,
    person_form: Form | None = None,
) -> HttpResponse:
    """The Settings page; with the form that was sent (`cap_form`, `forms_sent`, `person_form`) bound to
    its values and errors."""
    customer = request.customer
    member_ids = {m.user_id for m in customer.memberships.all()}
    return render(
        request,
        "customer_portal/controls/settings.html",
        {
            "section": "settings",
            "is_admin": is_customer_admin(request),
            "cap_rows": _cap_rows(request, cap_form),
            "sources": contract_selectors.webhook_source_list_for_customer(customer=customer).order_by(
                "-created_at"
            ),
            "endpoints": notification_selectors.endpoint_list_for_customer(customer=customer),
            "api_keys": [
                (key, key.created_by if key.created_by_id in member_ids else None)
                for key in contract_selectors.api_key_list_for_customer(customer=customer)
            ],
            "overlaps": OVERLAPS,
            "event_types": [item for item in EVENT_TYPES if CUSTOMER in item.audiences],
            "chosen_event_types": (forms_sent or {}).get("values", {}).get("event_types", []),
            "now": timezone.now(),
            "people": contract_selectors.customer_member_list(customer=customer),
            "person_roles": CustomerRole.choices,
            "person_form": person_form or customer_member_form(),
            **_forms(forms_sent or {}),
        },
        status=status,
    )


settings_page = customer_portal_view(settings_render)


def _again(request: CustomerPortalRequest, body: dict[str, Any], status: int) -> HttpResponse:
    """The settings page again, with the errors of the form that was sent."""
    return settings_render(request, status=status, **body)


@require_POST
@customer_portal_view
def cap_set_page(request: CustomerPortalRequest, contract_id: str, outcome_type: str) -> HttpResponse:
    require_customer_admin(request)
    contract = contract_selectors.contract_get_with_terms_for_customer(
        customer=request.customer, contract_id=contract_id
    )
    form = _cap_form(contract, outcome_type, data=request.POST)
    if form.is_valid():
        try:
            customer_cap_set(
                contract=contract,
                outcome_type_key=outcome_type,
                max_units=form.cleaned_data["max_units"],
                max_amount_minor=form.cleaned_data["max_amount_minor"],
                alert_percents=form.cleaned_data["alert_percents"],
                actor=customer_portal_actor(request),
            )
        except ValidationFailed as exc:
            add_domain_errors(form, exc)
        else:
            messages.success(request, f"Your cap on {outcome_type} in {contract.reference} is saved.")
            return redirect(reverse(SETTINGS) + "#caps")
    return _again(request, {"cap_form": form}, 400)


@require_POST
@customer_portal_view
def cap_remove_page(request: CustomerPortalRequest, contract_id: str, outcome_type: str) -> HttpResponse:
    require_customer_admin(request)
    contract = contract_selectors.contract_get_for_customer(
        customer=request.customer, contract_id=contract_id
    )
    customer_cap_remove(
        contract=contract, outcome_type_key=outcome_type, actor=customer_portal_actor(request)
    )
    messages.success(
        request,
        f"Your cap on {outcome_type} in {contract.reference} is removed: what it held is evaluated again.",
    )
    return redirect(reverse(SETTINGS) + "#caps")


# --- the system of record's webhook sources -----------------------------------------------------


def shown_once(request: CustomerPortalRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """A page that shows a secret or key once (never stored by a browser or a proxy)."""
    response = render(request, f"customer_portal/controls/{template}", {"section": "settings", **context})
    response["Cache-Control"] = NO_STORE
    return response


@require_POST
@customer_portal_view
def source_create_page(request: CustomerPortalRequest) -> HttpResponse:
    require_customer_admin(request)
    if again := sent_before(request):
        return again
    checked = CustomerWebhookSourceCreateIn(data={"name": request.POST.get("name", "")})
    if not checked.is_valid():
        return _again(
            request, {"forms_sent": {"source": serializer_errors(checked), "values": request.POST}}, 400
        )
    source, secret = credentials.webhook_source_create(
        vendor=request.customer.vendor,
        customer=request.customer,
        name=checked.validated_data["name"],
        kind=WebhookSource.Kind.CUSTOMER_SYSTEM,
        actor=customer_portal_actor(request),
        by_customer=True,
    )
    remember_form_sent(request, reverse(SETTINGS) + "#sources")
    return shown_once(
        request, "source_secret_once.html", {"source": source, "secret": secret, "how": "created"}
    )


@require_POST
@customer_portal_view
def source_approve_page(request: CustomerPortalRequest, source_id: str) -> HttpResponse:
    require_customer_admin(request)
    source = contract_selectors.webhook_source_get_for_customer(
        customer=request.customer, source_id=source_id
    )
    if again := sent_before(request):
        return again
    try:
        secret = credentials.webhook_source_approve(source=source, actor=customer_portal_actor(request))
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(reverse(SETTINGS) + "#sources")
    remember_form_sent(request, reverse(SETTINGS) + "#sources")
    source.refresh_from_db()
    return shown_once(
        request, "source_secret_once.html", {"source": source, "secret": secret, "how": "approved"}
    )


@require_POST
@customer_portal_view
def source_rotate_page(request: CustomerPortalRequest, source_id: str) -> HttpResponse:
    require_customer_admin(request)
    source = contract_selectors.webhook_source_get_for_customer(
        customer=request.customer, source_id=source_id
    )
    if again := sent_before(request):
        return again
    checked = RotateSecretIn(data={"overlap_seconds": request.POST.get("overlap_seconds", "")})
    if not checked.is_valid():
        messages.error(request, "Choose how long the current secret keeps verifying.")
        return redirect(reverse(SETTINGS) + "#sources")
    try:
        secret = credentials.webhook_source_rotate_secret(
            source=source,
            overlap=dt.timedelta(seconds=checked.validated_data["overlap_seconds"]),
            actor=customer_portal_actor(request),
            by_customer=True,
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(reverse(SETTINGS) + "#sources")
    remember_form_sent(request, reverse(SETTINGS) + "#sources")
    return shown_once(
        request, "source_secret_once.html", {"source": source, "secret": secret, "how": "rotated"}
    )


# --- the customer's own endpoints -----------------------------------------------------------------


@require_POST
@customer_portal_view
def endpoint_create_page(request: CustomerPortalRequest) -> HttpResponse:
    require_customer_admin(request)
    if again := sent_before(request):
        return again
    data = {
        "url": request.POST.get("url", ""),
        "description": request.POST.get("description", ""),
        "event_types": request.POST.getlist("event_types"),
    }
    checked = CustomerWebhookEndpointCreateIn(data=data)
    errors = {} if checked.is_valid() else serializer_errors(checked)
    if not errors:
        try:
            endpoint, secret = endpoints.endpoint_create(
                vendor=request.customer.vendor,
                customer=request.customer,
                registered_by=Endpoint.Owner.CUSTOMER,
                url=checked.validated_data["url"],
                description=checked.validated_data["description"],
                event_types=checked.validated_data["event_types"],
                actor=customer_portal_actor(request),
            )
        except DomainError as exc:
            errors = errors_of(exc)
        else:
            remember_form_sent(request, reverse(SETTINGS) + "#endpoints")
            return shown_once(
                request,
                "endpoint_secret_once.html",
                {"endpoint": endpoint, "secret": secret, "rotated": False},
            )
    return _again(request, {"forms_sent": {"endpoint": errors, "values": data}}, 400)


# --- API keys -------------------------------------------------------------------------------------


@require_POST
@customer_portal_view
def api_key_create_page(request: CustomerPortalRequest) -> HttpResponse:
    require_customer_admin(request)
    if again := sent_before(request):
        return again
    checked = ApiKeyCreateIn(
        data={"name": request.POST.get("name", ""), "scope": request.POST.get("scope", "")}
    )
    if not checked.is_valid():
        return _again(
            request, {"forms_sent": {"api_key": serializer_errors(checked), "values": request.POST}}, 400
        )
    api_key, raw = credentials.api_key_create(
        vendor=request.customer.vendor,
        name=checked.validated_data["name"],
        scope=checked.validated_data["scope"],
        actor=customer_portal_actor(request),
        created_by_id=request.user.pk,
        customer=request.customer,
    )
    remember_form_sent(request, reverse(SETTINGS) + "#api-keys")
    return shown_once(request, "api_key_once.html", {"api_key": api_key, "key": raw})


@require_POST
@customer_portal_view
def api_key_revoke_page(request: CustomerPortalRequest, api_key_id: str) -> HttpResponse:
    require_customer_admin(request)
    api_key = contract_selectors.api_key_get_for_customer(customer=request.customer, api_key_id=api_key_id)
    credentials.api_key_revoke(api_key=api_key, actor=customer_portal_actor(request))
    messages.success(request, f"API key {api_key.name} revoked.")
    return redirect(reverse(SETTINGS) + "#api-keys")

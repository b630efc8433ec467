"""Portal pages of Settings > Webhooks out: the endpoints (state, failures, a disabled one's reason and
Enable), registration (the secret shown once), an endpoint with its delivery log, and what a person asks
of it: resend one delivery or everything since a time, send a test event, rotate the secret, delete.

An endpoint's page is also the customer portal's (customer_portal.controls): its context
(`endpoint_page_context`, templates/notifications/_endpoint.html) and the resends' form handling are
shared, each portal giving its own routes and who may change the endpoint."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from contracts import selectors as contract_selectors
from contracts.portal import PortalRequest, portal_actor, portal_view
from contracts.views.settings import NO_STORE, sent_before
from core.errors import DomainError, FieldErrors, NotFound
from core.events import CUSTOMER
from core.forms import Form, Input, bind, errors_of, serializer_errors
from core.portal import keyset_page, remember_form_sent
from notifications import selectors
from notifications.api.serializers import (
    WebhookEndpointCreateIn,
    WebhookEndpointRotateIn,
    WebhookEndpointUpdateIn,
    WebhookResendSinceIn,
)
from notifications.catalogue import EVENT_TYPES
from notifications.forms import OVERLAPS, endpoint_form
from notifications.models import Delivery, Endpoint
from notifications.services import deliveries, endpoints

LIST = "notifications:endpoint-list"
DETAIL = "notifications:endpoint-detail"


def _list_page(
    request: PortalRequest, *, form: Form | None = None, chosen: list[str] | None = None
) -> HttpResponse:
    return render(
        request,
        "notifications/endpoint_list.html",
        {
            "section": "settings",
            "endpoints": selectors.endpoint_list(vendor=request.vendor),
            "now": timezone.now(),
            "form": form or endpoint_form(request),
            "event_types": EVENT_TYPES,
            "customer_audience": CUSTOMER,
            "chosen": chosen or [],
        },
        status=400 if form else 200,
    )


@portal_view
def endpoint_list_page(request: PortalRequest) -> HttpResponse:
    return _list_page(request)


@require_POST
@portal_view
def endpoint_create_page(request: PortalRequest) -> HttpResponse:
    if again := sent_before(request):
        return again
    values = {name: request.POST.get(name, "") for name in ("url", "description", "customer_id")}
    chosen = request.POST.getlist("event_types")
    checked = WebhookEndpointCreateIn(
        data={**values, "customer_id": values["customer_id"] or None, "event_types": chosen}
    )
    errors: FieldErrors = {} if checked.is_valid() else serializer_errors(checked)
    if not errors:
        try:
            customer = None
            if checked.validated_data.get("customer_id"):
                customer = contract_selectors.customer_get(
                    vendor=request.vendor, customer_id=checked.validated_data["customer_id"]
                )
            endpoint, secret = endpoints.endpoint_create(
                vendor=request.vendor,
                customer=customer,
                url=checked.validated_data["url"],
                description=checked.validated_data["description"],
                event_types=checked.validated_data["event_types"],
                actor=portal_actor(request),
            )
        except NotFound:
            errors = {"customer_id": [{"code": "not_found", "message": "No such customer."}]}
        except DomainError as exc:
            errors = errors_of(exc)
        else:
            remember_form_sent(request, reverse(DETAIL, args=[endpoint.pk]))
            return _secret_shown_once(request, endpoint, secret, rotated=False)
    return _list_page(request, form=endpoint_form(request, values, errors), chosen=chosen)


def _secret_shown_once(
    request: PortalRequest, endpoint: Endpoint, secret: str, *, rotated: bool
) -> HttpResponse:
    response = render(
        request,
        "notifications/secret_once.html",
        {"section": "settings", "endpoint": endpoint, "secret": secret, "rotated": rotated},
    )
    response["Cache-Control"] = NO_STORE
    return response


@portal_view
def endpoint_detail_page(request: PortalRequest, endpoint_id: str) -> HttpResponse:
    endpoint = selectors.endpoint_get(vendor=request.vendor, endpoint_id=endpoint_id)
    return _detail_page(request, endpoint)


@require_POST
@portal_view
def endpoint_edit_page(request: PortalRequest, endpoint_id: str) -> HttpResponse:
    endpoint = selectors.endpoint_get(vendor=request.vendor, endpoint_id=endpoint_id)
    form, chosen = endpoint_edit_sent(request, endpoint, actor=portal_actor(request))
    if form is None:
        messages.success(request, f"Endpoint {endpoint.url} saved.")
        return redirect("notifications:endpoint-detail", endpoint_id=endpoint.pk)
    return _detail_page(request, endpoint, edit_form=form, chosen=chosen)


def _detail_page(
    request: PortalRequest,
    endpoint: Endpoint,
    *,
    errors: dict[str, list[str]] | None = None,
    edit_form: Form | None = None,
    chosen: list[str] | None = None,
) -> HttpResponse:
    urls = {name: reverse(f"notifications:endpoint-{name}", args=[endpoint.pk]) for name in VENDOR_ACTIONS}
    return render(
        request,
        "notifications/endpoint_detail.html",
        {
            "section": "settings",
            **endpoint_page_context(
                request,
                endpoint,
                endpoint_urls={
                    **urls,
                    "resend_since": reverse("notifications:endpoint-resend-since", args=[endpoint.pk]),
                },
                delivery_resend_route="notifications:delivery-resend",
                may_change=request.membership.can_write,
                errors=errors,
                edit_form=edit_form,
                chosen=chosen,
            ),
        },
        status=400 if errors or (edit_form and edit_form.error_count) else 200,
    )


VENDOR_ACTIONS = ("test", "rotate", "delete", "enable", "edit")


def endpoint_page_context(
    request: HttpRequest,
    endpoint: Endpoint,
    *,
    endpoint_urls: dict[str, str],
    delivery_resend_route: str,
    may_change: bool,
    errors: dict[str, list[str]] | None = None,
    edit_form: Form | None = None,
    chosen: list[str] | None = None,
) -> dict[str, Any]:
    """What templates/notifications/_endpoint.html shows of an endpoint, in either portal: its secrets,
    its delivery log (a page of it), and the forms of whoever `may_change` it, each posting to its URL in
    `endpoint_urls` (test, resend_since, rotate, delete, enable, edit; disable where the portal has it);
    `delivery_resend_route` names the route that resends one delivery (endpoint id, delivery id). The edit
    form is the one that was sent (`edit_form`, its event types `chosen`) or the endpoint as it is."""
    now = timezone.now()
    return {
        "edit_form": edit_form or endpoint_edit_form(endpoint),
        "chosen_event_types": endpoint.event_types if chosen is None else chosen,
        "event_types": [
            item for item in EVENT_TYPES if endpoint.customer_id is None or CUSTOMER in item.audiences
        ],
        "endpoint": endpoint,
        "secrets": endpoint.secrets.all(),
        "now": now,
        "overlaps": OVERLAPS,
        "page": keyset_page(request, selectors.delivery_list(endpoint=endpoint), per_page=50),
        # The resend form's default: a day ago, in the datetime-local input's format (UTC).
        "since_default": (now - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "errors": errors or {},
        "endpoint_urls": endpoint_urls,
        "delivery_resend_route": delivery_resend_route,
        "may_change": may_change,
    }


def endpoint_edit_form(
    endpoint: Endpoint, values: dict[str, str] | None = None, errors: FieldErrors | None = None
) -> Form:
    """The form that changes an endpoint's description, event types and state, in either portal."""
    values = values or {
        "description": endpoint.description,
        "enabled": "true" if endpoint.is_enabled else "false",
    }
    return bind(
        [
            Input("description", "Description", value=values.get("description", ""), help="Optional"),
            Input("event_types", "Event types", widget="none"),
            Input(
                "enabled",
                "Enabled: events are sent to it",
                value=values.get("enabled", "false"),
                widget="checkbox",
                help="Disabled, nothing is sent (what it misses is not sent later: resend it since a time).",
            ),
        ],
        errors,
        form_name="endpoint_edit",
    )


def endpoint_edit_sent(
    request: HttpRequest, endpoint: Endpoint, *, actor: str
) -> tuple[Form | None, list[str]]:
    """Apply the edit form that was sent through the services the API calls (endpoint_update, then
    endpoint_enable or endpoint_disable): None when it was saved, else the form with its errors; and the
    event types as sent."""
    values = {
        "description": request.POST.get("description", ""),
        "enabled": "true" if request.POST.getlist("enabled")[-1:] == ["true"] else "false",
    }
    chosen = request.POST.getlist("event_types")
    checked = WebhookEndpointUpdateIn(data={"description": values["description"], "event_types": chosen})
    errors = {} if checked.is_valid() else serializer_errors(checked)
    if not errors:
        try:
            endpoint = endpoints.endpoint_update(endpoint=endpoint, actor=actor, **checked.validated_data)
        except DomainError as exc:
            errors = errors_of(exc)
        else:
            if values["enabled"] == "true":
                endpoints.endpoint_enable(endpoint=endpoint, actor=actor)
            else:
                endpoints.endpoint_disable(endpoint=endpoint, actor=actor)
            return None, chosen
    return endpoint_edit_form(endpoint, values, errors), chosen


def field_messages(errors: FieldErrors) -> list[str]:
    return [item["message"] for items in errors.values() for item in items]


def resend_since_form(request: HttpRequest, endpoint: Endpoint, *, actor: str) -> tuple[int, list[str]]:
    """Resend every event since the form's time (`since`): how many will be sent, or the form's errors."""
    checked = WebhookResendSinceIn(data={"since": request.POST.get("since", "")})
    if not checked.is_valid():
        return 0, field_messages(serializer_errors(checked))
    try:
        count = deliveries.deliveries_resend_since(
            endpoint=endpoint, since=checked.validated_data["since"], actor=actor
        )
    except DomainError as exc:
        return 0, field_messages(errors_of(exc))
    return count, []


def resent_message(count: int) -> str:
    return f"{count} event{'s' if count != 1 else ''} will be sent again."


def delivery_resend_message(endpoint: Endpoint, delivery: Delivery, *, actor: str) -> str:
    """Send one delivery's event again (DomainError if refused); what to tell the person."""
    deliveries.delivery_resend(endpoint=endpoint, event=delivery.event, actor=actor)
    return f"{delivery.event.type} ({delivery.event.webhook_id}) will be sent again."


TEST_SENT = "A webhook.test event is on its way: its delivery appears in the log below."


@require_POST
@portal_view
def endpoint_rotate_page(request: PortalRequest, endpoint_id: str) -> HttpResponse:
    endpoint = selectors.endpoint_get(vendor=request.vendor, endpoint_id=endpoint_id)
    if again := sent_before(request):
        return again
    checked = WebhookEndpointRotateIn(data={"overlap_seconds": request.POST.get("overlap_seconds", "")})
    if not checked.is_valid():
        return _detail_page(request, endpoint, errors={"rotate": field_messages(serializer_errors(checked))})
    secret = endpoints.endpoint_secret_rotate(
        endpoint=endpoint,
        overlap=dt.timedelta(seconds=checked.validated_data["overlap_seconds"]),
        actor=portal_actor(request),
    )
    remember_form_sent(request, reverse(DETAIL, args=[endpoint.pk]))
    return _secret_shown_once(request, endpoint, secret, rotated=True)


@require_POST
@portal_view
def endpoint_enable_page(request: PortalRequest, endpoint_id: str) -> HttpResponse:
    endpoint = selectors.endpoint_get(vendor=request.vendor, endpoint_id=endpoint_id)
    endpoints.endpoint_enable(endpoint=endpoint, actor=portal_actor(request))
    messages.success(
        request,
        f"Endpoint {endpoint.url} enabled. Events recorded while it was disabled were not sent: "
        "resend them since a time below.",
    )
    return redirect(DETAIL, endpoint_id=endpoint.pk)


@require_POST
@portal_view
def endpoint_delete_page(request: PortalRequest, endpoint_id: str) -> HttpResponse:
    endpoint = selectors.endpoint_get(vendor=request.vendor, endpoint_id=endpoint_id)
    endpoints.endpoint_delete(endpoint=endpoint, actor=portal_actor(request))
    messages.success(request, f"Endpoint {endpoint.url} deleted: nothing more is sent to it.")
    return redirect(LIST)


def _sent(request: PortalRequest, endpoint: Endpoint, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect(DETAIL, endpoint_id=endpoint.pk)


def _refused(request: PortalRequest, endpoint: Endpoint, exc: DomainError) -> HttpResponse:
    messages.error(request, exc.message)
    return redirect(DETAIL, endpoint_id=endpoint.pk)


@require_POST
@portal_view
def endpoint_test_page(request: PortalRequest, endpoint_id: str) -> HttpResponse:
    endpoint = selectors.endpoint_get(vendor=request.vendor, endpoint_id=endpoint_id)
    try:
        deliveries.endpoint_send_test(endpoint=endpoint, actor=portal_actor(request))
    except DomainError as exc:
        return _refused(request, endpoint, exc)
    return _sent(request, endpoint, TEST_SENT)


@require_POST
@portal_view
def endpoint_resend_since_page(request: PortalRequest, endpoint_id: str) -> HttpResponse:
    endpoint = selectors.endpoint_get(vendor=request.vendor, endpoint_id=endpoint_id)
    count, errors = resend_since_form(request, endpoint, actor=portal_actor(request))
    if errors:
        return _detail_page(request, endpoint, errors={"since": errors})
    return _sent(request, endpoint, resent_message(count))


@require_POST
@portal_view
def delivery_resend_page(request: PortalRequest, endpoint_id: str, delivery_id: str) -> HttpResponse:
    endpoint = selectors.endpoint_get(vendor=request.vendor, endpoint_id=endpoint_id)
    delivery = selectors.delivery_get(endpoint=endpoint, delivery_id=delivery_id)
    try:
        message = delivery_resend_message(endpoint, delivery, actor=portal_actor(request))
    except DomainError as exc:
        return _refused(request, endpoint, exc)
    return _sent(request, endpoint, message)

"""A customer's own webhook endpoint, its page in Settings: the vendor's endpoint page (notifications'
template, context and form handling) with the customer's routes. Its delivery log for everyone of the
customer; for its admins, edit (description, event types, enabled), send a test event, resend one event
or everything since a time, rotate the secret, delete. Only the endpoints the customer registered are
found (not those the vendor registered for it), and their logs hold only that customer's events
(notifications.selectors.endpoint_events)."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from contracts.api.serializers import RotateSecretIn
from contracts.views.settings import sent_before
from core.errors import DomainError
from core.forms import Form
from core.portal import remember_form_sent
from customer_portal.controls import SETTINGS, shown_once
from customer_portal.portal import (
    CustomerPortalRequest,
    customer_portal_actor,
    customer_portal_view,
    is_customer_admin,
    require_customer_admin,
)
from notifications import selectors as notification_selectors
from notifications.models import Endpoint
from notifications.services import deliveries, endpoints
from notifications.views import (
    TEST_SENT,
    delivery_resend_message,
    endpoint_edit_sent,
    endpoint_page_context,
    resend_since_form,
    resent_message,
)

ENDPOINT_ACTIONS = ("enable", "disable", "rotate", "delete", "test")


def _endpoint_page(
    request: CustomerPortalRequest,
    endpoint: Endpoint,
    *,
    edit_form: Form | None = None,
    chosen: list[str] | None = None,
    errors: dict[str, list[str]] | None = None,
) -> HttpResponse:
    """An endpoint's page: the vendor's endpoint page (notifications' template and context) with the
    customer's routes, and for admins the edit form (`edit_form`, `chosen`: the one that was sent)."""
    urls = {
        action: reverse("customer:endpoint-action", args=[endpoint.pk, action]) for action in ENDPOINT_ACTIONS
    }
    for name in ("edit", "resend-since"):
        urls[name.replace("-", "_")] = reverse(f"customer:endpoint-{name}", args=[endpoint.pk])
    return render(
        request,
        "customer_portal/controls/endpoint_detail.html",
        {
            "section": "settings",
            **endpoint_page_context(
                request,
                endpoint,
                endpoint_urls=urls,
                delivery_resend_route="customer:endpoint-delivery-resend",
                may_change=is_customer_admin(request),
                errors=errors,
                edit_form=edit_form,
                chosen=chosen,
            ),
        },
        status=400 if errors or (edit_form and edit_form.error_count) else 200,
    )


@customer_portal_view
def endpoint_detail_page(request: CustomerPortalRequest, endpoint_id: str) -> HttpResponse:
    endpoint = notification_selectors.endpoint_get_for_customer(
        customer=request.customer, endpoint_id=endpoint_id
    )
    return _endpoint_page(request, endpoint)


@require_POST
@customer_portal_view
def endpoint_edit_page(request: CustomerPortalRequest, endpoint_id: str) -> HttpResponse:
    """Change the description, the event types and whether it is enabled, as the vendor's page does."""
    require_customer_admin(request)
    endpoint = notification_selectors.endpoint_get_for_customer(
        customer=request.customer, endpoint_id=endpoint_id
    )
    form, chosen = endpoint_edit_sent(request, endpoint, actor=customer_portal_actor(request))
    if form is None:
        messages.success(request, f"Endpoint {endpoint.url} saved.")
        return redirect("customer:endpoint-detail", endpoint_id=endpoint.pk)
    return _endpoint_page(request, endpoint, edit_form=form, chosen=chosen)


@require_POST
@customer_portal_view
def endpoint_resend_since_page(request: CustomerPortalRequest, endpoint_id: str) -> HttpResponse:
    require_customer_admin(request)
    endpoint = notification_selectors.endpoint_get_for_customer(
        customer=request.customer, endpoint_id=endpoint_id
    )
    count, errors = resend_since_form(request, endpoint, actor=customer_portal_actor(request))
    if errors:
        return _endpoint_page(request, endpoint, errors={"since": errors})
    messages.success(request, resent_message(count))
    return redirect("customer:endpoint-detail", endpoint_id=endpoint.pk)


@require_POST
@customer_portal_view
def endpoint_delivery_resend_page(
    request: CustomerPortalRequest, endpoint_id: str, delivery_id: str
) -> HttpResponse:
    require_customer_admin(request)
    endpoint = notification_selectors.endpoint_get_for_customer(
        customer=request.customer, endpoint_id=endpoint_id
    )
    delivery = notification_selectors.delivery_get(endpoint=endpoint, delivery_id=delivery_id)
    try:
        messages.success(
            request, delivery_resend_message(endpoint, delivery, actor=customer_portal_actor(request))
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("customer:endpoint-detail", endpoint_id=endpoint.pk)


@require_POST
@customer_portal_view
def endpoint_action_page(request: CustomerPortalRequest, endpoint_id: str, action: str) -> HttpResponse:
    """Enable, disable, rotate the secret (shown once), delete, or send a test event; back to the
    endpoint's page (a deletion: to Settings)."""
    require_customer_admin(request)
    endpoint = notification_selectors.endpoint_get_for_customer(
        customer=request.customer, endpoint_id=endpoint_id
    )
    if action not in ENDPOINT_ACTIONS:
        raise Http404("No such action.")
    actor, back = customer_portal_actor(request), reverse("customer:endpoint-detail", args=[endpoint.pk])
    try:
        if action == "rotate":
            if again := sent_before(request):
                return again
            checked = RotateSecretIn(data={"overlap_seconds": request.POST.get("overlap_seconds", "")})
            if not checked.is_valid():
                return _endpoint_page(
                    request,
                    endpoint,
                    errors={"rotate": ["Choose how long the current secret keeps signing."]},
                )
            secret = endpoints.endpoint_secret_rotate(
                endpoint=endpoint,
                overlap=dt.timedelta(seconds=checked.validated_data["overlap_seconds"]),
                actor=actor,
            )
            remember_form_sent(request, back)
            return shown_once(
                request,
                "endpoint_secret_once.html",
                {"endpoint": endpoint, "secret": secret, "rotated": True},
            )
        if action == "enable":
            endpoints.endpoint_enable(endpoint=endpoint, actor=actor)
            messages.success(request, f"Endpoint {endpoint.url} enabled.")
        elif action == "disable":
            endpoints.endpoint_disable(endpoint=endpoint, actor=actor)
            messages.success(
                request, f"Endpoint {endpoint.url} disabled: nothing is sent to it until enabled."
            )
        elif action == "delete":
            endpoints.endpoint_delete(endpoint=endpoint, actor=actor)
            messages.success(request, f"Endpoint {endpoint.url} deleted: nothing more is sent to it.")
            back = reverse(SETTINGS) + "#endpoints"
        else:
            deliveries.endpoint_send_test(endpoint=endpoint, actor=actor)
            messages.success(request, TEST_SENT)
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(back)

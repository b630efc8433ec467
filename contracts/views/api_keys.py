"""API key pages: create (the key shown once) and revoke."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from contracts import selectors
from contracts.api.serializers import ApiKeyCreateIn
from contracts.forms.settings import api_key_form
from contracts.portal import PortalRequest, portal_actor, portal_view
from contracts.services import credentials
from contracts.views.settings import NO_STORE, sent_before, settings_page
from core.errors import FieldErrors, NotFound
from core.forms import serializer_errors
from core.portal import remember_form_sent


@require_POST
@portal_view
def api_key_create_page(request: PortalRequest) -> HttpResponse:
    if again := sent_before(request):
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
        return settings_page(request, status=400, api_key_form=api_key_form(request, values, errors))
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
def api_key_revoke_page(request: PortalRequest, api_key_id: str) -> HttpResponse:
    api_key = selectors.api_key_get(vendor=request.vendor, api_key_id=api_key_id)
    credentials.api_key_revoke(api_key=api_key, actor=portal_actor(request))
    messages.success(request, f"API key {api_key.name} revoked.")
    return redirect(reverse("contracts:settings") + "#api-keys")

"""Stripe's webhook endpoints: verify the signature, store the event raw, process it, answer 5xx on
failure so Stripe retries. Machine endpoints, apart from the portal's pages."""

from __future__ import annotations

import logging
from typing import Any

from csp.decorators import csp_exempt
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from core.api.errors import logged_once, require_post
from settlement.services.stripe_events import (
    EventNotVerified,
    stripe_event_process,
    stripe_event_record,
    stripe_event_verify,
)

logger = logging.getLogger(__name__)

MAX_CREATED = 2**32  # seconds since the epoch: year 2106


def _shape_problem(event: Any, payload: bytes) -> str | None:
    """Why a verified event cannot be stored as it is, or None: a validly signed body is still input."""
    if not isinstance(event, dict):
        return "The event is not a JSON object."
    event_id, event_type, created = event.get("id"), event.get("type", ""), event.get("created", 0)
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 100:
        return "id must be a string of 1 to 100 characters."
    if not isinstance(event_type, str) or len(event_type) > 100:
        return "type must be a string of at most 100 characters."
    if type(created) is not int or not 0 <= created < MAX_CREATED:
        return "created must be integer seconds since the epoch."
    if len(str(event.get("account") or "")) > 100:
        return "account must be a Stripe account id of at most 100 characters."
    data = event.get("data", {})
    obj = data.get("object", {}) if isinstance(data, dict) else None
    if not isinstance(obj, dict) or not isinstance(obj.get("id", ""), str):
        return "data.object must be an object, with a string id."
    if b"\\u0000" in payload:  # PostgreSQL keeps no NUL in jsonb; Stripe never sends one
        return "The event holds a NUL character."
    return None


@csp_exempt()  # a machine's JSON endpoint, on the hot path: no page to protect
@csrf_exempt
@require_post
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    """The deployment's endpoint: its own account's events and, in platform mode, connected accounts'."""
    return _stripe_event_receive(request, vendor_id=None)


@csp_exempt()
@csrf_exempt
@require_post
def stripe_vendor_webhook(request: HttpRequest, vendor_id: str) -> JsonResponse:
    """A vendor's own endpoint: the events of the Stripe account it connected with its own key."""
    return _stripe_event_receive(request, vendor_id=vendor_id)


def _stripe_event_receive(request: HttpRequest, *, vendor_id: str | None) -> JsonResponse:
    try:
        verified = stripe_event_verify(
            payload=request.body,
            signature_header=request.headers.get("Stripe-Signature", ""),
            vendor_id=vendor_id,
        )
    except EventNotVerified:
        return JsonResponse(
            {
                "status": 400,
                "code": "invalid_signature",
                "message": "Stripe-Signature does not verify.",
                "field_errors": {},
            },
            status=400,
        )
    event = verified.event
    problem = _shape_problem(event, request.body)
    if problem is not None:
        return JsonResponse(
            {"status": 400, "code": "invalid_event", "message": problem, "field_errors": {}}, status=400
        )
    stored, _ = stripe_event_record(event=event, account=verified.account)
    try:
        stripe_event_process(event_id=stored.pk)
    except Exception:
        logger.exception("Stripe event %s failed; Stripe will retry", stored.pk)
        return logged_once(
            JsonResponse(
                {
                    "status": 500,
                    "code": "processing_failed",
                    "message": "Try again later.",
                    "field_errors": {},
                },
                status=500,
            )
        )
    return JsonResponse({"received": True})

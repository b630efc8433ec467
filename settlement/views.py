"""The Stripe webhook endpoint: verify the signature, store the event raw, process it, 5xx on failure."""

from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from settlement.services.stripe_events import stripe_event_process, stripe_event_record
from settlement.stripe_gateway import event_verify

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    try:
        event = event_verify(
            payload=request.body, signature_header=request.headers.get("Stripe-Signature", "")
        )
    except ValueError:
        return JsonResponse(
            {
                "status": 400,
                "code": "invalid_signature",
                "message": "Stripe-Signature does not verify.",
                "field_errors": {},
            },
            status=400,
        )
    stored, _ = stripe_event_record(event=event)
    try:
        stripe_event_process(event_id=stored.pk)
    except Exception:
        logger.exception("Stripe event %s failed; Stripe will retry", stored.pk)
        return JsonResponse(
            {"status": 500, "code": "processing_failed", "message": "Try again later.", "field_errors": {}},
            status=500,
        )
    return JsonResponse({"received": True})

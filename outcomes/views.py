"""The webhook endpoint: a plain Django view (no DRF machinery on the hot path) over the ingestion service."""

from __future__ import annotations

import orjson
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from outcomes.events import MAX_BODY_BYTES
from outcomes.services.ingestion import IngestResponse, delivery_receive, error_response


def _json(response: IngestResponse) -> HttpResponse:
    return HttpResponse(orjson.dumps(response.body), status=response.status, content_type="application/json")


@csrf_exempt
@require_POST
def webhook_events(request: HttpRequest, source_id: str) -> HttpResponse:
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return _json(
            error_response(413, "body_too_large", f"A request body holds at most {MAX_BODY_BYTES} bytes.")
        )
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return _json(
            error_response(413, "body_too_large", f"A request body holds at most {MAX_BODY_BYTES} bytes.")
        )
    return _json(delivery_receive(source_id=source_id, body=body, headers=dict(request.headers)))

"""The webhook endpoint: a plain Django view (no DRF machinery on the hot path) over the ingestion service."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from outcomes.events import MAX_BODY_BYTES
from outcomes.services.ingestion import STORED_HEADERS, IngestResponse, delivery_receive, error_response

# The only headers the service reads (the signature's) or keeps, by their WSGI names: taken from
# META directly rather than building request.headers from every header of the request.
_META_KEYS = tuple(
    (name, "CONTENT_TYPE" if name == "content-type" else "HTTP_" + name.upper().replace("-", "_"))
    for name in STORED_HEADERS
)


def _json(response: IngestResponse) -> HttpResponse:
    return HttpResponse(response.json(), status=response.status, content_type="application/json")


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
    meta = request.META
    headers = {name: meta[key] for name, key in _META_KEYS if key in meta}
    return _json(delivery_receive(source_id=source_id, body=body, headers=headers))

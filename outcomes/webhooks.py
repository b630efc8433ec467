"""The event webhook endpoint: a plain Django view (no DRF machinery on the hot path) over ingestion."""

from __future__ import annotations

from csp.decorators import csp_exempt
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from core.api.errors import require_post
from core.networks import sender_address
from core.ratelimits import rate_limit_retry_after
from outcomes.events import MAX_BODY_BYTES
from outcomes.ingestion.delivery import STORED_HEADERS, delivery_receive
from outcomes.ingestion.responses import IngestResponse, error_response

# The only headers the service reads (the signature's) or keeps, by their WSGI names: taken from
# META directly rather than building request.headers from every header of the request.
_META_KEYS = tuple(
    (name, "CONTENT_TYPE" if name == "content-type" else "HTTP_" + name.upper().replace("-", "_"))
    for name in STORED_HEADERS
)


def _json(response: IngestResponse) -> HttpResponse:
    return HttpResponse(
        response.json(), status=response.status, content_type="application/json", headers=response.headers
    )


def _unsupported_media_type(request: HttpRequest) -> IngestResponse | None:
    """The API's 415 unless the body is declared JSON, in UTF-8 if a charset is named (JSON has no other)."""
    charset = (request.content_params or {}).get("charset", "utf-8").lower()
    if request.content_type == "application/json" and charset == "utf-8":
        return None
    declared = request.META.get("CONTENT_TYPE", "")
    return error_response(415, "unsupported_media_type", f'Unsupported media type "{declared}" in request.')


@csp_exempt()  # a machine's JSON endpoint, on the hot path: no page to protect
@csrf_exempt
@require_post
def webhook_events(request: HttpRequest, source_id: str) -> HttpResponse:
    refusal = _unsupported_media_type(request)
    if refusal is not None:
        return _json(refusal)
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

    def admit() -> IngestResponse | None:
        """The source's rate limit, counted once the request is known to be signed by it."""
        retry_after = rate_limit_retry_after(
            request=request, scope="webhook-source", key=source_id, rate=settings.WEBHOOK_RATE_LIMIT
        )
        if retry_after is None:
            return None
        refusal = error_response(
            429, "rate_limited", f"Too many requests for this source; retry in {retry_after} s."
        )
        refusal.headers["Retry-After"] = str(retry_after)
        return refusal

    sender = sender_address(meta, hops=settings.WEBHOOK_TRUSTED_PROXY_HOPS)
    return _json(
        delivery_receive(source_id=source_id, body=body, headers=headers, sender=sender, admit=admit)
    )

"""The request body cap for the API and the webhooks: 413 in the API's error shape, before any view reads it.

Django enforces DATA_UPLOAD_MAX_MEMORY_SIZE only when request.body is read (DRF's parser reads the
stream instead), and its own answer is an HTML 400; this checks the declared length up front.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from core.api.errors import error_body, is_api_path


class RequestBodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        declared = request.META.get("CONTENT_LENGTH") or ""
        if limit is not None and declared.isdigit() and int(declared) > limit and is_api_path(request):
            return JsonResponse(
                error_body(413, "body_too_large", f"A request body holds at most {limit} bytes."), status=413
            )
        return self.get_response(request)

"""One error shape for every endpoint: {status, code, message, field_errors}.

DRF's exceptions, Django's 404 and our DomainErrors all pass through here; anything unexpected
becomes a 500 with the same shape and no stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core.errors import DomainError, FieldErrors, field_path

logger = logging.getLogger(__name__)
AnyResponse = TypeVar("AnyResponse", bound=HttpResponseBase)

CODE_NAMES = {
    exceptions.ParseError: "malformed_json",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
}


def error_body(
    status: int, code: str, message: str, field_errors: FieldErrors | None = None
) -> dict[str, Any]:
    return {"status": status, "code": code, "message": message, "field_errors": field_errors or {}}


def flatten_details(detail: Any, loc: tuple[str | int, ...], out: FieldErrors) -> None:
    if isinstance(detail, dict):
        if set(detail) == {"message", "code"}:
            out.setdefault(field_path(loc) or "non_field_errors", []).append(
                {"code": str(detail["code"]), "message": str(detail["message"])}
            )
            return
        for key, value in detail.items():
            flatten_details(value, (*loc, str(key)), out)
    elif isinstance(detail, list):
        scalar = all(isinstance(item, dict) and set(item) == {"message", "code"} for item in detail)
        for index, item in enumerate(detail):
            flatten_details(item, loc if scalar else (*loc, index), out)


# The database is unreachable, dropped the connection, or refused for now (deadlock, timeout): a 503
# the client may retry, not a 500. Nothing was committed (answers are sent only after the commit).
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5


def logged_once(response: AnyResponse) -> AnyResponse:
    """Mark a 5xx we have logged already (with its context), so that Django's request logger, which skips
    a response so marked (django.utils.log.log_response), does not log the same error a second time."""
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def _database_unavailable_body(exc: Exception) -> dict[str, Any]:
    logger.warning("Database unavailable: %s: %s", type(exc).__name__, exc)
    return error_body(503, "service_unavailable", "The service is briefly unavailable; try again shortly.")


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return logged_once(
            Response(
                _database_unavailable_body(exc), status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
            )
        )
    if isinstance(exc, DomainError):
        return Response(error_body(exc.status, exc.code, exc.message, exc.field_errors), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled error in %s", context.get("view").__class__.__name__)
        return logged_once(
            Response(error_body(500, "internal_error", "Something went wrong on our side."), status=500)
        )
    if isinstance(exc, exceptions.ValidationError):
        field_errors: FieldErrors = {}
        flatten_details(exc.get_full_details(), (), field_errors)
        response.data = error_body(400, "validation_error", "The request has invalid fields.", field_errors)
        return response
    assert isinstance(exc, exceptions.APIException)
    code = next((name for cls, name in CODE_NAMES.items() if isinstance(exc, cls)), str(exc.default_code))
    response.data = error_body(response.status_code, code, str(exc.detail))
    return response


def is_api_path(request: HttpRequest) -> bool:
    """The machine endpoints (the API and the webhooks), which answer in the JSON error shape."""
    return request.path.startswith(("/api/", "/webhooks/"))


class DatabaseUnavailableMiddleware:
    """Outside DRF (the webhook endpoints): a lost database connection answers 503 in the error shape."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not (is_api_path(request) and isinstance(exception, DATABASE_UNAVAILABLE)):
            return None
        response = JsonResponse(_database_unavailable_body(exception), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return logged_once(response)


def json_or_default_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's handler404: the API's error shape under /api/ and /webhooks/, the page elsewhere."""
    if is_api_path(request):
        return JsonResponse(error_body(404, "not_found", "No such resource."), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception or Http404())


def json_or_default_500(request: HttpRequest) -> HttpResponse:
    if is_api_path(request):
        return JsonResponse(
            error_body(500, "internal_error", "Something went wrong on our side."), status=500
        )
    from django.views.defaults import server_error

    return server_error(request)


def require_post(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Django's require_POST for the plain (non-DRF) webhook views: the 405 in the API's error shape."""

    @wraps(view)
    def only_post(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "POST":
            response = JsonResponse(
                error_body(405, "method_not_allowed", f'Method "{request.method}" not allowed.'), status=405
            )
            response["Allow"] = "POST"
            return response
        return view(request, *args, **kwargs)

    return only_post

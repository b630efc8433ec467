"""Stripe's error envelope as an exception (the SDK only parses errors; nothing builds them server-side)."""

from __future__ import annotations

from typing import Any

INVALID_REQUEST = "invalid_request_error"
CARD_ERROR = "card_error"
IDEMPOTENCY_ERROR = "idempotency_error"
API_ERROR = "api_error"


class ApiError(Exception):
    """One Stripe error response: HTTP status plus `{"error": {type, code, message, param, ...}}`.

    `replayable` says whether an idempotency key stores this response. Stripe saves the result of every request
    whose endpoint began executing (card declines, 404s, state errors, even 500s) but not parameter-validation
    failures or conflicts with a concurrent request, which are safe to retry with the same key.
    """

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        replayable: bool = True,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.replayable = replayable
        self.headers = headers or {}

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        error: dict[str, Any] = {
            "code": self.code,
            "doc_url": f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
            if self.code
            else None,
            "message": self.message,
            "param": self.param,
            "request_log_url": (
                f"https://dashboard.stripe.com/test/logs/{request_id}?t=0" if request_id is not None else None
            ),
            "type": self.type,
        }
        if self.decline_code is not None:
            error["decline_code"] = self.decline_code
        return {"error": error}


def invalid(
    message: str, *, param: str | None = None, code: str | None = None, replayable: bool = True
) -> ApiError:
    return ApiError(400, INVALID_REQUEST, message, code=code, param=param, replayable=replayable)


def validation(message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
    """A 400 raised before the endpoint starts executing: never stored under an idempotency key."""
    return ApiError(400, INVALID_REQUEST, message, code=code, param=param, replayable=False)


def missing_param(param: str) -> ApiError:
    return validation(f"Missing required param: {param}.", param=param, code="parameter_missing")


def no_such(kind: str, object_id: str, *, param: str, status: int = 404) -> ApiError:
    return ApiError(
        status, INVALID_REQUEST, f"No such {kind}: '{object_id}'", code="resource_missing", param=param
    )

"""Domain errors: each carries an HTTP status, a stable machine code, a message and field errors.

Services raise these; the API's exception handler and the portal's forms render them. Every app
(outcomes, settlement) raises the same types so there is one error shape everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypedDict


class FieldError(TypedDict):
    code: str
    message: str


FieldErrors = dict[str, list[FieldError]]


def field_path(loc: Sequence[str | int]) -> str:
    """('tiers', 1, 'up_to') -> 'tiers[1].up_to': the one notation for a field inside nested input."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


class DomainError(Exception):
    status: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field_errors: FieldErrors | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field_errors: FieldErrors = field_errors or {}


class ValidationFailed(DomainError):
    status = 400
    code = "validation_error"

    @classmethod
    def on_field(cls, path: str, code: str, message: str) -> ValidationFailed:
        return cls(message, field_errors={path: [{"code": code, "message": message}]})

    @classmethod
    def from_pairs(cls, errors: Iterable[tuple[str, str, str]]) -> ValidationFailed:
        field_errors: FieldErrors = {}
        for path, code, message in errors:
            field_errors.setdefault(path, []).append({"code": code, "message": message})
        count = sum(len(v) for v in field_errors.values())
        return cls(
            f"The request has {count} invalid field{'s' if count != 1 else ''}.",
            field_errors=field_errors,
        )


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class PermissionDenied(DomainError):
    status = 403
    code = "permission_denied"


class Unavailable(DomainError):
    """A service Verity depends on (Stripe) cannot be reached now; nothing was changed, try again later."""

    status = 503
    code = "service_unavailable"

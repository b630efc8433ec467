"""Cursor pagination for every list: stable under inserts, `limit` capped at API_MAX_PAGE_SIZE (200).

A cursor is opaque but client-held, so a forged one (bad base64, or a position that is not a value of
the ordering field's type) is refused as a 400 `invalid_cursor` before it reaches the database.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import connection, models
from django.utils import timezone
from rest_framework import exceptions, pagination
from rest_framework.request import Request
from rest_framework.views import APIView

from core.errors import ValidationFailed

INVALID_CURSOR = "The cursor is not one this list gave out: follow `next` or `previous` as given."


def invalid_cursor() -> ValidationFailed:
    return ValidationFailed(
        INVALID_CURSOR,
        code="invalid_cursor",
        field_errors={"cursor": [{"code": "invalid_cursor", "message": INVALID_CURSOR}]},
    )


def ordering_field(queryset: models.QuerySet[Any], name: str) -> models.Field[Any, Any]:
    """The model field (or annotation's output field) a cursor position is compared with; a relation's
    position is its target's value (`outcome_id` holds an Outcome's integer id)."""
    try:
        field: models.Field[Any, Any] = queryset.model._meta.get_field(name)
    except FieldDoesNotExist:
        field = queryset.query.annotations[name].output_field
    while isinstance(field, models.ForeignKey):
        field = field.target_field
    return field


def position_value(field: models.Field[Any, Any], position: str) -> Any:
    """The position as the field's value, or ValueError for one the database would refuse or misread."""
    try:
        value = field.to_python(position)
    except (ValidationError, TypeError, OverflowError) as exc:
        raise ValueError(position) from exc
    if isinstance(value, dt.datetime) and timezone.is_naive(value):
        raise ValueError(position)  # we only give out aware instants; a naive one is read in a guessed zone
    if isinstance(field, models.IntegerField):
        low, high = connection.ops.integer_field_range(field.get_internal_type())
        if not (low is None or value >= low) or not (high is None or value <= high):
            raise ValueError(position)
    if isinstance(value, str) and "\x00" in value:
        raise ValueError(position)  # PostgreSQL text cannot hold NUL
    return value


class CursorPagination(pagination.CursorPagination):
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = settings.API_MAX_PAGE_SIZE
    ordering: tuple[str, ...] = ("-created_at", "-id")
    # This request's queryset: decode_cursor checks the position against its ordering field.
    queryset: models.QuerySet[Any] | None = None

    def paginate_queryset(
        self, queryset: models.QuerySet[Any], request: Request, view: APIView | None = None
    ) -> list[Any] | None:
        self.queryset = queryset
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request: Request) -> pagination.Cursor | None:
        try:
            # DRF's decoding skips characters outside base64's alphabet; ours never holds one.
            base64.b64decode(request.query_params.get(self.cursor_query_param, ""), validate=True)
            cursor = super().decode_cursor(request)
        except (ValueError, exceptions.NotFound) as exc:  # bad base64 (binascii.Error), a bad offset
            raise invalid_cursor() from exc
        if cursor is None or cursor.position is None or self.queryset is None:
            return cursor
        field = ordering_field(self.queryset, self.ordering[0].lstrip("-"))
        try:
            position_value(field, str(cursor.position))
        except ValueError as exc:
            raise invalid_cursor() from exc
        return cursor

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The page's shape in OpenAPI 3.1, where "may be null" is a type: DRF writes 3.0's `nullable`,
        a keyword 3.1 no longer has (readers would take `next` for a string that is always there)."""
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {
                    "type": ["string", "null"],
                    "format": "uri",
                    "description": "The next page, to follow as given; null on the last page.",
                },
                "previous": {
                    "type": ["string", "null"],
                    "format": "uri",
                    "description": "The previous page, to follow as given; null on the first page.",
                },
                "results": schema,
            },
        }

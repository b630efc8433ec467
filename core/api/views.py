"""The API's base view: typed reads of the query and body through a serializer, and cursor pagination."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.pagination import CursorPagination


class ApiView(APIView):
    """Base for every endpoint: the query and body validated by a serializer, lists paged by cursor."""

    # Lists page through `paginated`; naming the class here also tells the OpenAPI schema (a list's
    # 200 is the {next, previous, results} envelope, not a bare array).
    pagination_class: type[CursorPagination] | None = CursorPagination

    def query(self, serializer_class: type[serializers.Serializer[Any]]) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.query_params)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def body(self, serializer_class: type[serializers.Serializer[Any]]) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def paginated(
        self,
        queryset: Any,
        serializer_class: type[serializers.Serializer[Any]],
        ordering: tuple[str, ...] = ("-created_at", "-id"),
    ) -> Response:
        paginator = CursorPagination()  # not pagination_class: an unpaginated view may still page
        paginator.ordering = ordering
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        return paginator.get_paginated_response(serializer_class(page, many=True).data)

"""Cursor pagination for every list: stable under inserts, `limit` capped at API_MAX_PAGE_SIZE (200)."""

from django.conf import settings
from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = settings.API_MAX_PAGE_SIZE
    ordering: tuple[str, ...] = ("-created_at", "-id")

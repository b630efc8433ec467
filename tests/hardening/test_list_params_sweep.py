"""Every list of the API, found from the URL resolver, against malformed cursors, page sizes and filters:
each answer is a 200 or a 4xx in the error shape, never a 5xx, and a forged cursor is `400 invalid_cursor`.

A list is any GET route that answers the paginated envelope ({next, previous, results}) to a vendor's or
a customer's key; the OpenAPI schema's lists (operations taking `cursor`) must all be among them, so a new
list whose path parameters this estate cannot fill fails here instead of going unswept.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from settlement.invoicing.close import period_close
from tests.support.estate import Estate

pytestmark = pytest.mark.django_db

ENVELOPE = {"next", "previous", "results"}
PAGING = {"cursor", "limit"}


def b64(query: bytes) -> str:
    return quote(base64.b64encode(query).decode())


# Each refused as 400 invalid_cursor on every list, whatever its ordering field's type.
FORGED_CURSORS = {
    "position-not-a-value": b64(b"p=abc"),  # cD1hYmM=, the example
    "not-base64": "!!!not-base64",
    "bad-padding": "cD1hYmM",
    "not-ascii": b64(b"p=\xff\xfe"),
    "nul-and-ff": "%00%ff",
    "sql": quote("' OR 1=1; --"),
    "offset-negative": b64(b"o=-1"),
    "offset-not-a-number": b64(b"o=abc"),
    "reverse-not-a-number": b64(b"r=yes"),
    "position-nul": b64(b"p=\x00"),
    "position-huge-integer": b64(b"p=" + b"9" * 30),
    "position-nan": b64(b"p=NaN"),
    "position-naive-instant-for-any": b64(b"p=2026-13-01"),
}
# Valid for some ordering field types and not others: never a 5xx, and a 4xx is `invalid_cursor`.
TYPED_CURSORS = {
    "position-integer": b64(b"p=1"),
    "position-uuid": b64(b"p=00000000-0000-0000-0000-000000000000"),
    "position-date": b64(b"p=2026-01-01"),
    "position-naive-instant": b64(b"p=2026-01-01 00:00:00"),
    "position-aware-instant": b64(b"p=2026-01-01 00:00:00+00:00"),
    "position-first-instant": b64(b"p=0001-01-01 00:00:00+14:00"),
    "position-last-instant": b64(b"p=9999-12-31 23:59:59.999999-14:00"),
    "position-empty": b64(b"p="),
    "offset-huge": b64(b"o=" + b"9" * 30),
    "empty": "",
}
# Documented in docs/api.md: capped, not refused; a value that is not a positive integer is ignored.
PAGE_SIZES = ["-1", "0", "abc", "1e3", "", "%00", "9" * 30, "9" * 5000, "201"]
BAD_FILTER_VALUES = [
    "not-a-valid-value",
    "%00",
    "x" * 10_000,
    "0001-01-01T00:00:00%2B14:00",
    "9999-12-31T23:59:59-14:00",
    "2026-01-01",
    "-1",
    "00000000-0000-0000-0000-000000000000",
    quote("' OR 1=1; --"),
]


def api_get_routes() -> list[str]:
    """Every GET route under /api/v1/ as a template: "/api/v1/webhook-sources/{source_id}/deliveries"."""
    routes = []

    def walk(patterns: list[URLPattern | URLResolver], prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif route.startswith("api/v1/") and hasattr(getattr(pattern.callback, "cls", None), "get"):
                routes.append("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route))

    walk(get_resolver().url_patterns, "")
    return routes


@functools.cache
def schema_lists() -> dict[str, set[str]]:
    """The lists the OpenAPI schema declares (GET operations taking `cursor`), each with its filters."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    lists = {}
    for path, operations in schema["paths"].items():
        query = {p["name"] for p in operations.get("get", {}).get("parameters", []) if p["in"] == "query"}
        if "cursor" in query:
            lists[path] = query - PAGING
    return lists


@dataclass
class ListRoute:
    path: str
    client: APIClient
    who: str
    filters: set[str]

    def get(self, query: str) -> Any:
        return self.client.get(f"{self.path}?{query}")


@pytest.fixture
def lists(estate: Estate) -> list[ListRoute]:
    # A closed period gives an invoice with a line, for the invoice lists' path parameters.
    invoice = period_close(
        contract_id=estate.ingest.contract.pk,
        period_start=dt.datetime(2025, 1, 1, 5, 0, tzinfo=dt.UTC),
        now=dt.datetime(2025, 2, 2, tzinfo=dt.UTC),
    )
    ids = estate.ids | {
        "invoice_id": str(invoice.pk),
        "position": str(invoice.lines.order_by("position").values_list("position", flat=True)[0]),
    }
    clients = {"vendor": estate.ingest.api.client, "customer": estate.customer_client}
    declared = schema_lists()
    found = []
    for template in api_get_routes():
        path = re.sub(r"{(\w+)}", lambda match: ids.get(str(match[1]), "unknown-id"), template)
        for who, client in clients.items():
            response = client.get(path)
            assert response.status_code < 500, (who, path, response.content[:300])
            body = response.json() if response["Content-Type"] == "application/json" else None
            if response.status_code == 200 and isinstance(body, dict) and set(body) >= ENVELOPE:
                found.append(ListRoute(path, client, who, declared.get(template, set())))
    reached = {re.sub(r"/(\d+|[0-9a-f-]{36})(?=/|$)", "/", route.path) for route in found}
    for template in declared:
        assert re.sub(r"{\w+}", "", template) in reached, f"the list {template} was not reached"
    return found


def assert_error_shape(response: Any, route: ListRoute) -> dict[str, Any]:
    assert response.status_code < 500, (route.who, route.path, response.content[:300])
    body: dict[str, Any] = response.json()
    if response.status_code >= 400:
        assert set(body) == {"status", "code", "message", "field_errors"}, (route.path, body)
        assert body["status"] == response.status_code
    return body


def test_the_sweep_finds_every_list_for_both_kinds_of_key(lists: list[ListRoute]) -> None:
    paths = {(route.who, re.sub(r"/(\d+|[0-9a-f-]{36})(?=/|$)", "/{id}", route.path)) for route in lists}

    assert {
        ("vendor", "/api/v1/outcomes"),
        ("vendor", "/api/v1/customers"),
        ("vendor", "/api/v1/contracts"),
        ("vendor", "/api/v1/webhook-sources"),
        ("vendor", "/api/v1/api-keys"),
        ("vendor", "/api/v1/invoices"),
        ("vendor", "/api/v1/disputes"),
        ("vendor", "/api/v1/review-queue"),
        ("vendor", "/api/v1/webhook-sources/{id}/deliveries"),
        ("vendor", "/api/v1/invoices/{id}/lines/{id}/outcomes"),
        ("customer", "/api/v1/customer/outcomes"),
        ("customer", "/api/v1/customer/invoices"),
    } <= paths


def test_a_forged_cursor_is_400_invalid_cursor_on_every_list(lists: list[ListRoute]) -> None:
    for route in lists:
        for name, cursor in FORGED_CURSORS.items():
            response = route.get(f"cursor={cursor}")

            body = assert_error_shape(response, route)
            assert response.status_code == 400, (route.path, name, body)
            assert body["code"] == "invalid_cursor"
            assert list(body["field_errors"]) == ["cursor"]
            assert body["field_errors"]["cursor"][0]["code"] == "invalid_cursor"


def test_a_cursor_of_another_type_is_a_page_or_invalid_cursor(lists: list[ListRoute]) -> None:
    for route in lists:
        for name, cursor in TYPED_CURSORS.items():
            response = route.get(f"cursor={cursor}&limit=2")

            body = assert_error_shape(response, route)
            assert response.status_code in (200, 400), (route.path, name, body)
            if response.status_code == 400:
                assert body["code"] == "invalid_cursor", (route.path, name, body)


def test_a_malformed_page_size_is_capped_or_ignored(lists: list[ListRoute]) -> None:
    for route in lists:
        for limit in PAGE_SIZES:
            response = route.get(f"limit={limit}")

            body = assert_error_shape(response, route)
            assert response.status_code == 200, (route.path, limit[:20], body)
            assert len(body["results"]) <= 200


def test_a_following_page_of_every_list_is_reached_through_its_own_cursor(lists: list[ListRoute]) -> None:
    for route in lists:
        first = route.get("limit=1").json()
        if first["next"] is None:
            continue

        second = route.client.get(first["next"])

        assert second.status_code == 200, (route.path, second.content[:300])
        assert second.json()["results"] != first["results"]


def test_an_unknown_filter_is_ignored(lists: list[ListRoute]) -> None:
    for route in lists:
        plain = route.get("")
        response = route.get("no_such_filter=1&vendor_id=other&ordering=-id")

        assert_error_shape(response, route)
        assert response.status_code == 200
        assert response.json() == plain.json()


def test_a_malformed_filter_is_a_400_a_404_or_a_page(lists: list[ListRoute]) -> None:
    """400 for a value of the wrong type, 404 for a well-formed id of no object of the vendor's."""
    for route in lists:
        for name in sorted(route.filters):
            for value in BAD_FILTER_VALUES:
                response = route.get(f"{name}={value}")

                body = assert_error_shape(response, route)
                assert response.status_code in (200, 400, 404), (route.path, name, value[:20], body)
                if response.status_code == 400:
                    assert body["code"] == "validation_error"
                    assert list(body["field_errors"]) == [name], (route.path, name, body)

"""`make lint`'s OpenAPI check: the published document has one declared tag per operation, the package's
version, and only OpenAPI 3.1 schema keywords; and the check names each of those faults."""

from __future__ import annotations

import importlib.metadata
from typing import Any

import pytest
import yaml
from rest_framework.test import APIClient

from core.api.schema import RESOURCE_TAGS
from devtools.check_openapi import openapi_problems, package_version

pytestmark = pytest.mark.django_db


def published() -> dict[str, Any]:
    response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    document: dict[str, Any] = yaml.safe_load(response.content)
    return document


def test_the_published_schema_passes_the_check() -> None:
    document = published()

    assert openapi_problems(document, version=package_version()) == []


def test_the_schema_names_the_installed_package_version() -> None:
    assert published()["info"]["version"] == package_version() == importlib.metadata.version("verity")


def test_every_operation_is_under_the_one_tag_of_its_resource() -> None:
    document = published()

    tags = {
        f"{method.upper()} {path}": operation["tags"]
        for path, operations in [*document["paths"].items(), *document["webhooks"].items()]
        for method, operation in operations.items()
    }
    assert [tag["name"] for tag in document["tags"]] == list(RESOURCE_TAGS)
    assert all(tag["description"] for tag in document["tags"])
    assert {name for names in tags.values() for name in names} == set(RESOURCE_TAGS)
    assert tags["GET /api/v1/contracts/{contract_id}/versions"] == ["Contracts"]
    assert tags["POST /api/v1/customers/{customer_id}/api-keys"] == ["API keys"]
    assert tags["PUT /api/v1/customers/{customer_id}/stripe"] == ["Stripe"]
    assert tags["GET /api/v1/review-queue"] == ["Review"]
    assert tags["POST /api/v1/outcomes/{outcome_id}/review"] == ["Review"]
    assert tags["POST /api/v1/customer/outcomes/{outcome_id}/dispute"] == ["Customer outcomes"]
    assert tags["POST /webhooks/v1/sources/{source_id}/events"] == ["Events"]
    assert tags["POST outcome.billable"] == ["Events sent"]  # the webhooks section: the events Verity sends


def test_a_page_link_that_may_be_null_says_so_in_openapi_3_1_terms() -> None:
    page = published()["components"]["schemas"]["PaginatedCustomerOutList"]

    assert page["properties"]["next"]["type"] == ["string", "null"]
    assert page["properties"]["previous"]["type"] == ["string", "null"]
    assert page["required"] == ["next", "previous", "results"]


def test_the_check_names_each_fault() -> None:
    document = {
        "openapi": "3.1.0",
        "info": {"title": "x", "version": "1.0.0"},
        "tags": [{"name": "Customers"}, {"name": "Unused"}],
        "paths": {
            "/api/v1/customers": {
                "get": {
                    "tags": ["Customers"],
                    "parameters": [
                        {"name": "cursor", "in": "query", "schema": {"type": "string", "nullable": True}}
                    ],
                    "responses": {
                        "200": {
                            "content": {
                                "application/json": {
                                    "schema": {"type": "string", "max_digits": 22},
                                    "example": {"schema": {"ge": 1}},  # data, not a schema
                                }
                            }
                        }
                    },
                },
                "post": {"tags": ["v1"]},
            },
            "/api/v1/things": {"get": {"responses": {}}},
        },
        "components": {
            "schemas": {
                "Price": {
                    "type": "object",
                    "properties": {"unit_price": {"anyOf": [{"type": "string"}], "ge": 0, "x-money": True}},
                }
            }
        },
    }

    assert openapi_problems(document, version="0.1.0") == [
        "info.version is '1.0.0', the package's '0.1.0'",
        "POST /api/v1/customers: tags ['v1'], not one of the declared ['Customers', 'Unused']",
        "GET /api/v1/things: tags [], not one of the declared ['Customers', 'Unused']",
        "tag 'Unused' is declared but no operation has it",
        "#/paths//api/v1/customers/get/parameters/0/schema: `nullable` is not an OpenAPI 3.1 schema keyword",
        "#/paths//api/v1/customers/get/responses/200/content/application/json/schema: "
        "`max_digits` is not an OpenAPI 3.1 schema keyword",
        "#/components/schemas/Price/properties/unit_price: `ge` is not an OpenAPI 3.1 schema keyword",
    ]


def test_the_check_names_an_untagged_operation_of_the_webhooks_section() -> None:
    document = {
        "openapi": "3.1.0",
        "info": {"title": "x", "version": "0.1.0"},
        "tags": [{"name": "Events sent"}],
        "paths": {},
        "webhooks": {
            "outcome.billable": {"post": {"tags": ["Events sent"], "responses": {}}},
            "invoice.paid": {"post": {"responses": {}}},
        },
    }

    assert openapi_problems(document, version="0.1.0") == [
        "POST invoice.paid: tags [], not one of the declared ['Events sent']"
    ]

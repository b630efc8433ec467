"""The API's edges: one error shape, authentication, read-only keys, unknown paths, the schema and its docs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
import yaml
from django.db import OperationalError
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from contracts.models import ApiKey, Contract, Customer
from contracts.services.contracts import contract_activate
from contracts.services.credentials import api_key_revoke
from tests.factories import (
    CustomerFactory,
    contract_create_for,
    vendor_api_operations,
    vendor_rows,
    webhook_source_create_for,
)
from tests.support.vendors import VendorApi

pytestmark = pytest.mark.django_db

NOW = "2026-03-10T12:00:00Z"
ERROR_KEYS = {"status", "code", "message", "field_errors"}


def error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"status": status, "code": code, "message": message, "field_errors": {}}


@pytest.fixture
def path_params(vendor_api: VendorApi) -> dict[str, str]:
    """One object of each kind for the vendor, as the values of the routes' path parameters."""
    customer = CustomerFactory.create(vendor=vendor_api.vendor)
    contract = contract_create_for(customer)
    contract_activate(contract=contract, actor="system")
    source, _ = webhook_source_create_for(customer)
    return {
        "customer_id": str(customer.pk),
        "contract_id": str(contract.pk),
        "number": "1",
        "source_id": str(source.pk),
        "api_key_id": str(vendor_api.api_key.pk),
    }


# --- malformed and unsupported requests ----------------------------------------------------


@pytest.mark.parametrize("body", ['{"name": "Acme",', '{"name": NaN}', "acme"])
def test_malformed_json_is_400_malformed_json_and_creates_nothing(vendor_api: VendorApi, body: str) -> None:
    response = vendor_api.client.post("/api/v1/customers", data=body, content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == ERROR_KEYS
    assert (response.json()["status"], response.json()["code"]) == (400, "malformed_json")
    assert response.json()["message"].startswith("JSON parse error - ")
    assert not Customer.objects.exists()


def test_malformed_json_on_an_update_changes_nothing(
    vendor_api: VendorApi, path_params: dict[str, str]
) -> None:
    customer = Customer.objects.filter(pk=path_params["customer_id"])
    before = customer.values().get()

    response = vendor_api.client.patch(
        f"/api/v1/customers/{path_params['customer_id']}", data="{", content_type="application/json"
    )

    assert (response.status_code, response.json()["code"]) == (400, "malformed_json")
    assert customer.values().get() == before


def test_a_form_body_is_415_unsupported_media_type(vendor_api: VendorApi) -> None:
    response = vendor_api.client.post("/api/v1/customers", {"name": "Acme"}, format="multipart")

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert not Customer.objects.exists()


def test_an_unrouted_method_is_405_method_not_allowed(
    vendor_api: VendorApi, path_params: dict[str, str]
) -> None:
    response = vendor_api.client.delete(f"/api/v1/contracts/{path_params['contract_id']}")

    assert response.status_code == 405
    assert response.json() == error(405, "method_not_allowed", 'Method "DELETE" not allowed.')
    assert Contract.objects.filter(pk=path_params["contract_id"]).exists()


# --- authentication -------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [("get", "/api/v1/customers"), ("post", "/api/v1/api-keys")])
def test_no_key_is_401_not_authenticated_with_a_challenge(
    vendor_api: VendorApi, method: str, path: str
) -> None:
    response = getattr(APIClient(), method)(path, {"name": "sneaky"}, format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="verity"'
    assert response.json() == error(401, "not_authenticated", "Authentication credentials were not provided.")
    assert ApiKey.objects.count() == 1


UNKNOWN_KEY = "Unknown or revoked API key."
NOT_BEARER = "Use `Authorization: Bearer <API key>`."


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        ("Bearer vrt_{prefix}_not-the-secret", UNKNOWN_KEY),
        ("Bearer vrt_000000000000_{secret}", UNKNOWN_KEY),
        ("Bearer {prefix}_{secret}", UNKNOWN_KEY),
        ("Bearer not-a-key", UNKNOWN_KEY),
        ("bearer vrt_{prefix}_{secret}x", UNKNOWN_KEY),
        ("Bearer", NOT_BEARER),
        ("Token vrt_{prefix}_{secret}", NOT_BEARER),
        ("Basic dXNlcjpwYXNz", NOT_BEARER),
    ],
)
def test_a_bad_key_is_401_authentication_failed(
    vendor_api: VendorApi, authorization: str, message: str
) -> None:
    secret = vendor_api.raw_key.split("_", 2)[2]
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=authorization.format(prefix=vendor_api.api_key.prefix, secret=secret)
    )

    response = client.post("/api/v1/api-keys", {"name": "sneaky"}, format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="verity"'
    assert response.json() == error(401, "authentication_failed", message)
    assert ApiKey.objects.count() == 1


def test_the_scheme_is_case_insensitive(vendor_api: VendorApi) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"bearer {vendor_api.raw_key}")

    assert client.get("/api/v1/customers").status_code == 200


def test_a_revoked_key_is_401_authentication_failed(vendor_api: VendorApi) -> None:
    api_key_revoke(api_key=vendor_api.api_key, actor="system")

    response = vendor_api.client.get("/api/v1/customers")

    assert response.status_code == 401
    assert response.json() == error(401, "authentication_failed", UNKNOWN_KEY)


# --- read-only keys -------------------------------------------------------------------------


WRITES = [operation for operation in vendor_api_operations() if operation[0] != "GET"]
READS = [operation for operation in vendor_api_operations() if operation[0] == "GET"]


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(("method", "path"), WRITES, ids=[f"{m} {p}" for m, p in WRITES])
def test_a_read_only_key_is_403_on_every_write_and_changes_nothing(
    vendor_api: VendorApi,
    vendor_api_factory: Callable[..., VendorApi],
    path_params: dict[str, str],
    method: str,
    path: str,
) -> None:
    reader = vendor_api_factory(vendor_api.vendor, scope=ApiKey.Scope.READ)
    reader.client.get("/api/v1/customers")  # the key's last use is recorded before the snapshot
    before = vendor_rows(vendor_api.vendor)

    response = getattr(reader.client, method.lower())(path.format(**path_params), {}, format="json")

    assert response.status_code == 403
    assert response.json() == error(403, "permission_denied", "This API key is read-only.")
    assert vendor_rows(vendor_api.vendor) == before


@pytest.mark.parametrize(("method", "path"), READS, ids=[f"{m} {p}" for m, p in READS])
def test_a_read_only_key_may_read_everything(
    vendor_api: VendorApi,
    vendor_api_factory: Callable[..., VendorApi],
    path_params: dict[str, str],
    method: str,
    path: str,
) -> None:
    reader = vendor_api_factory(vendor_api.vendor, scope=ApiKey.Scope.READ)
    query = {"at": "2026-02-01T00:00:00Z"} if path.endswith("/version-in-force") else {}

    response = reader.client.get(path.format(**path_params), query)

    assert response.status_code == 200


# --- unknown paths --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/no-such-thing",
        "/api/v2/customers",
        "/api/",
        "/api/v1/customers/",
        "/api/v1/contracts/00000000-0000-0000-0000-000000000000/versions/first",
    ],
)
def test_an_unknown_api_path_is_404_in_the_error_shape(vendor_api: VendorApi, path: str) -> None:
    response = vendor_api.client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == error(404, "not_found", "No such resource.")


def test_an_unknown_page_outside_the_api_is_the_html_404(vendor_api: VendorApi) -> None:
    response = vendor_api.client.get("/no-such-page")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_an_invalid_cursor_is_400_on_the_cursor_field(vendor_api: VendorApi) -> None:
    response = vendor_api.client.get("/api/v1/customers", {"cursor": "garbage"})

    message = "The cursor is not one this list gave out: follow `next` or `previous` as given."
    assert response.status_code == 400
    assert response.json() == {
        "status": 400,
        "code": "invalid_cursor",
        "message": message,
        "field_errors": {"cursor": [{"code": "invalid_cursor", "message": message}]},
    }


def test_a_cursor_whose_position_is_not_an_instant_is_400_not_a_database_error(vendor_api: VendorApi) -> None:
    response = vendor_api.client.get("/api/v1/customers", {"cursor": "cD1hYmM="})  # base64 of p=abc

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"


# --- schema and docs ------------------------------------------------------------------------


def test_the_schema_is_valid_openapi_listing_every_route_with_its_errors() -> None:
    response = APIClient().get("/api/schema/")

    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    validate_schema(schema)
    assert schema["openapi"] == "3.1.0"
    for method, path in vendor_api_operations():
        operation = schema["paths"][path][method.lower()]
        documented_errors = {status for status in operation["responses"] if status.startswith(("4", "5"))}
        query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        expected = {"401", "429"} | ({"404"} if "{" in path or "cursor" in query else set())
        expected |= {"400"} if query else set()  # a filter's value out of range
        expected |= {"400", "403", "409", "413"} if method != "GET" else set()
        assert documented_errors == expected, (method, path)
        assert operation["responses"]["401"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }
    operation_ids = [op["operationId"] for ops in schema["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))
    assert schema["components"]["schemas"]["Error"]["required"] == [
        "status",
        "code",
        "message",
        "field_errors",
    ]


def test_the_docs_page_is_served_without_a_key() -> None:
    response = APIClient().get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"/api/schema/" in response.content


# --- each error logged once ------------------------------------------------------------------


def _raise(exc: Exception) -> Callable[..., Any]:
    def raising(**kwargs: Any) -> Any:
        raise exc

    return raising


def test_an_unhandled_error_is_one_500_logged_once_with_its_traceback(
    vendor_api: VendorApi, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("contracts.api.views.selectors.customer_list", _raise(RuntimeError("boom")))

    with caplog.at_level(logging.INFO):
        response = vendor_api.client.get("/api/v1/customers")

    assert response.status_code == 500
    assert response.json() == error(500, "internal_error", "Something went wrong on our side.")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [(r.name, r.getMessage()) for r in errors] == [
        ("core.api.errors", "Unhandled error in CustomerListCreateApi")
    ]
    assert errors[0].exc_info is not None
    assert repr(errors[0].exc_info[1]) == "RuntimeError('boom')"
    assert not [r for r in caplog.records if r.name == "django.request"]


def test_a_lost_database_is_one_503_logged_once_as_a_warning(
    vendor_api: VendorApi, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(
        "contracts.api.views.selectors.customer_list",
        _raise(OperationalError("server closed the connection")),
    )

    with caplog.at_level(logging.INFO):
        response = vendor_api.client.get("/api/v1/customers")

    assert response.status_code == 503
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "core.api.errors",
            "WARNING",
            "Database unavailable: OperationalError: server closed the connection",
        )
    ]

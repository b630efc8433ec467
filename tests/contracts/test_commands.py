"""Management commands: create_api_key prints a working key once."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from contracts.models import ApiKey, AuditEntry, Customer
from tests.factories import VendorFactory

pytestmark = pytest.mark.django_db

API_KEY = re.compile(r"\bvrt_[0-9a-f]+_[A-Za-z0-9_-]+")


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def client_with(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def test_create_api_key_prints_a_key_that_authenticates() -> None:
    vendor = VendorFactory.create(slug="acme")

    output = run("create_api_key", "--vendor", "acme", "--name", "billing sync")

    raw_key = output.strip().splitlines()[-1]
    assert API_KEY.fullmatch(raw_key)
    api_key = ApiKey.objects.get(vendor=vendor)
    assert (api_key.name, api_key.scope) == ("billing sync", ApiKey.Scope.WRITE)
    assert api_key.prefix in raw_key
    assert raw_key.split("_", 2)[2] not in api_key.secret_hash
    response = client_with(raw_key).get("/api/v1/customers")
    assert response.status_code == 200
    entry = AuditEntry.objects.get(action="api_key.created")
    assert (entry.actor, entry.object_id) == ("system:cli", str(api_key.pk))


def test_create_api_key_with_read_scope_cannot_write() -> None:
    VendorFactory.create(slug="acme")

    output = run("create_api_key", "--vendor", "acme", "--name", "reporting", "--scope", "read")

    client = client_with(output.strip().splitlines()[-1])
    assert client.get("/api/v1/customers").status_code == 200
    refused = client.post(
        "/api/v1/customers",
        {"name": "X", "external_ref": "x", "billing_email": "x@example.com"},
        format="json",
    )
    assert refused.status_code == 403
    assert not Customer.objects.exists()


def test_create_api_key_for_an_unknown_vendor_fails_without_a_key() -> None:
    VendorFactory.create(slug="acme")

    with pytest.raises(CommandError, match="No vendor"):
        run("create_api_key", "--vendor", "nope", "--name", "x")

    assert not ApiKey.objects.exists()


def test_create_api_key_refuses_an_overlong_name() -> None:
    VendorFactory.create(slug="acme")

    with pytest.raises(CommandError, match="--name"):
        run("create_api_key", "--vendor", "acme", "--name", "n" * 101)

    assert not ApiKey.objects.exists()

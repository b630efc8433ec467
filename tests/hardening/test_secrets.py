"""Secrets at rest and in logs: API keys hashed, signing secrets encrypted, neither ever in a column or a
log line; compared in constant time; shown once."""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from contracts.models import ApiKey, WebhookSecret
from contracts.services.credentials import api_key_authenticate, webhook_source_rotate_secret
from tests.support.estate import Estate, make_estate
from tests.support.ingest import event

pytestmark = pytest.mark.django_db


def rows_holding(text: str) -> list[str]:
    """Every table (ours and Django's) with a row whose text form holds `text`."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            name = connection.ops.quote_name(table)
            cursor.execute(f"SELECT count(*) FROM {name} t WHERE t::text LIKE %s", [f"%{text}%"])  # noqa: S608
            if cursor.fetchone()[0]:
                found.append(table)
    return found


@pytest.fixture
def every_log_line(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record at every level, SQL statements and their parameters included."""
    caplog.set_level(logging.DEBUG)
    connection.force_debug_cursor = True
    try:
        yield caplog
    finally:
        connection.force_debug_cursor = False


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{record.getMessage()} {record.args!r} {record.__dict__}" for record in caplog.records)


def test_no_plaintext_secret_is_in_any_column_or_log_line_through_creation_rotation_and_ingestion(
    every_log_line: pytest.LogCaptureFixture,
) -> None:
    estate = make_estate()  # creates keys and sources, and ingests an event
    ingest = estate.ingest
    rotated = webhook_source_rotate_secret(
        source=ingest.source, overlap=dt.timedelta(hours=1), actor="test", by_customer=True
    )
    assert ingest.post(event(), secret=rotated).status_code == 200
    assert ingest.api.client.get("/api/v1/customers").status_code == 200
    api_secret = ingest.api.raw_key.split("_", 2)[2]
    plaintexts = {
        "API key": ingest.api.raw_key,
        "API key secret": api_secret,
        "signing secret": ingest.secret,
        "rotated signing secret": rotated,
        "signing key": ingest.secret.removeprefix("whsec_"),
    }

    assert every_log_line.records  # the SQL log did run
    for what, plaintext in plaintexts.items():
        assert rows_holding(plaintext) == [], what
        assert plaintext not in logged(every_log_line), what


def test_an_api_key_is_stored_as_a_sha256_and_a_signing_secret_as_a_fernet_token(estate: Estate) -> None:
    key = ApiKey.objects.get(pk=estate.ingest.api.api_key.pk)
    secret = WebhookSecret.objects.get(source=estate.ingest.source)

    assert len(key.secret_hash) == 64
    assert set(key.secret_hash) <= set("0123456789abcdef")
    assert secret.secret_encrypted.startswith("gAAAAA")  # Fernet's version byte, base64
    assert secret.hint == estate.ingest.secret[-4:]


def spy_compare_digest(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any]]:
    calls: list[tuple[Any, Any]] = []
    original = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    return calls


def test_an_api_key_is_checked_in_constant_time(estate: Estate, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = spy_compare_digest(monkeypatch)
    prefix = estate.ingest.api.api_key.prefix

    assert api_key_authenticate(raw_key=f"vrt_{prefix}_not-the-secret") is None
    assert api_key_authenticate(raw_key=estate.ingest.api.raw_key) is not None
    assert len(calls) == 2


def test_a_webhook_signature_is_checked_in_constant_time(
    estate: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = spy_compare_digest(monkeypatch)

    assert estate.ingest.post(event(), secret=estate.ingest.agent_secret).status_code == 401
    assert estate.ingest.post(event()).status_code == 200
    assert len(calls) >= 2


def test_secrets_are_shown_once_at_creation_and_never_again(estate: Estate) -> None:
    client = estate.ingest.api.client
    customer_id = str(estate.ingest.contract.customer_id)
    key = client.post("/api/v1/api-keys", {"name": "ci"}, format="json").json()
    source = client.post(
        "/api/v1/webhook-sources",
        {"name": "crm", "kind": "customer_system", "customer_id": customer_id},
        format="json",
    ).json()
    rotated = client.post(f"/api/v1/webhook-sources/{source['id']}/rotate-secret", {}, format="json").json()
    shown = [
        key["key"],
        source["signing_secret"],
        *[v for v in rotated.values() if str(v).startswith("whsec_")],
    ]
    assert len(shown) == 3

    later = b"".join(
        client.get(path).content
        for path in (
            "/api/v1/api-keys",
            f"/api/v1/api-keys/{key['id']}",
            "/api/v1/webhook-sources",
            f"/api/v1/webhook-sources/{source['id']}",
        )
    )

    for secret in shown:
        assert secret.encode() not in later
        assert secret.split("_")[-1].encode() not in later

"""Limits: body size, batch size, rate limits per webhook source and per API key (429 + Retry-After),
the page-size cap, and slow or truncated bodies on a real socket."""

from __future__ import annotations

import socket
import time
import uuid
from typing import Any
from urllib.parse import urlparse

import orjson
import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings

from contracts.models import Customer
from outcomes import events
from outcomes.ingestion import checks
from outcomes.models import Delivery, RawEvent
from tests.factories import CustomerFactory
from tests.support.estate import Estate, db_fingerprint, make_estate, plain_client, webhook_headers
from tests.support.ingest import event

pytestmark = pytest.mark.django_db


def error_of(response: Any) -> tuple[int, str]:
    body = response.json()
    assert set(body) >= {"status", "code", "message", "field_errors"}
    assert body["status"] == response.status_code
    return response.status_code, body["code"]


# --- rate limits -------------------------------------------------------------------------------


@override_settings(WEBHOOK_RATE_LIMIT="3/m")
def test_a_source_over_its_rate_is_429_with_retry_after_and_other_sources_are_not(estate: Estate) -> None:
    ingest = estate.ingest
    for _ in range(3):
        assert ingest.post(event()).status_code == 200
    stored = RawEvent.objects.count()

    refused = ingest.post(event())

    assert error_of(refused) == (429, "rate_limited")
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert RawEvent.objects.count() == stored
    assert ingest.post(event(), as_agent=True).status_code == 200  # another source: its own counter


@override_settings(WEBHOOK_RATE_LIMIT="2/m")
def test_the_webhook_limit_counts_per_source_not_per_process_when_the_window_resets(estate: Estate) -> None:
    ingest = estate.ingest
    assert [ingest.post(event()).status_code for _ in range(3)] == [200, 200, 429]

    cache.clear()  # what the window's end does

    assert ingest.post(event()).status_code == 200


@override_settings(WEBHOOK_RATE_LIMIT="2/m")
def test_requests_not_signed_by_the_source_do_not_spend_its_budget(estate: Estate) -> None:
    # Anyone who knows a source's id can post to it: only requests signed with its secret are counted,
    # so a flood of forgeries cannot lock the source out.
    ingest = estate.ingest
    forged = [ingest.post(event(), secret="whsec_" + "A" * 43) for _ in range(5)]
    assert {response.status_code for response in forged} == {401}

    assert [ingest.post(event()).status_code for _ in range(3)] == [200, 200, 429]


@override_settings(API_RATE_LIMIT="2/m")
def test_an_api_key_over_its_rate_is_429_with_retry_after_and_other_keys_are_not(estate: Estate) -> None:
    client = estate.ingest.api.client
    assert [client.get("/api/v1/customers").status_code for _ in range(2)] == [200, 200]

    refused = client.get("/api/v1/customers")

    assert error_of(refused) == (429, "rate_limited")
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert estate.readonly.client.get("/api/v1/customers").status_code == 200


@override_settings(API_RATE_LIMIT="1/m")
def test_a_throttled_write_changes_nothing(estate: Estate) -> None:
    client = estate.ingest.api.client
    assert client.get("/api/v1/customers").status_code == 200
    before = db_fingerprint()

    refused = client.post(
        "/api/v1/customers",
        {"name": "Acme", "external_ref": "late", "billing_email": "ap@acme.test"},
        format="json",
    )

    assert error_of(refused) == (429, "rate_limited")
    assert db_fingerprint() == before


@override_settings(API_RATE_LIMIT="", WEBHOOK_RATE_LIMIT="")
def test_an_empty_rate_turns_a_limit_off(estate: Estate) -> None:
    assert all(estate.ingest.api.client.get("/api/v1/customers").status_code == 200 for _ in range(20))


@override_settings(API_RATE_LIMIT="1/m", WEBHOOK_RATE_LIMIT="1/m")
def test_the_limiter_fails_open_when_the_cache_is_unreachable(
    estate: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "add", unreachable)

    assert [estate.ingest.post(event()).status_code for _ in range(3)] == [200, 200, 200]
    assert [estate.ingest.api.client.get("/api/v1/customers").status_code for _ in range(3)] == [200] * 3


def test_the_default_limits_leave_the_ingestion_benchmark_unthrottled() -> None:
    """bench-ingest sends ~500 single-event requests/s to one source (docs/performance.md)."""
    count, period = settings.WEBHOOK_RATE_LIMIT.split("/")
    assert period == "m"
    assert int(count) / 60 >= 4 * 500


# --- sizes -------------------------------------------------------------------------------------


def test_a_declared_webhook_length_over_the_limit_is_413_before_the_body_is_read(estate: Estate) -> None:
    response = plain_client().post(
        estate.ingest.url, b"{}", content_type="application/json", CONTENT_LENGTH=str(1024 * 1024 + 1)
    )

    assert error_of(response) == (413, "body_too_large")


def test_a_batch_at_the_limit_is_taken_and_one_more_is_413(
    estate: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert events.MAX_BATCH_EVENTS == settings.WEBHOOK_MAX_BATCH_EVENTS
    assert events.MAX_BODY_BYTES == settings.WEBHOOK_MAX_BODY_BYTES
    monkeypatch.setattr(checks, "MAX_BATCH_EVENTS", 5)

    taken = estate.ingest.post({"events": [event() for _ in range(5)]})
    refused = estate.ingest.post({"events": [event() for _ in range(6)]})

    assert taken.status_code == 200
    assert error_of(refused) == (413, "too_many_events")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_an_api_body_over_data_upload_max_memory_size_is_413(estate: Estate) -> None:
    response = estate.ingest.api.client.post(
        "/api/v1/customers", b'{"name": "' + b"x" * 1000 + b'"}', content_type="application/json"
    )

    assert error_of(response) == (413, "body_too_large")
    assert not Customer.objects.filter(name__startswith="xxx").exists()


# --- pagination --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "page"), [("1000000", 200), ("201", 200), ("-5", 50), ("abc", 50), ("3", 3)]
)
def test_a_page_never_holds_more_than_the_cap(estate: Estate, limit: str, page: int) -> None:
    CustomerFactory.create_batch(249, vendor=estate.ingest.api.vendor)

    response = estate.ingest.api.client.get(f"/api/v1/customers?limit={limit}")

    assert response.status_code == 200
    assert len(response.json()["results"]) == page


# --- slow and truncated bodies, on a real socket -----------------------------------------------


def raw_post(
    url: str, path: str, headers: dict[str, str], body: bytes, *, chunks: int, declared: int
) -> bytes:
    """POST over a plain socket: the body in `chunks` pieces 20 ms apart, with Content-Length `declared`."""
    address = urlparse(url)
    assert address.port is not None
    with socket.create_connection((address.hostname, address.port), timeout=10) as conn:
        head = f"POST {path} HTTP/1.1\r\nHost: {address.hostname}\r\nContent-Type: application/json\r\n"
        head += f"Content-Length: {declared}\r\nConnection: close\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
        conn.sendall(head.encode())
        size = -(-len(body) // chunks)
        for start in range(0, len(body), size):
            conn.sendall(body[start : start + size])
            time.sleep(0.02)
        conn.shutdown(socket.SHUT_WR)  # a truncated body: the client has nothing more to send
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


def signed_headers(secret: str, body: bytes) -> dict[str, str]:
    wsgi = webhook_headers(secret, body, msg_id=f"msg_{uuid.uuid4().hex}")
    return {name.removeprefix("HTTP_").replace("_", "-").lower(): value for name, value in wsgi.items()}


@pytest.mark.django_db(transaction=True)
def test_a_slow_body_is_read_whole_and_a_truncated_one_is_refused_storing_nothing(live_server: Any) -> None:
    estate = make_estate()
    path = f"/webhooks/v1/sources/{estate.ingest.source.pk}/events"
    body = orjson.dumps({"events": [event() for _ in range(20)]})
    deliveries = Delivery.objects.count()

    slow = raw_post(
        live_server.url, path, signed_headers(estate.ingest.secret, body), body, chunks=10, declared=len(body)
    )
    truncated = raw_post(
        live_server.url,
        path,
        signed_headers(estate.ingest.secret, body),
        body[: len(body) // 2],
        chunks=5,
        declared=len(body),
    )

    assert slow.startswith(b"HTTP/1.1 200"), slow[:200]
    assert truncated.startswith(b"HTTP/1.1 401"), truncated[:200]
    assert b'"code":"invalid_signature"' in truncated
    assert Delivery.objects.count() == deliveries + 1

"""For the hardening tests: one vendor's estate to aim bad requests at, a fingerprint of the database,
signature headers over any bytes, and a client that answers a server error as a real one would."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from contracts.models import ApiKey
from contracts.services.credentials import api_key_create
from notifications.models import Endpoint
from notifications.services.endpoints import endpoint_create
from outcomes.models import Delivery, Outcome
from outcomes.services.building import outcomes_build_for_delivery
from tests.support.ingest import Ingest, event, make_ingest
from tests.support.vendors import VendorApi, make_vendor_api

STRIPE_WEBHOOK_SECRET = "whsec_hardening_tests"
APPS = ("contracts_", "outcomes_", "settlement_", "notifications_", "auth_")


@dataclass
class Estate:
    """A vendor with an active contract, its sources, one outcome, and a client for each kind of key."""

    ingest: Ingest
    readonly: VendorApi
    customer_client: APIClient
    outcome: Outcome
    endpoint: Endpoint  # the customer's own webhook endpoint (the vendor reaches it too)

    @property
    def ids(self) -> dict[str, str]:
        return {
            "customer_id": str(self.ingest.contract.customer_id),
            "contract_id": str(self.ingest.contract.pk),
            "source_id": str(self.ingest.source.pk),
            "api_key_id": str(self.ingest.api.api_key.pk),
            "outcome_id": str(self.outcome.pk),
            "endpoint_id": str(self.endpoint.pk),
        }


def make_estate() -> Estate:
    ingest = make_ingest(api=make_vendor_api())
    assert ingest.post(event(natural_key="T-estate")).status_code == 200
    # The build runs on commit, which a test's transaction never reaches: build it here.
    outcomes_build_for_delivery(delivery_id=Delivery.objects.filter(source=ingest.source).latest("pk").pk)
    _, customer_key = api_key_create(
        vendor=ingest.api.vendor, name="customer", actor="system", customer=ingest.contract.customer
    )
    customer_client = APIClient()
    customer_client.credentials(HTTP_AUTHORIZATION=f"Bearer {customer_key}")
    return Estate(
        ingest=ingest,
        readonly=make_vendor_api(ingest.api.vendor, scope=ApiKey.Scope.READ),
        customer_client=customer_client,
        outcome=Outcome.objects.get(natural_key="T-estate"),
        endpoint=endpoint_create(
            vendor=ingest.api.vendor,
            customer=ingest.contract.customer,
            registered_by=Endpoint.Owner.CUSTOMER,
            url="https://hooks.example.com/estate",
            actor="system",
        )[0],
    )


def db_fingerprint() -> dict[str, tuple[int, str]]:
    """Each of our tables' row count and a checksum of its rows (API keys' last_used_at aside, which
    authentication refreshes): equal before and after a request that must change nothing."""
    fingerprint = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            if not table.startswith(APPS):
                continue
            row = connection.ops.quote_name(table)
            cursor.execute(
                f"SELECT count(*), md5(coalesce(string_agg(r, ',' ORDER BY r), '')) "  # noqa: S608 (our tables)
                f"FROM (SELECT (to_jsonb(t) - 'last_used_at')::text AS r FROM {row} t) rows"
            )
            count, checksum = cursor.fetchone()
            fingerprint[table] = (count, checksum)
    return fingerprint


def webhook_headers(secret: str, body: bytes, *, msg_id: str, at: int | None = None) -> dict[str, str]:
    """Standard Webhooks signature headers over raw bytes (any bytes, not only UTF-8)."""
    timestamp = str(int(time.time()) if at is None else at)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "HTTP_WEBHOOK_ID": msg_id,
        "HTTP_WEBHOOK_TIMESTAMP": timestamp,
        "HTTP_WEBHOOK_SIGNATURE": "v1," + base64.b64encode(digest).decode(),
    }


def stripe_headers(body: bytes, secret: str = STRIPE_WEBHOOK_SECRET) -> dict[str, str]:
    timestamp = int(time.time())
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"HTTP_STRIPE_SIGNATURE": f"t={timestamp},v1={signature}"}


def plain_client() -> Client:
    """A client that answers a server error with its 500 (as a real one would), instead of raising it."""
    return Client(raise_request_exception=False)

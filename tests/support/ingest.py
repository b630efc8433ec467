"""Ingestion stories: an active contract, its customer's webhook source and the vendor's agent source, and
events posted to them signed as Standard Webhooks signs them."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from django.test import Client
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from contracts.models import Contract, WebhookSource
from contracts.services.contracts import contract_activate, contract_create
from contracts.services.credentials import webhook_source_create
from tests.factories import CustomerFactory, approved_long_ago, contract_payload, new_contract
from tests.support.vendors import VendorApi, make_vendor_api


def sign(
    secret: str, body: bytes, *, msg_id: str | None = None, at: dt.datetime | None = None
) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    at = at or timezone.now()
    signature = Webhook(secret).sign(msg_id, at, body.decode())
    return {
        "HTTP_WEBHOOK_ID": msg_id,
        "HTTP_WEBHOOK_TIMESTAMP": str(int(at.timestamp())),
        "HTTP_WEBHOOK_SIGNATURE": signature,
    }


def event(**overrides: Any) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "kind": "outcome.claimed",
        "contract": "CTR-ingest",
        "outcome_type": "ticket.resolved",
        "natural_key": f"T-{uuid.uuid4().hex[:8]}",
        "occurred_at": (timezone.now() - dt.timedelta(minutes=1)).isoformat(),
        "evidence": {"ticket_status": "solved"},
        **overrides,
    }


@dataclass
class Ingest:
    """An active contract, a source of its customer with its secret, and a way to post to it."""

    api: VendorApi
    contract: Contract
    source: WebhookSource
    secret: str
    client: Client
    agent: WebhookSource
    agent_secret: str

    @property
    def url(self) -> str:
        return f"/webhooks/v1/sources/{self.source.pk}/events"

    def post(
        self,
        payload: Any,
        *,
        msg_id: str | None = None,
        secret: str | None = None,
        at: dt.datetime | None = None,
        as_agent: bool = False,
        content_type: str = "application/json",
        sender: str = "127.0.0.1",
        **meta: str,
    ) -> Any:
        """Post signed, as the customer's system of record (default) or as the vendor's agent, from the
        address `sender` (meta: more WSGI environ, e.g. HTTP_X_FORWARDED_FOR)."""
        body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        source, default_secret = (self.agent, self.agent_secret) if as_agent else (self.source, self.secret)
        headers = sign(secret or default_secret, body, msg_id=msg_id, at=at)
        url = f"/webhooks/v1/sources/{source.pk}/events"
        environ: dict[str, Any] = {"REMOTE_ADDR": sender, **headers, **meta}
        return self.client.generic("POST", url, body, content_type=content_type, **environ)


def make_ingest(
    api: VendorApi | None = None,
    reference: str = "CTR-ingest",
    terms: dict[str, Any] | None = None,
    **header: Any,
) -> Ingest:
    """`header`: more contract fields (e.g. approval_threshold_minor=...)."""
    api = api or make_vendor_api()
    customer = CustomerFactory.create(vendor=api.vendor)
    payload = {**contract_payload(customer, reference=reference, starts_at="2020-01-01"), **header}
    if terms is not None:
        payload["terms"] = terms
    contract = contract_create(vendor=api.vendor, **new_contract(payload), actor="test")
    contract = contract_activate(contract=contract, actor="test")
    # As if the customer created it with its own key (long ago): its events speak for the customer.
    source, secret = webhook_source_create(
        vendor=api.vendor,
        customer=customer,
        name="helpdesk",
        kind="customer_system",
        actor="test",
        by_customer=True,
    )
    source = approved_long_ago(source)
    agent, agent_secret = webhook_source_create(
        vendor=api.vendor, customer=customer, name="agent", kind="vendor_agent", actor="test"
    )
    return Ingest(
        api=api,
        contract=contract,
        source=source,
        secret=secret,
        client=Client(),
        agent=agent,
        agent_secret=agent_secret,
    )

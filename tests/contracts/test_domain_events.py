"""Contracts publish their events in the transaction of each change: activated once, each amendment of
a contract in force with what it changes, and each webhook source secret about to expire, once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import fastjsonschema
import pytest
import time_machine
from django.db import transaction

from contracts.domain_events import EVENT_TYPES
from contracts.models import Contract, WebhookSecret
from contracts.services.announcements import deadlines_announce
from contracts.services.contracts import contract_activate, contract_amend, contract_suspend
from contracts.services.credentials import webhook_source_revoke, webhook_source_rotate_secret
from contracts.tasks import announce_deadlines
from contracts.terms import Amendment, parse
from notifications.models import Event
from tests.factories import (
    CustomerFactory,
    amendment_payload,
    contract_create_for,
    outcome_type_terms,
    webhook_source_create_for,
)

pytestmark = pytest.mark.django_db

SCHEMAS = {event_type.name: fastjsonschema.compile(event_type.data_schema) for event_type in EVENT_TYPES}
NOW = dt.datetime(2026, 2, 10, 15, 0, tzinfo=dt.UTC)


def events(name: str) -> list[Event]:
    rows = list(Event.objects.filter(type=name).order_by("id"))
    for row in rows:
        SCHEMAS[row.type](row.data)  # what is recorded is what the catalogue documents
    return rows


def about(row: Event) -> tuple[str, str, Any, Any, Any]:
    return row.type, row.object_id, row.vendor_id, row.customer_id, row.contract_id


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=lambda event_type: event_type.name)
def test_each_example_is_valid_by_its_schema(event_type: Any) -> None:
    assert SCHEMAS[event_type.name](event_type.example) == event_type.example


def test_a_contract_is_announced_active_once() -> None:
    contract = contract_create_for()
    assert events("contract.activated") == []  # a draft is nobody's news

    with time_machine.travel(NOW, tick=False):
        contract_activate(contract=contract, actor="test")
        contract_suspend(contract=Contract.objects.get(pk=contract.pk), actor="test")
        contract_activate(contract=Contract.objects.get(pk=contract.pk), actor="test")  # resumed: not news

    [row] = events("contract.activated")
    assert about(row) == (
        "contract.activated",
        str(contract.pk),
        contract.vendor_id,
        contract.customer_id,
        contract.pk,
    )
    assert (row.dedup_key, row.occurred_at) == (f"contract.activated:{contract.pk}", NOW)
    assert row.data == {
        "reference": contract.reference,
        "previous_status": "draft",
        "status": "active",
        "activated_at": NOW.isoformat(),
        "starts_at": "2026-01-01T05:00:00+00:00",
        "ends_at": None,
        "currency": "USD",
        "version": 1,
    }


def test_an_activation_rolled_back_leaves_no_event() -> None:
    contract = contract_create_for()

    with pytest.raises(RuntimeError), transaction.atomic():  # noqa: PT012 (the change, then the failure)
        contract_activate(contract=contract, actor="test")
        raise RuntimeError("the request fails after the activation")

    assert Contract.objects.get(pk=contract.pk).status == "draft"
    assert events("contract.activated") == []


def amend(contract: Contract, effective_from: str | None = None, **terms: Any) -> None:
    contract_amend(
        contract=contract,
        amendment=parse(Amendment, amendment_payload(effective_from, **terms)),
        actor="test",
    )


def test_an_amendment_of_a_contract_in_force_says_what_changes_and_from_when() -> None:
    contract = contract_create_for()
    amend(contract, "2026-01-15", platform_fee_minor=60_000)  # still a draft: its terms, not news
    with time_machine.travel(NOW, tick=False):
        contract_activate(contract=contract, actor="test")
        amend(
            contract,
            "2026-03-01",
            platform_fee_minor=60_000,
            cap_amount_minor=1_000_000,
            outcome_types=[
                outcome_type_terms(pricing={"model": "per_unit", "unit_price": "1.10"}),
                outcome_type_terms(key="invoice.collected"),
            ],
        )

    [row] = events("contract.amended")
    assert about(row) == (
        "contract.amended",
        str(contract.pk),
        contract.vendor_id,
        contract.customer_id,
        contract.pk,
    )
    assert (row.dedup_key, row.occurred_at) == (None, NOW)
    assert row.data == {
        "reference": contract.reference,
        "version": 3,
        "previous_version": 2,
        "effective_from": "2026-03-01T05:00:00+00:00",
        "changed_terms": ["cap_amount_minor"],
        "outcome_types_added": ["invoice.collected"],
        "outcome_types_removed": [],
        "outcome_types_changed": ["ticket.resolved"],
        "platform_fee_minor": 60_000,
        "minimum_commitment_minor": 0,
        "cap_amount_minor": 1_000_000,
        "budget_alert_percents": [80, 95],
        "currency": "USD",
    }


def test_each_secret_expiring_within_a_week_is_announced_once() -> None:
    customer = CustomerFactory.create()
    source, _ = webhook_source_create_for(customer, name="Helpdesk", approved=False)
    revoked, _ = webhook_source_create_for(customer, name="Old helpdesk", approved=False)
    with time_machine.travel(NOW, tick=False):
        webhook_source_rotate_secret(source=source, overlap=dt.timedelta(days=8), actor="test")
        webhook_source_rotate_secret(source=revoked, overlap=dt.timedelta(days=2), actor="test")
        webhook_source_revoke(source=revoked, actor="test")  # its secrets sign nothing any more: no notice
    rotated = WebhookSecret.objects.get(source=source, expires_at__isnull=False)

    assert deadlines_announce(now=NOW + dt.timedelta(hours=23)) == 0  # 7 days and an hour to go
    at = NOW + dt.timedelta(days=1, minutes=1)
    assert deadlines_announce(now=at) == 1
    with time_machine.travel(at + dt.timedelta(hours=1), tick=False):
        assert announce_deadlines.apply().get() == 1  # handed again, kept once
    assert deadlines_announce(now=NOW + dt.timedelta(days=9)) == 0  # expired: nothing more to say

    [row] = events("source.secret_expiring")
    assert about(row) == ("source.secret_expiring", str(source.pk), customer.vendor_id, None, None)
    assert (row.dedup_key, row.occurred_at) == (f"source.secret_expiring:{rotated.pk}", at)
    assert row.data == {
        "name": "Helpdesk",
        "kind": "customer_system",
        "source_customer_id": str(customer.pk),
        "secret_id": str(rotated.pk),
        "secret_hint": rotated.hint,
        "expires_at": (NOW + dt.timedelta(days=8)).isoformat(),
    }

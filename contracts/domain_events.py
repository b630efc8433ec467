"""The events contracts publishes (core.events): a contract activated, a contract amended (a new version
of its terms: what changed and from when), and a webhook source's signing secret about to expire.

The builders are called by the services inside the transaction of the change (or by the deadline
announcements, once per object with a dedup key); the catalogue is read by `notifications`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from contracts.models import Contract, ContractVersion, WebhookSecret
from core.currencies import minor_units_help
from core.events import CUSTOMER, VENDOR, DomainEvent, EventType

ACTIVATED = "contract.activated"
AMENDED = "contract.amended"
SECRET_EXPIRING = "source.secret_expiring"  # noqa: S105 (an event name, not a secret)

_INSTANT = {"type": "string", "format": "date-time"}
_NULLABLE_INSTANT = {"type": ["string", "null"], "format": "date-time"}
_KEYS = {"type": "array", "items": {"type": "string"}}
# The version's terms an amendment may change, as the API names them (`notes` is the vendor's own text:
# left out, so a customer's endpoint learns nothing of it).
AMENDABLE_TERMS = (
    "platform_fee_minor",
    "minimum_commitment_minor",
    "cap_amount_minor",
    "budget_alert_percents",
)


def _schema(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


EVENT_TYPES: tuple[EventType, ...] = (
    EventType(
        name=ACTIVATED,
        summary="A draft contract was activated: its terms are locked and its outcomes are billed from "
        "its start.",
        object="contract",
        audiences=frozenset({VENDOR, CUSTOMER}),
        data_schema=_schema(
            {
                "reference": {"type": "string", "description": "The vendor's name for the contract."},
                "previous_status": {"type": "string", "const": "draft"},
                "status": {"type": "string", "const": "active"},
                "activated_at": _INSTANT,
                "starts_at": _INSTANT,
                "ends_at": _NULLABLE_INSTANT,
                "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
                "version": {"type": "integer", "minimum": 1, "description": "The latest version's number."},
            }
        ),
        example={
            "reference": "ACME-2026",
            "previous_status": "draft",
            "status": "active",
            "activated_at": "2026-10-15T12:00:00+00:00",
            "starts_at": "2026-11-01T04:00:00+00:00",
            "ends_at": None,
            "currency": "USD",
            "version": 1,
        },
    ),
    EventType(
        name=AMENDED,
        summary="A new version of an active (or suspended) contract's terms was added: which terms and "
        "outcome types it changes and from when.",
        object="contract",
        audiences=frozenset({VENDOR, CUSTOMER}),
        data_schema=_schema(
            {
                "reference": {"type": "string"},
                "version": {"type": "integer", "minimum": 2},
                "previous_version": {"type": "integer", "minimum": 1},
                "effective_from": _INSTANT,
                "changed_terms": {
                    **_KEYS,
                    "description": "The version's amounts that differ from the previous version's: "
                    + ", ".join(f"`{term}`" for term in AMENDABLE_TERMS)
                    + ".",
                },
                "outcome_types_added": {**_KEYS, "description": "Outcome type keys new in this version."},
                "outcome_types_removed": {**_KEYS, "description": "Outcome type keys it no longer has."},
                "outcome_types_changed": {
                    **_KEYS,
                    "description": "Outcome type keys whose price, limits or verification policy changed.",
                },
                "platform_fee_minor": {
                    "type": "integer",
                    "description": minor_units_help("A fixed fee per period."),
                },
                "minimum_commitment_minor": {
                    "type": "integer",
                    "description": minor_units_help("The least a period bills."),
                },
                "cap_amount_minor": {
                    "type": ["integer", "null"],
                    "description": minor_units_help("The most the contract bills per period (null: no cap)."),
                },
                "budget_alert_percents": {"type": "array", "items": {"type": "integer"}},
                "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            }
        ),
        example={
            "reference": "ACME-2026",
            "version": 3,
            "previous_version": 2,
            "effective_from": "2026-12-01T05:00:00+00:00",
            "changed_terms": ["platform_fee_minor"],
            "outcome_types_added": ["invoice.collected"],
            "outcome_types_removed": [],
            "outcome_types_changed": ["ticket.resolved"],
            "platform_fee_minor": 25_000,
            "minimum_commitment_minor": 0,
            "cap_amount_minor": 1_000_000,
            "budget_alert_percents": [80, 95],
            "currency": "USD",
        },
    ),
    EventType(
        name=SECRET_EXPIRING,
        summary="A webhook source's signing secret expires within 7 days (once per secret): sign with "
        "the newer secret before then.",
        object="webhook_source",
        # The vendor's only: rotating a source's secret is the vendor's act (its portal and vendor API),
        # and a customer's endpoint filters by type, not by source kind, so "the customer's system's
        # sources only" could not be said without reading every event.
        audiences=frozenset({VENDOR}),
        data_schema=_schema(
            {
                "name": {"type": "string", "description": "The source's name."},
                "kind": {"type": "string", "enum": ["customer_system", "vendor_agent"]},
                "source_customer_id": {"type": "string", "description": "The customer the source posts for."},
                "secret_id": {"type": "string"},
                "secret_hint": {"type": "string", "description": "The secret's last characters."},
                "expires_at": _INSTANT,
            }
        ),
        example={
            "name": "Acme helpdesk",
            "kind": "customer_system",
            "source_customer_id": "5e1a9c3d-2b7f-4e8a-b6c0-9d4f2a1e8b35",
            "secret_id": "118",
            "secret_hint": "q3Zx",
            "expires_at": "2026-11-08T09:00:00+00:00",
        },
    ),
)


def activated(contract: Contract, *, version: int) -> DomainEvent:
    """The contract as activated (its `activated_at` set). Keyed by the contract: activation happens once."""
    assert contract.activated_at is not None
    return DomainEvent(
        type=ACTIVATED,
        vendor_id=contract.vendor_id,
        customer_id=contract.customer_id,
        contract_id=contract.pk,
        object_id=str(contract.pk),
        data={
            "reference": contract.reference,
            "previous_status": "draft",
            "status": "active",
            "activated_at": contract.activated_at.isoformat(),
            "starts_at": contract.starts_at.isoformat(),
            "ends_at": None if contract.ends_at is None else contract.ends_at.isoformat(),
            "currency": contract.currency,
            "version": version,
        },
        occurred_at=contract.activated_at,
        dedup_key=f"{ACTIVATED}:{contract.pk}",
    )


def _outcome_types(version: ContractVersion) -> dict[str, tuple[Any, ...]]:
    return {
        item.key: (
            item.description,
            item.natural_key_field,
            item.billing_basis,
            item.pricing,
            item.free_units,
            item.cap_units,
            item.cap_amount_minor,
            item.verification_policy,
        )
        for item in version.outcome_types.all()
    }


def amended(
    contract: Contract, *, version: ContractVersion, previous: ContractVersion, now: dt.datetime
) -> DomainEvent:
    """A new version of `contract`, compared with the version before it (both stored)."""
    new_types, old_types = _outcome_types(version), _outcome_types(previous)
    return DomainEvent(
        type=AMENDED,
        vendor_id=contract.vendor_id,
        customer_id=contract.customer_id,
        contract_id=contract.pk,
        object_id=str(contract.pk),
        data={
            "reference": contract.reference,
            "version": version.number,
            "previous_version": previous.number,
            "effective_from": version.effective_from.isoformat(),
            "changed_terms": [
                term for term in AMENDABLE_TERMS if getattr(version, term) != getattr(previous, term)
            ],
            "outcome_types_added": sorted(new_types.keys() - old_types.keys()),
            "outcome_types_removed": sorted(old_types.keys() - new_types.keys()),
            "outcome_types_changed": sorted(
                key for key in new_types.keys() & old_types.keys() if new_types[key] != old_types[key]
            ),
            **{term: getattr(version, term) for term in AMENDABLE_TERMS},
            "currency": contract.currency,
        },
        occurred_at=now,
    )


def secret_expiring(secret: WebhookSecret, *, now: dt.datetime) -> DomainEvent:
    """`secret` (its source selected) expires soon. Keyed by the secret: announced once."""
    source = secret.source
    assert secret.expires_at is not None
    return DomainEvent(
        type=SECRET_EXPIRING,
        vendor_id=source.vendor_id,
        # The vendor's own object, as the catalogue's other vendor objects: no customer, no contract.
        customer_id=None,
        contract_id=None,
        object_id=str(source.pk),
        data={
            "name": source.name,
            "kind": source.kind,
            "source_customer_id": str(source.customer_id),
            "secret_id": str(secret.pk),
            "secret_hint": secret.hint,
            "expires_at": secret.expires_at.isoformat(),
        },
        occurred_at=now,
        dedup_key=f"{SECRET_EXPIRING}:{secret.pk}",
    )

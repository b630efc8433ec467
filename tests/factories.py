"""factory_boy factories for the domain; terms payloads valid by default, overridable per test."""

from __future__ import annotations

import datetime as dt
from typing import Any

import factory

from contracts.models import Customer, Vendor


class VendorFactory(factory.django.DjangoModelFactory[Vendor]):
    class Meta:
        model = Vendor

    name = factory.Sequence(lambda n: f"Vendor {n}")
    slug = factory.Sequence(lambda n: f"vendor-{n}")


class CustomerFactory(factory.django.DjangoModelFactory[Customer]):
    class Meta:
        model = Customer

    vendor = factory.SubFactory(VendorFactory)
    name = factory.Sequence(lambda n: f"Customer {n}")
    external_ref = factory.Sequence(lambda n: f"cust-{n}")
    billing_email = factory.Sequence(lambda n: f"billing{n}@example.com")


def outcome_type_terms(**overrides: Any) -> dict[str, Any]:
    """One valid outcome type: ticket.resolved at 0.90 per verified resolution."""
    return {
        "key": "ticket.resolved",
        "description": "A support ticket resolved by the agent",
        "natural_key_field": "ticket_id",
        "billing_basis": "per_outcome",
        "pricing": {"model": "per_unit", "unit_price": "0.90"},
        **overrides,
    }


def version_terms(**overrides: Any) -> dict[str, Any]:
    return {"platform_fee_minor": 50_000, "outcome_types": [outcome_type_terms()], **overrides}


def contract_payload(customer: Customer, **overrides: Any) -> dict[str, Any]:
    """A valid body for POST /api/v1/contracts and for services.contracts.contract_create."""
    return {
        "customer_id": str(customer.pk),
        "reference": f"CTR-{customer.external_ref}",
        "currency": "USD",
        "timezone": "America/New_York",
        "anchor_day": 1,
        "starts_at": dt.date(2026, 1, 1).isoformat(),
        "terms": version_terms(),
        **overrides,
    }

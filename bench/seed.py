"""Seed the bench database through the services: a vendor, a customer, an active contract, a source.

Run by bench.ingest in a subprocess with the bench's environment (DATABASE_URL, FIELD_ENCRYPTION_KEYS);
prints one JSON object: the source id, its signing secret and the contract reference events cite.
"""

from __future__ import annotations

import os
import sys

import django
import orjson

CONTRACT_REFERENCE = "CTR-bench"
OUTCOME_TYPE = "ticket.resolved"


def seed() -> dict[str, str]:
    from contracts.models import Vendor
    from contracts.services.contracts import contract_activate, contract_create
    from contracts.services.credentials import webhook_source_create
    from contracts.services.customers import customer_create

    vendor = Vendor.objects.create(name="Bench Vendor", slug="bench-vendor")
    customer = customer_create(
        vendor=vendor,
        data={"name": "Bench Customer", "external_ref": "bench-1", "billing_email": "billing@bench.test"},
        actor="bench",
    )
    contract = contract_create(
        vendor=vendor,
        data={
            "customer_id": str(customer.pk),
            "reference": CONTRACT_REFERENCE,
            "currency": "USD",
            "timezone": "UTC",
            "anchor_day": 1,
            "starts_at": "2020-01-01",
            "terms": {
                "platform_fee_minor": 50_000,
                "outcome_types": [
                    {
                        "key": OUTCOME_TYPE,
                        "description": "A support ticket resolved by the agent",
                        "natural_key_field": "ticket_id",
                        "billing_basis": "per_outcome",
                        "pricing": {"model": "per_unit", "unit_price": "0.90"},
                    }
                ],
            },
        },
        actor="bench",
    )
    contract_activate(contract=contract, actor="bench")
    source, secret = webhook_source_create(
        vendor=vendor, customer=customer, name="bench", kind="customer_system", actor="bench"
    )
    return {
        "source_id": str(source.pk),
        "secret": secret,
        "contract": CONTRACT_REFERENCE,
        "outcome_type": OUTCOME_TYPE,
    }


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    sys.stdout.buffer.write(orjson.dumps(seed()) + b"\n")

"""Seed a bench database through the services, in a subprocess with the bench's environment
(DATABASE_URL, FIELD_ENCRYPTION_KEYS); prints one JSON object.

    python -m bench.seed                  # bench.ingest: one active contract and its source
    python -m bench.seed soak --closing 4 --ongoing 4
                                          # bench.soak: contracts the soak terminates midway and
                                          # ongoing ones, a source each, a read and a write API key
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from typing import TYPE_CHECKING, Any

import django
import orjson

if TYPE_CHECKING:
    from contracts.models import Contract, Customer, Vendor

CONTRACT_REFERENCE = "CTR-bench"
OUTCOME_TYPE = "ticket.resolved"
# What lets an outcome become billable as soon as it is built: the customer's own system reports it
# (confirmation accepts), no maturation hold, no suppression statistics to wait for.
FAST_POLICY: dict[str, Any] = {
    "maturation": {"hold_hours": 0},
    "suppression": {"enabled": False},
}


def _contract(
    *,
    vendor: Vendor,
    customer: Customer,
    reference: str,
    starts_at: str,
    anchor_day: int = 1,
    verification_policy: dict[str, Any] | None = None,
) -> Contract:
    from contracts.services.contracts import contract_activate, contract_create, contract_create_parse

    outcome_type: dict[str, Any] = {
        "key": OUTCOME_TYPE,
        "description": "A support ticket resolved by the agent",
        "natural_key_field": "ticket_id",
        "billing_basis": "per_outcome",
        "pricing": {"model": "per_unit", "unit_price": "0.90"},
    }
    if verification_policy is not None:
        outcome_type["verification_policy"] = verification_policy
    header, terms = contract_create_parse(
        {
            "customer_id": str(customer.pk),
            "reference": reference,
            "currency": "USD",
            "timezone": "UTC",
            "anchor_day": anchor_day,
            "starts_at": starts_at,
            "terms": {"platform_fee_minor": 50_000, "outcome_types": [outcome_type]},
        }
    )
    contract = contract_create(vendor=vendor, header=header, terms=terms, actor="bench")
    contract_activate(contract=contract, actor="bench")
    return contract


def _customer(vendor: Vendor, n: int) -> Customer:
    from contracts.services.customers import customer_create, customer_fields_parse

    return customer_create(
        vendor=vendor,
        fields=customer_fields_parse(
            {
                "name": f"Bench Customer {n}",
                "external_ref": f"bench-{n}",
                "billing_email": f"billing{n}@bench.test",
            }
        ),
        actor="bench",
    )


def seed() -> dict[str, str]:
    from contracts.models import Vendor
    from contracts.services.credentials import webhook_source_create

    vendor = Vendor.objects.create(name="Bench Vendor", slug="bench-vendor")
    customer = _customer(vendor, 1)
    _contract(vendor=vendor, customer=customer, reference=CONTRACT_REFERENCE, starts_at="2020-01-01")
    source, secret = webhook_source_create(
        vendor=vendor,
        customer=customer,
        name="bench",
        kind="customer_system",
        actor="bench",
        by_customer=True,
    )
    return {
        "source_id": str(source.pk),
        "secret": secret,
        "contract": CONTRACT_REFERENCE,
        "outcome_type": OUTCOME_TYPE,
    }


def seed_soak(*, closing: int, ongoing: int, now: dt.datetime) -> dict[str, Any]:
    """`closing + ongoing` active contracts whose period ends weeks after `now` (the soak terminates the
    first `closing` of them midway, which ends their period then), each with its own customer and
    helpdesk source (the customer's system of record); a read-only and a write vendor API key.
    Contracts start an hour before `now`."""
    from contracts.models import ApiKey, Vendor
    from contracts.services.credentials import api_key_create, webhook_source_create

    vendor = Vendor.objects.create(name="Soak Vendor", slug="soak-vendor")
    starts_at = (now - dt.timedelta(hours=1)).isoformat()
    # An anchor two weeks away: no period boundary falls inside the soak except the closing contracts' end.
    anchor_day = min((now + dt.timedelta(days=14)).day, 28)
    contracts = []
    for n in range(closing + ongoing):
        customer = _customer(vendor, n)
        is_closing = n < closing
        contract = _contract(
            vendor=vendor,
            customer=customer,
            reference=f"CTR-soak-{n}",
            starts_at=starts_at,
            anchor_day=anchor_day,
            verification_policy=FAST_POLICY,
        )
        source, secret = webhook_source_create(
            vendor=vendor,
            customer=customer,
            name="helpdesk",
            kind="customer_system",
            actor="bench",
            by_customer=True,
        )
        contracts.append(
            {
                "id": str(contract.pk),
                "reference": contract.reference,
                "closing": is_closing,
                "source_id": str(source.pk),
                "secret": secret,
            }
        )
    _, read_key = api_key_create(vendor=vendor, name="soak reads", scope=ApiKey.Scope.READ, actor="bench")
    _, write_key = api_key_create(vendor=vendor, name="soak terminations", actor="bench")
    return {
        "contracts": contracts,
        "outcome_type": OUTCOME_TYPE,
        "read_key": read_key,
        "write_key": write_key,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", nargs="?", choices=["ingest", "soak"], default="ingest")
    parser.add_argument("--closing", type=int, default=4)
    parser.add_argument("--ongoing", type=int, default=4)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    if args.what == "soak":
        from django.utils import timezone

        result: dict[str, Any] = seed_soak(closing=args.closing, ongoing=args.ongoing, now=timezone.now())
    else:
        result = seed()
    sys.stdout.buffer.write(orjson.dumps(result) + b"\n")


if __name__ == "__main__":
    main()

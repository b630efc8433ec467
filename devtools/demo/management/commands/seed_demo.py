"""`manage.py seed_demo [--if-empty]`: a demo vendor with customers, active contracts and credentials,
outbound webhook endpoints pointing at the local demo receiver, and an operator account for the Django admin.

Everything with a service is created through it, so the demo data passes the same validation and
leaves the same audit trail as the API. Secrets are printed once, here, and never stored in clear.
The demo's owner is a plain member of the vendor's team, as a real vendor's is: the admin, which shows
every vendor's data, is the operator's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from contracts.models import (
    ApiKey,
    Contract,
    Customer,
    CustomerMembership,
    CustomerRole,
    Membership,
    Role,
    Vendor,
    WebhookSource,
)
from contracts.services.contracts import contract_activate, contract_create, contract_create_parse
from contracts.services.credentials import api_key_create, webhook_source_create
from contracts.services.customers import customer_create, customer_fields_parse
from devtools.demo.clock import clock_at
from notifications.models import Endpoint
from notifications.services.endpoints import endpoint_create

ACTOR = "system:seed_demo"
VENDOR_NAME = "Northwind Agents"
VENDOR_SLUG = "northwind"
DEMO_EMAIL = "demo@verity.test"
DEMO_PASSWORD = "verity-demo"  # noqa: S105 - the documented demo login, printed by `make run`
# A person of the demo customer Contoso Legal, in the customer portal (/customer/).
CUSTOMER_EMAIL = "buyer@contoso.test"
CUSTOMER_PASSWORD = "verity-customer"  # noqa: S105 - the documented demo customer login, printed by `make run`
CUSTOMER_MEMBER_OF = "contoso"
OPERATOR_USERNAME = "operator"
OPERATOR_EMAIL = "operator@verity.test"
OPERATOR_PASSWORD = "verity-operator"  # noqa: S105 - the documented demo admin login, printed by `make run`

# The local receiver devtools/run-demo.sh starts (devtools.webhook_receiver), and the fixed dev-only secrets
# it verifies with (run-demo.sh passes the same two): the vendor's endpoint, and Contoso's own.
DEMO_RECEIVER_URL = "http://127.0.0.1:12112/"
DEMO_WEBHOOK_SECRET = "whsec_dmVyaXR5LWRlbW8tcmVjZWl2ZXI6dmVuZG9yOm5vdC1hLXNlY3JldA=="  # noqa: S105 - dev-only
DEMO_CUSTOMER_WEBHOOK_SECRET = "whsec_dmVyaXR5LWRlbW8tcmVjZWl2ZXI6Y29udG9zbzpub3QtYS1zZWNyZXQ="  # noqa: S105 - dev-only
DEMO_WEBHOOK_CUSTOMER = "contoso"

CUSTOMERS: list[dict[str, str]] = [
    {"name": "Contoso Legal", "external_ref": "contoso", "billing_email": "ap@contoso.test"},
    {"name": "Fabrikam Support", "external_ref": "fabrikam", "billing_email": "billing@fabrikam.test"},
    {"name": "Tailspin Collections", "external_ref": "tailspin", "billing_email": "finance@tailspin.test"},
]


def _contract_terms(starts_on: dt.date) -> dict[str, dict[str, Any]]:
    """One contract per customer (by external_ref): per task, per outcome, and a success fee."""
    starts_at = starts_on.isoformat()
    return {
        "contoso": {
            "reference": "NW-CONTOSO-DOCREVIEW",
            "currency": "USD",
            "timezone": "America/New_York",
            "starts_at": starts_at,
            "collection_method": "send_invoice",
            "days_until_due": 30,
            "terms": {
                "notes": "Per task: every completed document review is billed.",
                "outcome_types": [
                    {
                        "key": "document.reviewed",
                        "description": "A contract document reviewed by the agent",
                        "natural_key_field": "document_id",
                        "billing_basis": "per_task",
                        "pricing": {"model": "per_unit", "unit_price": "1.25"},
                        "cap_units": 20_000,
                        "verification_policy": {
                            "confirmation": {"required": False},
                            "maturation": {"hold_hours": 0, "disqualifiers": []},
                            "time_to_outcome": {"enabled": True, "min_seconds": 60, "max_seconds": 604_800},
                            "evidence": {
                                "required_fields": {"page_count": "integer", "report_sha256": "sha256"}
                            },
                        },
                    }
                ],
            },
        },
        "fabrikam": {
            "reference": "NW-FABRIKAM-SUPPORT",
            "currency": "USD",
            "timezone": "America/Chicago",
            "starts_at": starts_at,
            "terms": {
                "platform_fee_minor": 50_000,
                "minimum_commitment_minor": 200_000,
                "notes": "Per outcome: only resolutions the helpdesk confirms and that stay closed for 72 h.",
                "outcome_types": [
                    {
                        "key": "ticket.resolved",
                        "description": "A support ticket resolved by the agent, confirmed by the helpdesk",
                        "natural_key_field": "ticket_id",
                        "billing_basis": "per_outcome",
                        "pricing": {
                            "model": "graduated",
                            "tiers": [
                                {"up_to": 1_000, "unit_price": "0.99"},
                                {"up_to": 10_000, "unit_price": "0.79"},
                                {"up_to": None, "unit_price": "0.59"},
                            ],
                        },
                        "free_units": 100,
                        "verification_policy": {
                            "confirmation": {"required": True, "match_window_hours": 72},
                            "maturation": {"hold_hours": 72},
                            "evidence": {"required_fields": {"ticket_status": "string"}},
                            "split_detection": {"enabled": True, "window_hours": 24},
                        },
                    }
                ],
            },
        },
        "tailspin": {
            "reference": "NW-TAILSPIN-RECOVERY",
            "currency": "EUR",
            "timezone": "Europe/Berlin",
            "starts_at": starts_at,
            "terms": {
                "notes": "Success fee: 8 % of each recovered invoice, at least EUR 5 and at most EUR 500.",
                "outcome_types": [
                    {
                        "key": "invoice.recovered",
                        "description": "An overdue invoice paid after the agent's outreach",
                        "natural_key_field": "invoice_id",
                        "billing_basis": "per_outcome",
                        "pricing": {
                            "model": "percentage",
                            "percent": "8",
                            "min_fee_minor": 500,
                            "max_fee_minor": 50_000,
                        },
                        "verification_policy": {
                            "maturation": {
                                "hold_hours": 720,
                                "disqualifiers": ["payment_reversed", "chargeback"],
                            },
                            "evidence": {
                                "required_fields": {
                                    "recovered_amount_minor": "integer",
                                    "payment_reference": "string",
                                }
                            },
                        },
                    }
                ],
            },
        },
    }


@dataclass(frozen=True)
class SeededSource:
    source: WebhookSource
    signing_secret: str


@dataclass(frozen=True)
class SeededDemo:
    vendor: Vendor
    contracts: list[Contract]
    sources: list[SeededSource]
    api_key: ApiKey
    raw_api_key: str
    endpoints: list[Endpoint]


def _first_of_previous_month(today: dt.date) -> dt.date:
    return (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def seed_demo(*, today: dt.date) -> SeededDemo:
    """Create the demo vendor and everything under it, in one transaction."""
    user_model = get_user_model()
    if Vendor.objects.filter(slug=VENDOR_SLUG).exists():
        raise CommandError(f"Vendor {VENDOR_SLUG!r} already exists; use --if-empty to skip seeding.")
    for username in (DEMO_EMAIL, CUSTOMER_EMAIL, OPERATOR_USERNAME):
        if user_model.objects.filter(username=username).exists():
            raise CommandError(f"User {username!r} already exists; seed an empty database.")
    with transaction.atomic():
        vendor = Vendor.objects.create(name=VENDOR_NAME, slug=VENDOR_SLUG)
        user = user_model.objects.create_user(username=DEMO_EMAIL, email=DEMO_EMAIL, password=DEMO_PASSWORD)
        user_model.objects.create_superuser(
            username=OPERATOR_USERNAME, email=OPERATOR_EMAIL, password=OPERATOR_PASSWORD
        )
        Membership.objects.create(user=user, vendor=vendor, role=Role.OWNER)
        customers: dict[str, Customer] = {
            data["external_ref"]: customer_create(
                vendor=vendor, fields=customer_fields_parse(data), actor=ACTOR
            )
            for data in CUSTOMERS
        }
        # An approver: the role that will confirm, dispute and approve once the portal has those actions.
        CustomerMembership.objects.create(
            user=user_model.objects.create_user(
                username=CUSTOMER_EMAIL, email=CUSTOMER_EMAIL, password=CUSTOMER_PASSWORD
            ),
            customer=customers[CUSTOMER_MEMBER_OF],
            role=CustomerRole.APPROVER,
        )
        contracts = []
        first_day = _first_of_previous_month(today)
        for external_ref, payload in _contract_terms(first_day).items():
            header, terms = contract_create_parse({"customer_id": str(customers[external_ref].pk), **payload})
            draft = contract_create(vendor=vendor, header=header, terms=terms, actor=ACTOR)
            contracts.append(contract_activate(contract=draft, actor=ACTOR))
        # As if each customer had created its own before the simulated month (demo_activity posts on
        # its past days): approved from then on, so its events confirm.
        with clock_at(dt.datetime.combine(first_day - dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)):
            sources = [
                SeededSource(
                    *webhook_source_create(
                        vendor=vendor,
                        customer=customer,
                        name=f"{customer.name} system of record",
                        kind=WebhookSource.Kind.CUSTOMER_SYSTEM,
                        actor=ACTOR,
                        by_customer=True,
                    )
                )
                for customer in customers.values()
            ]
        sources.append(
            SeededSource(
                *webhook_source_create(
                    vendor=vendor,
                    customer=customers["fabrikam"],
                    name="Northwind support agent",
                    kind=WebhookSource.Kind.VENDOR_AGENT,
                    actor=ACTOR,
                )
            )
        )
        api_key, raw_api_key = api_key_create(
            vendor=vendor, name="Demo key", scope=ApiKey.Scope.WRITE, actor=ACTOR, created_by_id=user.pk
        )
        webhook_customer = customers[DEMO_WEBHOOK_CUSTOMER]
        endpoints = [
            endpoint_create(
                vendor=vendor,
                url=DEMO_RECEIVER_URL,
                description="The local demo receiver (devtools/webhook_receiver)",
                secret=DEMO_WEBHOOK_SECRET,
                actor=ACTOR,
            )[0],
            endpoint_create(
                vendor=vendor,
                customer=webhook_customer,
                url=f"{DEMO_RECEIVER_URL}{DEMO_WEBHOOK_CUSTOMER}",
                description=f"{webhook_customer.name}'s systems (the local demo receiver)",
                secret=DEMO_CUSTOMER_WEBHOOK_SECRET,
                actor=ACTOR,
            )[0],
        ]
    return SeededDemo(
        vendor=vendor,
        contracts=contracts,
        sources=sources,
        api_key=api_key,
        raw_api_key=raw_api_key,
        endpoints=endpoints,
    )


class Command(BaseCommand):
    help = (
        "Load the demo vendor (Northwind Agents) with customers, active contracts and credentials, "
        "and an operator account for the admin."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing when any vendor exists already (what `make run` uses).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["if_empty"] and Vendor.objects.exists():
            self.stdout.write("seed_demo: skipped, the database already has vendors.")
            # Only a key's hash and a secret's ciphertext are stored: nothing can show them again.
            self.stdout.write(
                "  The demo's API key and webhook signing secrets were shown only when they were made. New ones:\n"
                "    an API key     portal Settings > API keys, or\n"
                f"                   .venv/bin/python manage.py create_api_key --vendor {VENDOR_SLUG} --name demo\n"
                "    a secret       portal Settings > Webhook sources > the source > Rotate the secret\n"
                "                   (a customer's system of record, which the customer approved: with that\n"
                "                   customer's API key, POST /api/v1/customer/webhook-sources/{id}/rotate-secret)"
            )
            return
        demo = seed_demo(today=timezone.now().date())
        write = self.stdout.write
        write(self.style.SUCCESS(f"Seeded demo vendor {demo.vendor.name} ({demo.vendor.slug})."))
        write(f"  Portal login {DEMO_EMAIL} / {DEMO_PASSWORD}   at /   (the vendor's owner)")
        write(
            f"  Customer login {CUSTOMER_EMAIL} / {CUSTOMER_PASSWORD}   at /customer/   "
            "(an approver of Contoso Legal: the customer portal)"
        )
        write(
            f"  Admin login  {OPERATOR_USERNAME} / {OPERATOR_PASSWORD}   at /admin/   (an operator: every vendor)"
        )
        write(f"  API key      {demo.raw_api_key}   (scope {demo.api_key.scope}; shown only now)")
        write("  Contracts (active):")
        for contract in demo.contracts:
            write(f"    {contract.reference:<24} {contract.currency}  {contract.timezone}")
        write("  Webhook sources (signing secrets are shown only now):")
        for seeded in demo.sources:
            source = seeded.source
            write(f"    {source.name} [{source.kind}]")
            write(f"      id      {source.pk}")
            write(f"      secret  {seeded.signing_secret}")
            write(f"      POST    /webhooks/v1/sources/{source.pk}/events")
        write("  Webhooks out (to the local demo receiver; its log: var/webhook-receiver.log):")
        for endpoint in demo.endpoints:
            whose = endpoint.customer.name if endpoint.customer else "every customer"
            write(f"    {endpoint.url}   events of {whose}   (portal Settings > Webhooks out)")

"""`manage.py seed_demo`: the documented demo, built through the services; its owner is a vendor's member
kept out of the admin, which is the separate operator's."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from contracts import selectors
from contracts.models import (
    ApiKey,
    AuditEntry,
    Contract,
    ContractStatus,
    ContractVersion,
    Customer,
    Membership,
    OutcomeType,
    Role,
    Vendor,
    WebhookSecret,
    WebhookSource,
)
from core import crypto
from devtools.demo.management.commands.seed_demo import (
    DEMO_CUSTOMER_WEBHOOK_SECRET,
    DEMO_RECEIVER_URL,
    DEMO_WEBHOOK_SECRET,
)
from notifications.models import Endpoint, EndpointSecret
from tests.factories import CustomerFactory, VendorFactory

pytestmark = pytest.mark.django_db

API_KEY = re.compile(r"\bvrt_[0-9a-f]+_[A-Za-z0-9_-]+")
ADMIN_LOGIN = "/admin/login/"
ADMIN_CUSTOMERS = "/admin/contracts/customer/"
MODELS = (
    Vendor,
    Membership,
    Customer,
    ApiKey,
    WebhookSource,
    WebhookSecret,
    Contract,
    ContractVersion,
    OutcomeType,
    AuditEntry,
)


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {model.__name__: model._default_manager.count() for model in MODELS} | {
        "User": get_user_model().objects.count()
    }


def client_with(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def outcome_type(key: str) -> OutcomeType:
    return OutcomeType.objects.select_related("version__contract").get(key=key)


def test_seed_demo_creates_the_vendor_its_owner_and_a_separate_operator() -> None:
    run("seed_demo")

    vendor = Vendor.objects.get()
    assert (vendor.name, vendor.slug) == ("Northwind Agents", "northwind")
    owner = get_user_model().objects.get(username="demo@verity.test")
    assert owner.email == "demo@verity.test"
    assert (owner.is_staff, owner.is_superuser) == (False, False)  # a vendor's member, not an operator
    assert owner.check_password("verity-demo")
    membership = Membership.objects.get()
    assert (membership.user, membership.vendor, membership.role) == (owner, vendor, Role.OWNER)
    operator = get_user_model().objects.get(username="operator")
    assert (operator.is_staff, operator.is_superuser) == (True, True)
    assert operator.check_password("verity-operator")
    assert not Membership.objects.filter(user=operator).exists()


def test_the_demo_customers_person_signs_in_to_the_customer_portal() -> None:
    output = run("seed_demo")
    person = Client()
    response = person.post(
        "/accounts/login/", {"username": "buyer@contoso.test", "password": "verity-customer"}, follow=True
    )
    assert "buyer@contoso.test / verity-customer" in output
    assert response.redirect_chain[-1][0] == "/customer/"
    page = response.content.decode()
    assert "Contoso Legal" in page
    assert "NW-CONTOSO-DOCREVIEW" in page
    assert "NW-FABRIKAM" not in page


def test_the_demo_owner_is_kept_out_of_the_admin_and_the_operator_gets_in() -> None:
    other = CustomerFactory.create(name="Initech of another vendor")
    output = run("seed_demo")
    owner, operator = Client(), Client()

    owner_login = owner.post(ADMIN_LOGIN, {"username": "demo@verity.test", "password": "verity-demo"})
    owner_customers = owner.get(ADMIN_CUSTOMERS)
    operator.post(ADMIN_LOGIN, {"username": "operator", "password": "verity-operator"})
    operator_customers = operator.get(ADMIN_CUSTOMERS)

    assert "operator / verity-operator" in output
    assert owner_login.status_code == 200  # the login form again, with its error
    assert "_auth_user_id" not in owner.session
    assert owner_customers.status_code == 302
    assert owner_customers["Location"].startswith(ADMIN_LOGIN)
    assert operator_customers.status_code == 200
    assert other.name in operator_customers.content.decode()


def test_the_demo_owner_signed_in_to_the_portal_still_gets_no_admin_page() -> None:
    CustomerFactory.create(name="Initech of another vendor")
    run("seed_demo")
    owner = Client()
    owner.force_login(get_user_model().objects.get(username="demo@verity.test"))

    portal = owner.get("/")
    admin_index = owner.get("/admin/")
    admin_customers = owner.get(ADMIN_CUSTOMERS)

    assert portal.status_code == 200
    assert admin_index.status_code == 302
    assert admin_index["Location"].startswith(ADMIN_LOGIN)
    assert admin_customers.status_code == 302
    assert b"Initech" not in admin_customers.content


def test_seed_demo_creates_three_customers_with_one_active_contract_each() -> None:
    run("seed_demo")

    vendor = Vendor.objects.get()
    assert Customer.objects.filter(vendor=vendor).count() == 3
    contracts = Contract.objects.filter(vendor=vendor)
    assert sorted(c.customer.external_ref for c in contracts) == ["contoso", "fabrikam", "tailspin"]
    assert {c.status for c in contracts} == {ContractStatus.ACTIVE}
    assert all(c.activated_at is not None for c in contracts)
    assert all(v.is_locked for v in ContractVersion.objects.all())
    assert ContractVersion.objects.count() == 3


def test_seed_demo_covers_per_task_per_outcome_and_percentage_pricing() -> None:
    run("seed_demo")

    per_task = outcome_type("document.reviewed")
    assert (per_task.billing_basis, per_task.pricing_model) == ("per_task", "per_unit")
    assert per_task.pricing == {"model": "per_unit", "unit_price": "1.25"}

    per_outcome = outcome_type("ticket.resolved")
    assert (per_outcome.billing_basis, per_outcome.pricing_model) == ("per_outcome", "graduated")
    assert [tier["up_to"] for tier in per_outcome.pricing["tiers"]] == [1000, 10000, None]
    assert per_outcome.free_units == 100
    assert per_outcome.version.platform_fee_minor == 50_000
    assert per_outcome.version.minimum_commitment_minor == 200_000

    success_fee = outcome_type("invoice.recovered")
    assert (success_fee.billing_basis, success_fee.pricing_model) == ("per_outcome", "percentage")
    assert success_fee.pricing == {
        "model": "percentage",
        "percent": "8",
        "min_fee_minor": 500,
        "max_fee_minor": 50_000,
    }
    contract = success_fee.version.contract
    assert (contract.currency, contract.timezone) == ("EUR", "Europe/Berlin")


def test_seed_demo_creates_webhook_sources_and_prints_their_secrets_once() -> None:
    output = run("seed_demo")

    sources = WebhookSource.objects.select_related("customer")
    customer_systems = sources.filter(kind=WebhookSource.Kind.CUSTOMER_SYSTEM)
    assert sorted(s.customer.external_ref for s in customer_systems) == ["contoso", "fabrikam", "tailspin"]
    assert sources.filter(kind=WebhookSource.Kind.VENDOR_AGENT).count() == 1
    for source in sources:
        (secret,) = selectors.webhook_source_live_secrets(source=source, at=source.created_at)
        assert str(source.pk) in output
        assert secret in output
        assert secret not in WebhookSecret.objects.get(source=source).secret_encrypted


def test_seed_demo_prints_the_logins_and_an_api_key_that_works() -> None:
    output = run("seed_demo")

    assert "demo@verity.test / verity-demo" in output
    assert "operator / verity-operator" in output
    (raw_key,) = API_KEY.findall(output)
    response = client_with(raw_key).get("/api/v1/contracts")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 3
    assert ApiKey.objects.get().scope == ApiKey.Scope.WRITE


def test_seed_demo_writes_through_services_with_its_actor() -> None:
    run("seed_demo")

    entries = AuditEntry.objects.all()
    assert {e.actor for e in entries} == {"system:seed_demo"}
    actions = sorted(e.action for e in entries)
    assert actions.count("customer.created") == 3
    assert actions.count("contract.created") == 3
    assert actions.count("contract.active") == 3
    assert actions.count("webhook_source.created") == 4
    assert actions.count("api_key.created") == 1
    assert actions.count("webhook_endpoint.created") == 2


def test_seed_demo_if_empty_on_a_seeded_database_changes_nothing() -> None:
    run("seed_demo")
    before = counts()

    output = run("seed_demo", "--if-empty")

    assert "skipped" in output
    assert API_KEY.search(output) is None
    assert counts() == before


def test_seed_demo_if_empty_on_a_seeded_database_says_where_to_get_new_secrets_and_that_works() -> None:
    run("seed_demo")

    output = run("seed_demo", "--if-empty")

    assert "above" not in output  # it printed nothing: no secret was made on this run
    assert "Settings > Webhook sources > the source > Rotate the secret" in output
    command = re.search(r"manage\.py (create_api_key .+)$", output, re.MULTILINE)
    assert command is not None, output
    new_key = run(*command.group(1).split()).splitlines()[-1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {new_key}")
    assert client.get("/api/v1/customers").status_code == 200


def test_seed_demo_if_empty_skips_when_any_vendor_exists() -> None:
    VendorFactory.create()
    before = counts()

    run("seed_demo", "--if-empty")

    assert counts() == before
    assert not Vendor.objects.filter(slug="northwind").exists()


def test_seed_demo_twice_without_if_empty_refuses_and_changes_nothing() -> None:
    run("seed_demo")
    before = counts()

    with pytest.raises(CommandError, match="already exists"):
        run("seed_demo")

    assert counts() == before


RUN_DEMO = Path(__file__).resolve().parents[3] / "devtools" / "run-demo.sh"


def test_seed_demo_registers_webhook_endpoints_at_the_demo_receiver_with_its_secrets() -> None:
    output = run("seed_demo")

    vendor = Vendor.objects.get()
    endpoints = {
        e.customer.external_ref if e.customer else None: e
        for e in Endpoint.objects.select_related("customer")
    }
    assert set(endpoints) == {None, "contoso"}
    assert (endpoints[None].url, endpoints[None].vendor) == (DEMO_RECEIVER_URL, vendor)
    assert endpoints["contoso"].url == f"{DEMO_RECEIVER_URL}contoso"
    assert {e.registered_by for e in endpoints.values()} == {Endpoint.Owner.VENDOR}
    assert (
        crypto.decrypt(EndpointSecret.objects.get(endpoint=endpoints[None]).secret_encrypted)
        == DEMO_WEBHOOK_SECRET
    )
    assert (
        crypto.decrypt(EndpointSecret.objects.get(endpoint=endpoints["contoso"]).secret_encrypted)
        == DEMO_CUSTOMER_WEBHOOK_SECRET
    )
    assert f"{DEMO_RECEIVER_URL}contoso" in output


def test_run_demo_starts_the_receiver_with_seed_demos_secrets_and_allows_only_it_loopback() -> None:
    script = RUN_DEMO.read_text()

    start = re.search(r'"\$PY" -m devtools\.webhook_receiver --port "\$RECEIVER_PORT"(.*?)&\n', script, re.S)
    assert start is not None
    assert re.findall(r"--secret (\S+)", start.group(1)) == [
        DEMO_WEBHOOK_SECRET,
        DEMO_CUSTOMER_WEBHOOK_SECRET,
    ]
    assert "RECEIVER_PORT=12112" in script
    assert DEMO_RECEIVER_URL == "http://127.0.0.1:12112/"
    assert "export WEBHOOKS_OUT_ALLOWED_NETWORKS=127.0.0.0/8" in script

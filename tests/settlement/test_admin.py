"""The admin's Stripe side of a customer: linked on a page of its own only once Stripe confirms the customer,
checked again by an action, unlinked by another; the operator is the audit actor."""

from __future__ import annotations

import pytest
import stripe
from django.contrib.auth import get_user_model
from django.test import Client

from contracts.models import AuditEntry, Customer
from devtools.stripe_server import RunningServer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

OPERATOR = "ops@verity.test"


@pytest.fixture
def admin_client() -> Client:
    operator = get_user_model().objects.create_superuser(username=OPERATOR, email=OPERATOR, password="unused")
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def customer() -> Customer:
    return CustomerFactory.create()


def stripe_customer(server: RunningServer, card: str | None = None) -> str:
    extra = {"payment_method": card, "invoice_settings": {"default_payment_method": card}} if card else {}
    sdk = stripe.StripeClient("sk_test_verity", base_addresses={"api": server.base_url})
    return str(sdk.v1.customers.create(params={"email": "ap@acme.test", **extra}).id)


def link_url(customer: Customer) -> str:
    return f"/admin/contracts/customer/{customer.pk}/stripe-link/"


def test_the_change_page_leads_to_the_link_page(admin_client: Client, customer: Customer) -> None:
    change = admin_client.get(f"/admin/contracts/customer/{customer.pk}/change/")

    assert change.status_code == 200
    assert link_url(customer) in change.content.decode()
    assert admin_client.get(link_url(customer)).status_code == 200


def test_a_stripe_customer_that_exists_is_linked_with_the_operator_as_actor(
    admin_client: Client, customer: Customer, stripe_api: RunningServer
) -> None:
    stripe_id = stripe_customer(stripe_api, card="pm_card_visa")

    response = admin_client.post(link_url(customer), {"stripe_customer_id": stripe_id})

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.stripe_customer_id == stripe_id
    assert customer.can_be_charged_automatically
    assert AuditEntry.objects.get(action="customer.stripe_linked").actor == f"user:{OPERATOR}"


@pytest.mark.parametrize(
    ("fault", "shown"),
    [
        (False, "Stripe has no customer cus_nope."),
        (True, "Stripe cannot be reached right now; nothing was changed."),
    ],
)
def test_a_customer_stripe_does_not_know_or_stripe_down_is_shown_and_nothing_changes(
    admin_client: Client, customer: Customer, stripe_api: RunningServer, fault: bool, shown: str
) -> None:
    if fault:
        stripe_api.admin.add_faults(
            {"action": "500", "method": "GET", "path": r"^/v1/customers/", "count": 10}
        )

    response = admin_client.post(link_url(customer), {"stripe_customer_id": "cus_nope"})

    assert response.status_code == 200
    assert shown in response.content.decode()
    customer.refresh_from_db()
    assert customer.stripe_customer_id == ""
    assert not AuditEntry.objects.filter(action="customer.stripe_linked").exists()


def test_the_check_action_reads_the_card_again_and_reports_a_customer_stripe_lost(
    admin_client: Client, stripe_api: RunningServer
) -> None:
    with_card = CustomerFactory.create(stripe_customer_id=stripe_customer(stripe_api, card="pm_card_visa"))
    lost = CustomerFactory.create(stripe_customer_id="cus_gone")

    response = admin_client.post(
        "/admin/contracts/customer/",
        {"action": "stripe_check", "_selected_action": [str(with_card.pk), str(lost.pk)]},
        follow=True,
    )

    content = response.content.decode()
    assert f"{with_card}: {with_card.stripe_customer_id}, card on file." in content
    assert f"{lost}: Stripe has no customer cus_gone." in content
    with_card.refresh_from_db()
    assert with_card.can_be_charged_automatically


def test_the_unlink_action(admin_client: Client, customer: Customer) -> None:
    Customer.objects.filter(pk=customer.pk).update(
        stripe_customer_id="cus_A", stripe_default_payment_method="pm_A"
    )

    admin_client.post(
        "/admin/contracts/customer/", {"action": "stripe_unlink", "_selected_action": [str(customer.pk)]}
    )

    customer.refresh_from_db()
    assert (customer.stripe_customer_id, customer.stripe_default_payment_method) == ("", "")
    assert AuditEntry.objects.get(action="customer.stripe_unlinked").actor == f"user:{OPERATOR}"

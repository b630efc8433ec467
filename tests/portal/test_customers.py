"""Customers in the portal: the list (who Stripe can charge), a customer's page, linking and unlinking a Stripe
customer checked in Stripe, and the card setup link to copy and send; viewers see, never change."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from contracts.models import AuditEntry, Customer
from devtools.stripe_server import RunningServer
from tests.factories import CustomerFactory, contract_create_for
from tests.support.portal import Member
from tests.support.stripe import stripe_customer_made_outside

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(owner: Member) -> Customer:
    return CustomerFactory.create(vendor=owner.vendor, name="Acme Corp")


def page_of(client: Client, customer: Customer) -> str:
    response = client.get(f"/customers/{customer.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def errors_beside(content: str, input_id: str) -> list[str]:
    found = re.search(rf'<ul class="errorlist" id="{input_id}-errors">(.*?)</ul>', content, re.S)
    return re.findall(r"<li>(.*?)</li>", found.group(1)) if found else []


def test_the_list_says_which_customers_stripe_can_charge(owner_client: Client, owner: Member) -> None:
    CustomerFactory.create(
        vendor=owner.vendor,
        name="Paying Co",
        stripe_customer_id="cus_A",
        stripe_default_payment_method="pm_A",
    )
    CustomerFactory.create(vendor=owner.vendor, name="No Card Ltd")

    content = owner_client.get("/customers/").content.decode()

    rows = re.findall(
        r"<tr>\s*<td><a [^>]*>(.*?)</a></td>.*?<td>(Yes|<span class=\"error\">No</span>)</td>", content, re.S
    )
    assert sorted(rows) == [("No Card Ltd", '<span class="error">No</span>'), ("Paying Co", "Yes")]


def test_a_customer_with_a_contract_charged_automatically_and_no_card_shows_a_warning(
    owner_client: Client, customer: Customer
) -> None:
    assert 'id="no-card-warning"' not in page_of(owner_client, customer)  # no contract yet
    contract_create_for(customer)  # charge_automatically by default

    content = page_of(owner_client, customer)

    assert 'id="no-card-warning"' in content
    assert "No card on file:" in content
    Customer.objects.filter(pk=customer.pk).update(
        stripe_customer_id="cus_A", stripe_default_payment_method="pm_A"
    )
    assert 'id="no-card-warning"' not in page_of(owner_client, customer)


def test_linking_a_stripe_customer_that_exists(
    owner_client: Client, owner: Member, customer: Customer, stripe_api: RunningServer
) -> None:
    stripe_id = stripe_customer_made_outside(stripe_api, card="pm_card_visa")

    response = owner_client.post(
        f"/customers/{customer.pk}/stripe/link/", {"stripe_customer_id": f" {stripe_id} "}
    )

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.stripe_customer_id == stripe_id
    assert customer.can_be_charged_automatically
    content = owner_client.get(response["Location"]).content.decode()
    assert f"Linked to Stripe customer {stripe_id}: it has a card for invoices." in content
    assert AuditEntry.objects.get(action="customer.stripe_linked").actor == f"user:{owner.user.email}"


def test_a_stripe_customer_stripe_does_not_know_is_shown_beside_the_input_and_nothing_changes(
    owner_client: Client, customer: Customer, stripe_api: RunningServer
) -> None:
    response = owner_client.post(f"/customers/{customer.pk}/stripe/link/", {"stripe_customer_id": "cus_nope"})

    assert response.status_code == 400
    content = response.content.decode()
    assert errors_beside(content, "f-stripe-stripe-customer-id") == ["Stripe has no customer cus_nope."]
    assert 'value="cus_nope"' in content
    customer.refresh_from_db()
    assert customer.stripe_customer_id == ""
    assert not AuditEntry.objects.filter(action="customer.stripe_linked").exists()


def test_stripe_down_while_linking_says_so_and_changes_nothing(
    owner_client: Client, customer: Customer, stripe_api: RunningServer
) -> None:
    stripe_id = stripe_customer_made_outside(stripe_api)
    stripe_api.admin.add_faults({"action": "500", "method": "GET", "path": r"^/v1/customers/", "count": 10})

    response = owner_client.post(f"/customers/{customer.pk}/stripe/link/", {"stripe_customer_id": stripe_id})

    assert response.status_code == 503
    assert "Stripe cannot be reached right now; nothing was changed." in response.content.decode()
    customer.refresh_from_db()
    assert customer.stripe_customer_id == ""


def test_the_setup_link_is_shown_to_copy_and_not_cached(
    owner_client: Client, customer: Customer, stripe_api: RunningServer
) -> None:
    response = owner_client.post(f"/customers/{customer.pk}/stripe/setup-link/")

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    content = response.content.decode()
    [url] = re.findall(r'<code id="setup-url">(.*?)</code>', content)
    assert url.startswith(f"{stripe_api.base_url}/__checkout/cs_test_")
    assert 'data-copy="setup-url"' in content
    customer.refresh_from_db()
    assert customer.stripe_customer_id in stripe_api.admin.state()["customers"]


def test_unlinking(owner_client: Client, customer: Customer) -> None:
    Customer.objects.filter(pk=customer.pk).update(
        stripe_customer_id="cus_A", stripe_default_payment_method="pm_A"
    )

    response = owner_client.post(f"/customers/{customer.pk}/stripe/unlink/")

    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.stripe_customer_id, customer.stripe_default_payment_method) == ("", "")


def test_a_viewer_sees_the_page_without_controls_and_a_forged_post_changes_nothing(
    viewer_client: Client, customer: Customer
) -> None:
    Customer.objects.filter(pk=customer.pk).update(stripe_customer_id="cus_A")
    content = page_of(viewer_client, customer)
    assert "cus_A" in content
    assert "/stripe/" not in content  # no link, unlink or setup-link form

    posts: dict[str, dict[str, Any]] = {
        "link": {"stripe_customer_id": "cus_B"},
        "unlink": {},
        "setup-link": {},
    }
    for action, data in posts.items():
        assert viewer_client.post(f"/customers/{customer.pk}/stripe/{action}/", data).status_code == 403
    customer.refresh_from_db()
    assert customer.stripe_customer_id == "cus_A"
    assert not AuditEntry.objects.filter(object_id=str(customer.pk)).exists()


def test_the_page_stripe_sends_a_customer_back_to_needs_no_account(client: Client) -> None:
    response = client.get("/billing/card-saved/")

    assert response.status_code == 200
    assert "Your card is saved" in response.content.decode()

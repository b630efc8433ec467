"""The Stripe settings page: the connection as it stands (never a secret, only the key's last 4), the
webhook URL to register and whether events arrive; owners connect, test, rotate, set tax and disconnect,
admins and viewers only look."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from contracts.models import Role
from devtools.stripe_server import RunningServer, sign
from settlement.models import StripeConnection
from tests.settlement.stripe_accounts import (
    ACCT_A,
    ACCT_CONNECTED,
    KEY_A,
    KEY_A2,
    KEY_B,
    WHSEC_A,
    WHSEC_B,
    stripe_accounts_register,
)
from tests.support.portal import Member, make_member, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def accounts(stripe_api: RunningServer, settings: SettingsWrapper) -> RunningServer:
    return stripe_accounts_register(stripe_api, settings)


PAGE = "/settings/stripe/"


def own(client: Client, key: str = KEY_A, secret: str = WHSEC_A, tax: str = "false") -> Any:
    return client.post(
        "/settings/stripe/connect/",
        {"mode": "own_account", "secret_key": key, "webhook_secret": secret, "tax_enabled": tax},
    )


def page_of(client: Client) -> str:
    response = client.get(PAGE)
    assert response.status_code == 200
    return response.content.decode()


def test_without_a_connection_the_page_says_the_deployments_key_is_used(owner_client: Client) -> None:
    page = page_of(owner_client)

    assert "your invoices settle with this deployment's Stripe key" in page
    assert 'action="/settings/stripe/connect/"' in page
    assert "/settings/stripe/" in page_of(owner_client)
    assert 'href="/settings/stripe/"' in owner_client.get("/settings/").content.decode()  # the link to it


def test_an_owner_connects_their_account_and_sees_only_the_keys_hint(
    owner: Member, owner_client: Client, accounts: RunningServer
) -> None:
    response = own(owner_client, tax="true")

    assert response.status_code == 302
    page = page_of(owner_client)
    assert ACCT_A in page
    assert "<code>…0001</code>" in page
    assert "no event yet" in page
    assert f"http://testserver/webhooks/stripe/{owner.vendor.pk}" in page
    assert "invoice.paid" in page  # the events to enable
    assert "On: Stripe Tax computes it" in page
    assert KEY_A not in page
    assert WHSEC_A not in page
    assert StripeConnection.objects.get(vendor=owner.vendor).tax_enabled is True


def test_a_refused_key_is_shown_on_its_input_and_never_sent_back(
    owner: Member, owner_client: Client, accounts: RunningServer
) -> None:
    response = own(owner_client, key="rk_live_not_a_real_key_9999")

    assert response.status_code == 400
    page = response.content.decode()
    assert "Stripe refused this key" in page
    assert "rk_live_not_a_real_key_9999" not in page
    assert WHSEC_A not in page
    assert not StripeConnection.objects.exists()


def test_a_connected_account_is_offered_with_a_platform_key(
    owner_client: Client, accounts: RunningServer
) -> None:
    response = owner_client.post(
        "/settings/stripe/connect/", {"mode": "connected_account", "account_id": ACCT_CONNECTED}
    )

    assert response.status_code == 302
    page = page_of(owner_client)
    assert ACCT_CONNECTED in page
    assert "platform's Connect endpoint" in page


def test_an_owner_tests_rotates_sets_tax_and_disconnects(
    owner: Member, owner_client: Client, accounts: RunningServer
) -> None:
    own(owner_client)

    tested = owner_client.post("/settings/stripe/test/", follow=True)
    moved = owner_client.post("/settings/stripe/rotate/", {"secret_key": KEY_B})
    rotated = owner_client.post("/settings/stripe/rotate/", {"secret_key": KEY_A2, "webhook_secret": WHSEC_B})
    taxed = owner_client.post("/settings/stripe/tax/", {"tax_enabled": "true"})

    assert f"Stripe account {ACCT_A} answers" in tested.content.decode()
    assert moved.status_code == 400
    assert "not acct_1VendorAOwn" in moved.content.decode()
    assert KEY_B not in moved.content.decode()
    assert rotated.status_code == 302
    assert taxed.status_code == 302
    connection = StripeConnection.objects.get(vendor=owner.vendor)
    assert (connection.secret_key_hint, connection.tax_enabled) == ("0002", True)
    assert "<code>…0002</code>" in page_of(owner_client)

    disconnected = owner_client.post("/settings/stripe/disconnect/", follow=True)

    assert "Disconnected" in disconnected.content.decode()
    assert not StripeConnection.objects.exists()


def test_the_page_shows_when_the_last_event_arrived(
    owner: Member, owner_client: Client, accounts: RunningServer
) -> None:
    own(owner_client)
    body = json.dumps(
        {
            "id": "evt_1",
            "type": "customer.created",
            "created": 1_800_000_000,
            "data": {"object": {"id": "cus_1"}},
        }
    ).encode()
    Client().post(
        f"/webhooks/stripe/{owner.vendor.pk}",
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body, WHSEC_A, int(time.time())),
    )

    page = page_of(owner_client)

    assert "last event received" in page
    assert "no event yet" not in page


@pytest.mark.parametrize("role", [Role.ADMIN, Role.VIEWER])
def test_admins_and_viewers_see_the_connection_but_cannot_change_it(
    owner: Member, owner_client: Client, accounts: RunningServer, role: str
) -> None:
    own(owner_client)
    other = signed_in(make_member(role=role, vendor=owner.vendor))

    page = page_of(other)
    refused = {
        url: other.post(url, data).status_code
        for url, data in (
            (
                "/settings/stripe/connect/",
                {"mode": "own_account", "secret_key": KEY_B, "webhook_secret": WHSEC_B},
            ),
            ("/settings/stripe/test/", {}),
            ("/settings/stripe/rotate/", {"secret_key": KEY_A2}),
            ("/settings/stripe/tax/", {"tax_enabled": "true"}),
            ("/settings/stripe/disconnect/", {}),
        )
    }

    assert ACCT_A in page
    assert "Only an owner changes the Stripe connection" in page
    assert "/settings/stripe/disconnect/" not in page
    assert set(refused.values()) == {403}
    connection = StripeConnection.objects.get(vendor=owner.vendor)
    assert (connection.secret_key_hint, connection.tax_enabled) == ("0001", False)
    assert not accounts.admin.requests(account="acct_1VendorBOwn")

"""Stripe accounts for the connection tests: two vendors' own accounts and a platform with a connected
account, on the local Stripe server; the keys and webhook secrets that go with them."""

from __future__ import annotations

from typing import Any

from pytest_django.fixtures import Settings as SettingsWrapper

from contracts.models import Membership, Role, Vendor
from devtools.stripe_server import RunningServer
from settlement.stripe_gateway.accounts import stripe_account_check
from settlement.stripe_gateway.client import StripeAccount
from tests.support.portal import make_member

KEY_A = "rk_test_vendor_a_0001"
KEY_A2 = "rk_test_vendor_a_0002"  # a second key of the same account
KEY_B = "rk_test_vendor_b_0001"
WHSEC_A = "whsec_vendor_a_0123456789"
WHSEC_B = "whsec_vendor_b_0123456789"
CONNECT_SECRET = "whsec_platform_connect_0123"
ACCT_A = "acct_1VendorAOwn"
ACCT_B = "acct_1VendorBOwn"
ACCT_CONNECTED = "acct_1Connected"


def owner_of(vendor: Vendor) -> Membership:
    return Membership.objects.get(user=make_member(role=Role.OWNER, vendor=vendor).user)


def own_account(key: str = KEY_A, webhook_secret: str = WHSEC_A, **extra: Any) -> dict[str, Any]:
    return {"mode": "own_account", "secret_key": key, "webhook_secret": webhook_secret, **extra}


def stripe_accounts_register(server: RunningServer, settings: SettingsWrapper) -> RunningServer:
    """Two vendors' own accounts (A with two keys), and the deployment's platform with one connected account
    whose Connect events are signed with CONNECT_SECRET. Each test module's `accounts` fixture calls it."""
    server.admin.create_account(ACCT_A, keys=[KEY_A, KEY_A2])
    server.admin.create_account(ACCT_B, keys=[KEY_B])
    platform = stripe_account_check(account=StripeAccount(settings.STRIPE_API_KEY))["id"]
    server.admin.create_account(ACCT_CONNECTED, platform=platform)
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = CONNECT_SECRET
    return server

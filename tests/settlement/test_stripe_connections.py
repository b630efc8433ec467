"""A vendor's own Stripe account: connecting it (its key, or a connected account under the platform),
checked in Stripe first; rotating, testing, tax and disconnecting; and its webhooks, which move only that
vendor's invoices and customers. The real SDK against the local Stripe server, forged events signed as
Stripe signs them."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.test import Client, override_settings
from pytest_django.fixtures import Settings as SettingsWrapper

from contracts.models import ApiKey, AuditEntry, Customer, Membership, Role, Vendor
from core import crypto
from core.errors import Conflict, NotFound, PermissionDenied, Unavailable, ValidationFailed
from devtools.stripe_server import RunningServer, sign
from settlement.invoicing.close import period_close
from settlement.models import Invoice, InvoiceStatus, SettlementStatus, StripeConnection, StripeEvent
from settlement.stripe_connections.connect import (
    stripe_connection_connect,
    stripe_connection_disconnect,
    stripe_connection_tax_set,
)
from settlement.stripe_connections.credentials import stripe_connection_rotate, stripe_connection_test
from settlement.stripe_connections.inputs import (
    OwnAccountIn,
    RotateIn,
    stripe_connection_parse,
    stripe_rotation_parse,
)
from tests.factories import VendorFactory, field_error_codes
from tests.settlement.stripe_accounts import (
    ACCT_A,
    ACCT_CONNECTED,
    CONNECT_SECRET,
    KEY_A,
    KEY_A2,
    KEY_B,
    WHSEC_A,
    WHSEC_B,
    own_account,
    owner_of,
    stripe_accounts_register,
)
from tests.support.ingest import make_ingest
from tests.support.portal import make_member
from tests.support.settlement import APRIL, MARCH, graduated_terms
from tests.support.stripe import STRIPE_WEBHOOK_SECRET
from tests.support.vendors import VendorApi, make_vendor_api

pytestmark = pytest.mark.django_db


@pytest.fixture
def accounts(stripe_api: RunningServer, settings: SettingsWrapper) -> RunningServer:
    return stripe_accounts_register(stripe_api, settings)


def connect(vendor: Vendor, data: dict[str, Any]) -> StripeConnection:
    return stripe_connection_connect(
        vendor=vendor,
        fields=stripe_connection_parse(data, vendor=vendor, by=owner_of(vendor)),
        by=owner_of(vendor),
        actor="user:owner@test",
    )


def audit_text(vendor: Vendor) -> str:
    return json.dumps(list(AuditEntry.objects.filter(vendor=vendor).values("action", "details")))


# --- connecting ---------------------------------------------------------------------------------


def test_an_own_account_is_checked_in_stripe_then_stored_encrypted_with_only_a_hint_in_clear(
    accounts: RunningServer,
) -> None:
    vendor = VendorFactory.create()

    connection = connect(vendor, own_account(tax_enabled=True))

    assert (connection.mode, connection.account_id, connection.secret_key_hint) == (
        "own_account",
        ACCT_A,
        "0001",
    )
    assert crypto.decrypt(connection.secret_key_encrypted) == KEY_A
    assert crypto.decrypt(connection.webhook_secret_encrypted) == WHSEC_A
    assert KEY_A not in connection.secret_key_encrypted
    assert connection.tax_enabled is True
    assert connection.checked_at is not None
    assert connection.check_error == ""
    [entry] = AuditEntry.objects.filter(vendor=vendor)
    assert entry.action == "stripe_connection.connected"
    assert entry.details == {
        "mode": "own_account",
        "account_id": ACCT_A,
        "key_hint": "0001",
        "tax_enabled": True,
    }
    assert KEY_A not in audit_text(vendor)
    assert WHSEC_A not in audit_text(vendor)
    assert any(r["path"] == "/v1/account" for r in accounts.admin.requests(account=ACCT_A))


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        (own_account(key="pk_test_publishable"), "secret_key", "string_pattern_mismatch"),
        (own_account(webhook_secret="secret"), "webhook_secret", "string_pattern_mismatch"),
        ({"mode": "own_account", "secret_key": KEY_A}, "webhook_secret", "missing"),
        ({"mode": "sideways"}, "mode", "literal_error"),
        ({}, "mode", "missing"),
        ({"mode": "connected_account", "account_id": "cus_123"}, "account_id", "string_pattern_mismatch"),
        (own_account(extra="x"), "extra", "extra_forbidden"),
    ],
)
def test_malformed_input_is_refused_before_stripe_is_asked(
    accounts: RunningServer, data: dict[str, Any], field: str, code: str
) -> None:
    vendor = VendorFactory.create()
    before = len(accounts.admin.requests())

    with pytest.raises(ValidationFailed) as refused:
        connect(vendor, data)

    assert field_error_codes({"field_errors": refused.value.field_errors}) == {field: [code]}
    assert len(accounts.admin.requests()) == before
    assert not StripeConnection.objects.exists()


def test_a_key_stripe_refuses_is_a_field_error_and_nothing_is_saved(accounts: RunningServer) -> None:
    vendor = VendorFactory.create()

    with pytest.raises(ValidationFailed) as refused:
        connect(vendor, own_account(key="rk_live_not_a_real_key_9999"))

    [error] = refused.value.field_errors["secret_key"]
    assert error["code"] == "stripe_key_refused"
    assert "Invalid API Key" in error["message"]
    assert "rk_live_not_a_real_key_9999" not in error["message"]
    assert not StripeConnection.objects.exists()
    assert not AuditEntry.objects.filter(vendor=vendor).exists()


def test_stripe_down_is_a_503_and_nothing_is_saved(
    accounts: RunningServer, settings: SettingsWrapper
) -> None:
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    accounts.admin.add_faults({"action": "500", "path": r"^/v1/account$", "count": 1})
    vendor = VendorFactory.create()

    with pytest.raises(Unavailable) as down:
        connect(vendor, own_account())

    assert (down.value.status, down.value.code) == (503, "stripe_unavailable")
    assert not StripeConnection.objects.exists()


def test_a_connected_account_is_checked_under_the_platform_key(accounts: RunningServer) -> None:
    vendor = VendorFactory.create()

    connection = connect(vendor, {"mode": "connected_account", "account_id": ACCT_CONNECTED})

    assert (connection.mode, connection.account_id) == ("connected_account", ACCT_CONNECTED)
    assert (
        connection.secret_key_encrypted,
        connection.webhook_secret_encrypted,
        connection.secret_key_hint,
    ) == (
        "",
        "",
        "",
    )
    assert any(r["path"] == "/v1/account" for r in accounts.admin.requests(account=ACCT_CONNECTED))


def test_an_account_not_connected_to_the_platform_is_refused(accounts: RunningServer) -> None:
    vendor = VendorFactory.create()

    for account_id in ("acct_1NobodyKnows", ACCT_A):  # unknown, and an account that is not connected
        with pytest.raises(ValidationFailed) as refused:
            connect(vendor, {"mode": "connected_account", "account_id": account_id})
        assert field_error_codes({"field_errors": refused.value.field_errors}) == {
            "account_id": ["stripe_account_not_connected"]
        }
    assert not StripeConnection.objects.exists()


def test_connected_accounts_need_a_platform_key(accounts: RunningServer, settings: SettingsWrapper) -> None:
    settings.STRIPE_API_KEY = ""
    vendor = VendorFactory.create()

    with pytest.raises(ValidationFailed) as refused:
        connect(vendor, {"mode": "connected_account", "account_id": ACCT_CONNECTED})

    assert field_error_codes({"field_errors": refused.value.field_errors}) == {
        "mode": ["platform_unavailable"]
    }


def test_an_account_already_connected_to_another_vendor_is_refused(accounts: RunningServer) -> None:
    first, second = VendorFactory.create(), VendorFactory.create()
    connect(first, own_account())

    with pytest.raises(ValidationFailed) as refused:
        connect(second, own_account(key=KEY_A2))  # another key of the same account

    assert field_error_codes({"field_errors": refused.value.field_errors}) == {
        "secret_key": ["stripe_account_connected_elsewhere"]
    }
    assert StripeConnection.objects.get().vendor == first


def test_connecting_the_same_account_again_replaces_its_credentials_and_another_account_is_refused(
    accounts: RunningServer,
) -> None:
    vendor = VendorFactory.create()
    connect(vendor, own_account(tax_enabled=True))

    again = connect(vendor, own_account(key=KEY_A2, webhook_secret=WHSEC_B))
    with pytest.raises(Conflict) as other:
        connect(vendor, own_account(key=KEY_B))

    assert (again.secret_key_hint, crypto.decrypt(again.webhook_secret_encrypted)) == ("0002", WHSEC_B)
    assert again.tax_enabled is True  # omitted: unchanged
    assert other.value.code == "stripe_connection_exists"
    assert StripeConnection.objects.get().account_id == ACCT_A


@pytest.mark.parametrize("role", [Role.ADMIN, Role.VIEWER])
def test_only_owners_connect(accounts: RunningServer, role: str) -> None:
    vendor = VendorFactory.create()
    member = Membership.objects.get(user=make_member(role=role, vendor=vendor).user)

    with pytest.raises(PermissionDenied):
        stripe_connection_connect(
            vendor=vendor,
            fields=stripe_connection_parse(own_account(), vendor=vendor, by=member),
            by=member,
            actor="user:x",
        )

    assert not StripeConnection.objects.exists()
    assert accounts.admin.requests(account=ACCT_A) == []  # Stripe was not even asked


def test_the_services_refuse_a_non_owner_and_an_empty_rotation_even_when_parsed(
    accounts: RunningServer,
) -> None:
    # given a connected vendor and a viewer holding bodies that parse
    vendor = VendorFactory.create()
    connect(vendor, own_account())
    viewer = Membership.objects.get(user=make_member(role=Role.VIEWER, vendor=vendor).user)
    rotation = RotateIn(webhook_secret=WHSEC_B)

    # when the viewer calls the services directly, then each refuses them
    with pytest.raises(PermissionDenied):
        stripe_connection_connect(
            vendor=vendor, fields=OwnAccountIn.model_validate(own_account()), by=viewer, actor="user:x"
        )
    with pytest.raises(PermissionDenied):
        stripe_connection_rotate(vendor=vendor, fields=rotation, by=viewer, actor="user:x")
    with pytest.raises(PermissionDenied):
        stripe_connection_tax_set(vendor=vendor, enabled=True, by=viewer, actor="user:x")
    # and an owner's rotation of nothing is refused on the key
    with pytest.raises(ValidationFailed) as empty:
        stripe_connection_rotate(vendor=vendor, fields=RotateIn(), by=owner_of(vendor), actor="user:o")

    assert list(empty.value.field_errors) == ["secret_key"]
    assert crypto.decrypt(StripeConnection.objects.get().webhook_secret_encrypted) == WHSEC_A
    assert not AuditEntry.objects.filter(
        vendor=vendor, action__in=["stripe_connection.rotated", "stripe_connection.tax_set"]
    ).exists()
    assert AuditEntry.objects.filter(vendor=vendor, action__startswith="stripe_connection.").count() == 1


def test_api_keys_need_write_scope_and_the_same_vendor(accounts: RunningServer) -> None:
    vendor = VendorFactory.create()
    read = make_vendor_api(vendor, scope=ApiKey.Scope.READ).api_key
    foreign = make_vendor_api().api_key

    for key in (read, foreign):
        with pytest.raises(PermissionDenied):
            stripe_connection_connect(
                vendor=vendor,
                fields=stripe_connection_parse(own_account(), vendor=vendor, by=key),
                by=key,
                actor="api_key:x",
            )

    write = make_vendor_api(vendor).api_key
    assert (
        stripe_connection_connect(
            vendor=vendor,
            fields=stripe_connection_parse(own_account(), vendor=vendor, by=write),
            by=write,
            actor="api_key:x",
        ).account_id
        == ACCT_A
    )


# --- test, rotate, tax, disconnect ---------------------------------------------------------------


def test_a_test_records_what_stripe_said(accounts: RunningServer) -> None:
    vendor = VendorFactory.create()
    connection = connect(vendor, own_account())
    first_check = connection.checked_at
    assert first_check is not None

    tested = stripe_connection_test(vendor=vendor, by=owner_of(vendor), actor="user:o")
    assert tested.check_error == ""
    assert tested.checked_at is not None
    assert tested.checked_at > first_check

    # The key was revoked in Stripe meanwhile (here: replaced by one Stripe does not know).
    StripeConnection.objects.filter(pk=connection.pk).update(
        secret_key_encrypted=crypto.encrypt("rk_live_revoked_0000")
    )
    failed = stripe_connection_test(vendor=vendor, by=owner_of(vendor), actor="user:o")

    assert "Invalid API Key" in failed.check_error
    assert failed.account_id == ACCT_A  # still connected: the vendor decides what to do
    tests = AuditEntry.objects.filter(vendor=vendor, action="stripe_connection.tested").order_by("id")
    assert [entry.details["ok"] for entry in tests] == [True, False]


def test_rotating_checks_the_new_key_against_the_same_account(accounts: RunningServer) -> None:
    vendor = VendorFactory.create()
    connect(vendor, own_account())

    with pytest.raises(ValidationFailed) as moved:
        stripe_connection_rotate(
            vendor=vendor,
            fields=stripe_rotation_parse({"secret_key": KEY_B}, vendor=vendor, by=owner_of(vendor)),
            by=owner_of(vendor),
            actor="user:o",
        )
    assert field_error_codes({"field_errors": moved.value.field_errors}) == {
        "secret_key": ["stripe_account_changed"]
    }
    assert StripeConnection.objects.get().secret_key_hint == "0001"

    rotated = stripe_connection_rotate(
        vendor=vendor,
        fields=stripe_rotation_parse(
            {"secret_key": KEY_A2, "webhook_secret": WHSEC_B}, vendor=vendor, by=owner_of(vendor)
        ),
        by=owner_of(vendor),
        actor="user:o",
    )

    assert (crypto.decrypt(rotated.secret_key_encrypted), rotated.secret_key_hint) == (KEY_A2, "0002")
    assert crypto.decrypt(rotated.webhook_secret_encrypted) == WHSEC_B
    entry = AuditEntry.objects.get(vendor=vendor, action="stripe_connection.rotated")
    assert entry.details["secret_key_rotated"] is entry.details["webhook_secret_rotated"] is True
    assert KEY_A2 not in audit_text(vendor)
    assert WHSEC_B not in audit_text(vendor)


def test_rotating_needs_something_new_and_an_own_account(accounts: RunningServer) -> None:
    vendor, other = VendorFactory.create(), VendorFactory.create()
    connect(vendor, own_account())
    connect(other, {"mode": "connected_account", "account_id": ACCT_CONNECTED})

    with pytest.raises(ValidationFailed):
        stripe_connection_rotate(
            vendor=vendor,
            fields=stripe_rotation_parse({}, vendor=vendor, by=owner_of(vendor)),
            by=owner_of(vendor),
            actor="user:o",
        )
    with pytest.raises(Conflict) as connected:
        stripe_connection_rotate(
            vendor=other,
            fields=stripe_rotation_parse({"secret_key": KEY_B}, vendor=other, by=owner_of(other)),
            by=owner_of(other),
            actor="user:o",
        )

    assert connected.value.code == "not_own_account"


def test_tax_is_set_once_and_audited(accounts: RunningServer) -> None:
    vendor = VendorFactory.create()
    with pytest.raises(NotFound):
        stripe_connection_tax_set(vendor=vendor, enabled=True, by=owner_of(vendor), actor="user:o")
    connect(vendor, own_account())

    for _ in range(2):
        stripe_connection_tax_set(vendor=vendor, enabled=True, by=owner_of(vendor), actor="user:o")

    assert StripeConnection.objects.get().tax_enabled is True
    assert AuditEntry.objects.filter(vendor=vendor, action="stripe_connection.tax_set").count() == 1


def invoice_in_stripe(api: VendorApi, stripe_invoice_id: str, **fields: Any) -> Invoice:
    """An invoice of the vendor handed to Stripe's collection under `stripe_invoice_id` (by default)."""
    ingest = make_ingest(api=api, terms=graduated_terms(), reference=f"CTR-{stripe_invoice_id}")
    invoice = period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL)
    values = {
        "status": InvoiceStatus.OPEN,
        "stripe_invoice_id": stripe_invoice_id,
        "settlement_status": SettlementStatus.DONE,
        **fields,
    }
    Invoice.objects.filter(pk=invoice.pk).update(**values)
    invoice.refresh_from_db()
    return invoice


def test_disconnecting_is_refused_while_an_invoice_settles_in_that_account(accounts: RunningServer) -> None:
    api = make_vendor_api()
    vendor = api.vendor
    connect(vendor, own_account())
    invoice = invoice_in_stripe(api, "in_settling", settlement_status=SettlementStatus.PENDING)

    with pytest.raises(Conflict) as busy:
        stripe_connection_disconnect(vendor=vendor, by=owner_of(vendor), actor="user:o")
    assert busy.value.code == "settlement_in_progress"
    assert StripeConnection.objects.filter(vendor=vendor).exists()

    Invoice.objects.filter(pk=invoice.pk).update(settlement_status=SettlementStatus.DONE)
    stripe_connection_disconnect(vendor=vendor, by=owner_of(vendor), actor="user:o")

    assert not StripeConnection.objects.filter(vendor=vendor).exists()
    entry = AuditEntry.objects.get(vendor=vendor, action="stripe_connection.disconnected")
    assert entry.details == {"mode": "own_account", "account_id": ACCT_A, "key_hint": "0001"}


def test_connecting_is_refused_while_an_invoice_settles_in_the_deployments_account(
    accounts: RunningServer,
) -> None:
    api = make_vendor_api()
    invoice_in_stripe(api, "in_settling", settlement_status=SettlementStatus.PENDING)

    with pytest.raises(Conflict) as busy:
        connect(api.vendor, own_account())

    assert busy.value.code == "settlement_in_progress"
    assert not StripeConnection.objects.exists()


# --- webhooks per account ------------------------------------------------------------------------


def paid_event(event_id: str, stripe_invoice_id: str, **top: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "type": "invoice.paid",
        "created": 1_800_000_000,
        "data": {"object": {"id": stripe_invoice_id, "object": "invoice", "status": "paid"}},
        **top,
    }


def post(url: str, event: dict[str, Any], secret: str) -> Any:
    body = json.dumps(event).encode()
    return Client().post(
        url, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(body, secret, int(time.time()))
    )


def status_of(invoice: Invoice) -> str:
    invoice.refresh_from_db()
    return invoice.status


@pytest.fixture
def colliding(accounts: RunningServer) -> dict[str, Invoice]:
    """Three vendors whose invoices share one Stripe invoice id, each in its own account: A in its own
    account, C in a connected account, D on the deployment's key."""
    a, c, d = make_vendor_api(), make_vendor_api(), make_vendor_api()
    connect(a.vendor, own_account())
    connect(c.vendor, {"mode": "connected_account", "account_id": ACCT_CONNECTED})
    return {name: invoice_in_stripe(api, "in_same") for name, api in (("a", a), ("c", c), ("d", d))}


def test_an_own_account_event_moves_only_that_vendors_invoice_even_when_ids_collide(
    colliding: dict[str, Invoice],
) -> None:
    vendor_a = colliding["a"].vendor

    response = post(f"/webhooks/stripe/{vendor_a.pk}", paid_event("evt_a", "in_same"), WHSEC_A)

    assert response.status_code == 200
    assert {name: status_of(invoice) for name, invoice in colliding.items()} == {
        "a": InvoiceStatus.PAID,
        "c": InvoiceStatus.OPEN,
        "d": InvoiceStatus.OPEN,
    }
    assert StripeEvent.objects.get(pk="evt_a").account == ACCT_A
    assert StripeConnection.objects.get(vendor=vendor_a).last_event_at is not None


def test_the_deployments_event_moves_only_vendors_without_a_connection(colliding: dict[str, Invoice]) -> None:
    response = post("/webhooks/stripe", paid_event("evt_d", "in_same"), STRIPE_WEBHOOK_SECRET)

    assert response.status_code == 200
    assert {name: status_of(invoice) for name, invoice in colliding.items()} == {
        "a": InvoiceStatus.OPEN,
        "c": InvoiceStatus.OPEN,
        "d": InvoiceStatus.PAID,
    }
    assert StripeEvent.objects.get(pk="evt_d").account == ""


def test_a_connect_event_moves_only_the_connected_vendors_invoice(colliding: dict[str, Invoice]) -> None:
    response = post(
        "/webhooks/stripe", paid_event("evt_c", "in_same", account=ACCT_CONNECTED), CONNECT_SECRET
    )

    assert response.status_code == 200
    assert {name: status_of(invoice) for name, invoice in colliding.items()} == {
        "a": InvoiceStatus.OPEN,
        "c": InvoiceStatus.PAID,
        "d": InvoiceStatus.OPEN,
    }
    assert StripeEvent.objects.get(pk="evt_c").account == ACCT_CONNECTED
    assert StripeConnection.objects.get(vendor=colliding["c"].vendor).last_event_at is not None


def test_a_connect_event_of_an_account_no_vendor_connected_is_stored_and_moves_nothing(
    colliding: dict[str, Invoice],
) -> None:
    response = post(
        "/webhooks/stripe", paid_event("evt_x", "in_same", account="acct_1Stranger"), CONNECT_SECRET
    )

    assert response.status_code == 200
    assert {status_of(invoice) for invoice in colliding.values()} == {InvoiceStatus.OPEN}
    assert StripeEvent.objects.get(pk="evt_x").processed_at is not None


@pytest.mark.parametrize(
    ("where", "event", "secret"),
    [
        # an own-account vendor's event at the deployment's endpoint
        ("deployment", paid_event("evt_1", "in_same"), WHSEC_A),
        # the deployment's event at a vendor's endpoint
        ("vendor_a", paid_event("evt_2", "in_same"), STRIPE_WEBHOOK_SECRET),
        # a Connect event signed with the deployment's account endpoint secret
        ("deployment", paid_event("evt_3", "in_same", account=ACCT_CONNECTED), STRIPE_WEBHOOK_SECRET),
        # an account's own event signed with the Connect endpoint's secret
        ("deployment", paid_event("evt_4", "in_same"), CONNECT_SECRET),
        # another vendor's secret at vendor A's endpoint
        ("vendor_a", paid_event("evt_5", "in_same"), WHSEC_B),
        # a connected vendor has no endpoint of its own
        ("vendor_c", paid_event("evt_6", "in_same"), CONNECT_SECRET),
        # a vendor without a connection, and no vendor at all
        ("vendor_d", paid_event("evt_7", "in_same"), STRIPE_WEBHOOK_SECRET),
        ("nobody", paid_event("evt_8", "in_same"), WHSEC_A),
        # a Connect event relayed by vendor A's account
        ("vendor_a", paid_event("evt_9", "in_same", account=ACCT_CONNECTED), WHSEC_A),
    ],
)
def test_an_event_signed_for_another_endpoint_is_refused_and_changes_nothing(
    colliding: dict[str, Invoice], where: str, event: dict[str, Any], secret: str
) -> None:
    urls = {
        "deployment": "/webhooks/stripe",
        "vendor_a": f"/webhooks/stripe/{colliding['a'].vendor_id}",
        "vendor_c": f"/webhooks/stripe/{colliding['c'].vendor_id}",
        "vendor_d": f"/webhooks/stripe/{colliding['d'].vendor_id}",
        "nobody": "/webhooks/stripe/not-a-vendor",
    }

    response = post(urls[where], event, secret)

    assert (response.status_code, response.json()["code"]) == (400, "invalid_signature")
    assert {status_of(invoice) for invoice in colliding.values()} == {InvoiceStatus.OPEN}
    assert not StripeEvent.objects.exists()
    assert not StripeConnection.objects.exclude(last_event_at=None).exists()


def test_connect_events_are_refused_without_a_connect_secret(
    colliding: dict[str, Invoice], settings: SettingsWrapper
) -> None:
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = ""

    response = post("/webhooks/stripe", paid_event("evt_c", "in_same", account=ACCT_CONNECTED), "")

    assert response.status_code == 400
    assert status_of(colliding["c"]) == InvoiceStatus.OPEN


def test_a_vendor_event_delivered_twice_is_stored_and_applied_once(colliding: dict[str, Invoice]) -> None:
    url = f"/webhooks/stripe/{colliding['a'].vendor_id}"
    event = paid_event("evt_twice", "in_same")

    assert [post(url, event, WHSEC_A).status_code for _ in range(2)] == [200, 200]

    assert StripeEvent.objects.filter(pk="evt_twice").count() == 1
    assert status_of(colliding["a"]) == InvoiceStatus.PAID


def test_a_rotated_webhook_secret_verifies_at_once_and_the_old_one_no_longer_does(
    colliding: dict[str, Invoice],
) -> None:
    vendor = colliding["a"].vendor
    stripe_connection_rotate(
        vendor=vendor,
        fields=stripe_rotation_parse({"webhook_secret": WHSEC_B}, vendor=vendor, by=owner_of(vendor)),
        by=owner_of(vendor),
        actor="user:o",
    )
    url = f"/webhooks/stripe/{vendor.pk}"

    assert post(url, paid_event("evt_old", "in_same"), WHSEC_A).status_code == 400
    assert post(url, paid_event("evt_new", "in_same"), WHSEC_B).status_code == 200
    assert status_of(colliding["a"]) == InvoiceStatus.PAID


def test_after_a_disconnect_the_vendors_endpoint_refuses_its_events(colliding: dict[str, Invoice]) -> None:
    vendor = colliding["a"].vendor
    stripe_connection_disconnect(vendor=vendor, by=owner_of(vendor), actor="user:o")

    response = post(f"/webhooks/stripe/{vendor.pk}", paid_event("evt_late", "in_same"), WHSEC_A)

    assert response.status_code == 400
    assert status_of(colliding["a"]) == InvoiceStatus.OPEN


def test_a_customer_event_reaches_only_the_customers_of_its_account(
    colliding: dict[str, Invoice], django_capture_on_commit_callbacks: Any
) -> None:
    customer_a = Customer.objects.get(vendor=colliding["a"].vendor)
    Customer.objects.filter(pk=customer_a.pk).update(stripe_customer_id="cus_shared")
    updated = {
        "id": "evt_cus",
        "object": "event",
        "type": "customer.updated",
        "created": 1_800_000_000,
        "data": {"object": {"id": "cus_shared", "object": "customer"}},
    }

    with django_capture_on_commit_callbacks() as elsewhere:
        assert post("/webhooks/stripe", updated, STRIPE_WEBHOOK_SECRET).status_code == 200
    with django_capture_on_commit_callbacks() as own:
        url = f"/webhooks/stripe/{customer_a.vendor_id}"
        assert post(url, {**updated, "id": "evt_cus_a"}, WHSEC_A).status_code == 200

    # The deployment's event names a Stripe customer of another account: no read is scheduled for it.
    assert len(elsewhere) == 0
    assert len(own) == 1


# --- the vendor API ------------------------------------------------------------------------------


def test_the_api_connects_shows_tests_and_disconnects_without_ever_returning_a_secret(
    accounts: RunningServer,
) -> None:
    api = make_vendor_api()

    empty = api.client.get("/api/v1/stripe-connection")
    put = api.client.put("/api/v1/stripe-connection", own_account(), format="json")
    shown = api.client.get("/api/v1/stripe-connection")
    tested = api.client.post("/api/v1/stripe-connection/test")
    deleted = api.client.delete("/api/v1/stripe-connection")
    again = api.client.delete("/api/v1/stripe-connection")

    assert empty.status_code == 200
    assert (empty.json()["connected"], empty.json()["mode"], empty.json()["platform_available"]) == (
        False,
        None,
        True,
    )
    assert put.status_code == 200
    body = shown.json()
    assert (body["connected"], body["mode"], body["account_id"], body["secret_key_hint"]) == (
        True,
        "own_account",
        ACCT_A,
        "0001",
    )
    assert body["webhook_url"] == f"http://testserver/webhooks/stripe/{api.vendor.pk}"
    assert body["last_event_at"] is None
    for response in (put, shown, tested):
        assert KEY_A not in response.content.decode()
        assert WHSEC_A not in response.content.decode()
    assert tested.status_code == 200
    assert tested.json()["check_error"] == ""
    assert deleted.status_code == 204
    assert (again.status_code, again.json()["code"]) == (404, "stripe_not_connected")


def test_the_api_gives_stripes_refusal_as_a_field_error_and_read_keys_cannot_write(
    accounts: RunningServer,
) -> None:
    api = make_vendor_api()
    read = make_vendor_api(api.vendor, scope=ApiKey.Scope.READ)

    refused = api.client.put(
        "/api/v1/stripe-connection", own_account(key="rk_live_not_a_real_key_9999"), format="json"
    )
    read_only = read.client.put("/api/v1/stripe-connection", own_account(), format="json")

    assert refused.status_code == 400
    assert field_error_codes(refused.json()) == {"secret_key": ["stripe_key_refused"]}
    assert read_only.status_code == 403
    assert read.client.get("/api/v1/stripe-connection").status_code == 200
    assert not StripeConnection.objects.exists()


# --- rotating FIELD_ENCRYPTION_KEYS ---------------------------------------------------------------


def test_reencrypt_stripe_secrets_moves_vendors_credentials_to_the_first_key_and_a_rerun_changes_nothing(
    accounts: RunningServer,
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(FIELD_ENCRYPTION_KEYS=[old]):
        connect(VendorFactory.create(), own_account())
        connect(VendorFactory.create(), {"mode": "connected_account", "account_id": ACCT_CONNECTED})

    with override_settings(FIELD_ENCRYPTION_KEYS=[new, old]):
        first, second = io.StringIO(), io.StringIO()
        call_command("reencrypt_stripe_secrets", stdout=first)
        call_command("reencrypt_stripe_secrets", stdout=second)

    assert first.getvalue().startswith("Re-encrypted 1 Stripe connection(s); 0 already")
    assert second.getvalue().startswith("Re-encrypted 0 Stripe connection(s); 1 already")
    with override_settings(FIELD_ENCRYPTION_KEYS=[new]):
        connection = StripeConnection.objects.get(mode="own_account")
        assert crypto.decrypt(connection.secret_key_encrypted) == KEY_A
        assert crypto.decrypt(connection.webhook_secret_encrypted) == WHSEC_A

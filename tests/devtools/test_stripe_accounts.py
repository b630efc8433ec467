"""Accounts, Connect (`Stripe-Account`) and per-account webhooks on the local Stripe server, through the real SDK."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import stripe

from devtools.stripe_server import AdminClient, RunningServer
from devtools.stripe_server.accounts import DEFAULT_ACCOUNT
from devtools.stripe_server.state import SHAPES
from tests.support.stripe_server import MakeClient, Receiver

OTHER_KEY = "sk_test_someone_else"
OTHER = "acct_1SomeoneElse0000"
PLATFORM = "acct_1PlatformVerity"
PLATFORM_KEY = "sk_test_platform_key"
PLATFORM_RESTRICTED_KEY = "rk_test_platform_restricted"
CONNECTED = "acct_1ConnectedVendor"
STRANGER = "acct_1SomeoneElsesAccount"
ACCOUNT_SECRET = "whsec_platform_account_endpoint"
CONNECT_SECRET = "whsec_platform_connect_endpoint"


def _platform_with_connected(admin: AdminClient) -> None:
    admin.create_account(PLATFORM, keys=[PLATFORM_KEY, PLATFORM_RESTRICTED_KEY])
    admin.create_account(CONNECTED, platform=PLATFORM)
    admin.create_account(STRANGER, keys=["sk_test_stranger"])


def _error_code(error: stripe.StripeError) -> Any:
    body: Any = error.json_body
    return body["error"]["code"]


def _on(account: str) -> Any:
    """Request options acting on a connected account (the SDK sends `Stripe-Account`)."""
    return {"stripe_account": account}


def test_unregistered_keys_share_the_default_account(make_client: MakeClient, admin: AdminClient) -> None:
    one, another = make_client(), make_client(api_key="sk_test_another_unregistered_key")

    customer = one.v1.customers.create(params={"email": "a@example.com"})

    assert another.v1.customers.retrieve(customer.id).id == customer.id
    assert another.v1.accounts.retrieve_current().id == DEFAULT_ACCOUNT
    assert set(one.v1.accounts.retrieve_current().to_dict()) == set(SHAPES["account"])


def test_an_account_cannot_see_another_accounts_objects(make_client: MakeClient, admin: AdminClient) -> None:
    admin.create_account(OTHER, keys=[OTHER_KEY])
    mine, theirs = make_client(), make_client(api_key=OTHER_KEY)
    customer = mine.v1.customers.create(params={"email": "a@example.com"})

    with pytest.raises(stripe.InvalidRequestError) as missing:
        theirs.v1.customers.retrieve(customer.id)

    assert missing.value.http_status == 404
    assert missing.value.code == "resource_missing"
    assert missing.value.user_message == f"No such customer: '{customer.id}'"
    assert theirs.v1.invoices.list().data == []
    assert mine.v1.accounts.retrieve_current().id == DEFAULT_ACCOUNT
    assert theirs.v1.accounts.retrieve_current().id == OTHER


def test_a_registered_accounts_secret_and_restricted_keys_share_its_objects_and_idempotency_keys(
    make_client: MakeClient, admin: AdminClient
) -> None:
    _platform_with_connected(admin)
    secret, restricted = make_client(api_key=PLATFORM_KEY), make_client(api_key=PLATFORM_RESTRICTED_KEY)
    created = secret.v1.customers.create(
        params={"email": "a@example.com"}, options={"idempotency_key": "one"}
    )

    replayed = restricted.v1.customers.create(
        params={"email": "a@example.com"}, options={"idempotency_key": "one"}
    )

    assert restricted.v1.customers.retrieve(created.id).email == "a@example.com"
    assert replayed.id == created.id
    assert replayed.last_response is not None
    assert replayed.last_response.headers["Idempotent-Replayed"] == "true"
    assert restricted.v1.accounts.retrieve_current().id == PLATFORM
    assert len(admin.state(account=PLATFORM)["customers"]) == 1


def test_live_restricted_keys_are_refused(make_client: MakeClient, admin: AdminClient) -> None:
    with pytest.raises(stripe.AuthenticationError) as refused:
        make_client(api_key="rk_live_not_here").v1.customers.list()

    assert refused.value.http_status == 401


def test_stripe_account_header_acts_on_a_connected_account(
    make_client: MakeClient, admin: AdminClient
) -> None:
    _platform_with_connected(admin)
    platform = make_client(api_key=PLATFORM_KEY)

    customer = platform.v1.customers.create(params={"email": "c@example.com"}, options=_on(CONNECTED))

    assert platform.v1.customers.retrieve(customer.id, options=_on(CONNECTED)).id == customer.id
    with pytest.raises(stripe.InvalidRequestError) as missing:
        platform.v1.customers.retrieve(customer.id)  # not in the platform's own account
    assert missing.value.http_status == 404
    assert platform.v1.accounts.retrieve_current(options=_on(CONNECTED)).id == CONNECTED
    assert platform.v1.accounts.retrieve(CONNECTED).id == CONNECTED
    assert platform.v1.balance.retrieve(options=_on(CONNECTED)).object == "balance"
    assert list(admin.state(account=CONNECTED)["customers"]) == [customer.id]
    assert admin.state(account=PLATFORM)["customers"] == {}


@pytest.mark.parametrize("target", [STRANGER, "acct_1NobodyHasThisOne"])
def test_stripe_account_header_for_an_account_not_connected_is_403_account_invalid(
    make_client: MakeClient, admin: AdminClient, target: str
) -> None:
    _platform_with_connected(admin)
    platform = make_client(api_key=PLATFORM_KEY)

    with pytest.raises(stripe.PermissionError) as refused:
        platform.v1.customers.create(params={"email": "x@example.com"}, options=_on(target))
    with pytest.raises(stripe.PermissionError) as retrieved:
        platform.v1.accounts.retrieve(target)

    assert refused.value.http_status == 403
    assert _error_code(refused.value) == "account_invalid"  # the SDK's PermissionError drops `code`
    assert refused.value.user_message == (
        f"The provided key 'sk_test_****_key' does not have access to account '{target}' (or that account does not "
        "exist). Application access may have been revoked."
    )
    assert _error_code(retrieved.value) == "account_invalid"
    assert admin.state()["customers"] == {}  # nothing created anywhere


def test_a_connected_account_cannot_act_on_its_platform(make_client: MakeClient, admin: AdminClient) -> None:
    admin.create_account(PLATFORM, keys=[PLATFORM_KEY])
    admin.create_account(CONNECTED, keys=["sk_test_connected_own_key"], platform=PLATFORM)

    with pytest.raises(stripe.PermissionError):
        make_client(api_key="sk_test_connected_own_key").v1.customers.list(options=_on(PLATFORM))


def test_idempotency_keys_are_scoped_per_connected_account(
    make_client: MakeClient, admin: AdminClient
) -> None:
    _platform_with_connected(admin)
    platform = make_client(api_key=PLATFORM_KEY)

    own = platform.v1.customers.create(params={"email": "a@example.com"}, options={"idempotency_key": "same"})
    connected = platform.v1.customers.create(
        params={"email": "a@example.com"}, options={"idempotency_key": "same", "stripe_account": CONNECTED}
    )

    assert own.id != connected.id
    assert connected.last_response is not None
    assert "Idempotent-Replayed" not in connected.last_response.headers


def _received(receiver: Receiver, count: int, secret: str) -> list[stripe.Event]:
    return [
        stripe.Webhook.construct_event(body.decode(), signature, secret)
        for body, signature in receiver.wait_for(count)
    ]


def test_connect_endpoint_receives_connected_accounts_events_carrying_account(
    make_client: MakeClient, admin: AdminClient, make_receiver: Callable[[], Receiver]
) -> None:
    _platform_with_connected(admin)
    own_endpoint, connect_endpoint = make_receiver(), make_receiver()
    admin.configure_webhook(own_endpoint.url, ACCOUNT_SECRET, account=PLATFORM)
    admin.configure_webhook(connect_endpoint.url, CONNECT_SECRET, account=PLATFORM, connect=True)
    platform = make_client(api_key=PLATFORM_KEY)

    theirs = platform.v1.customers.create(params={"email": "c@example.com"}, options=_on(CONNECTED))
    ours = platform.v1.customers.create(params={"email": "p@example.com"})
    assert admin.drain_webhooks()

    [connect_event] = _received(connect_endpoint, 1, CONNECT_SECRET)
    [own_event] = _received(own_endpoint, 1, ACCOUNT_SECRET)
    assert connect_event.data.object.id == theirs.id
    assert connect_event.to_dict()["account"] == CONNECTED
    assert connect_event.pending_webhooks == 1
    assert own_event.data.object.id == ours.id
    assert "account" not in own_event.to_dict()
    with pytest.raises(stripe.SignatureVerificationError):  # each endpoint signs with its own secret
        stripe.Webhook.construct_event(
            connect_endpoint.received[0][0].decode(), connect_endpoint.received[0][1], ACCOUNT_SECRET
        )
    deliveries = {(d["account"], d["connect"], d["event_id"]) for d in admin.deliveries()}
    assert deliveries == {(PLATFORM, True, connect_event.id), (PLATFORM, False, own_event.id)}


def test_an_accounts_endpoint_receives_only_its_own_events(
    make_client: MakeClient, admin: AdminClient, make_receiver: Callable[[], Receiver]
) -> None:
    admin.create_account(OTHER, keys=[OTHER_KEY])
    default_endpoint = make_receiver()
    admin.configure_webhook(
        default_endpoint.url, ACCOUNT_SECRET
    )  # the default account, where unregistered keys go
    mine = make_client().v1.customers.create(params={"email": "a@example.com"})
    make_client(api_key=OTHER_KEY).v1.customers.create(params={"email": "b@example.com"})
    assert admin.drain_webhooks()

    [event] = _received(default_endpoint, 1, ACCOUNT_SECRET)
    assert event.data.object.id == mine.id
    assert [e["pending_webhooks"] for e in admin.events(account=OTHER)] == [0]


def test_admin_state_events_and_requests_are_per_account_or_merged(
    make_client: MakeClient, admin: AdminClient
) -> None:
    admin.create_account(OTHER, keys=[OTHER_KEY])
    mine = make_client().v1.customers.create(params={"email": "a@example.com"})
    theirs = make_client(api_key=OTHER_KEY).v1.customers.create(params={"email": "b@example.com"})
    other = OTHER

    assert set(admin.state()["customers"]) == {mine.id, theirs.id}
    assert list(admin.state(account=other)["customers"]) == [theirs.id]
    assert [e["data"]["object"]["id"] for e in admin.events()] == [mine.id, theirs.id]
    assert [e["data"]["object"]["id"] for e in admin.events(account=other)] == [theirs.id]
    assert [r["account"] for r in admin.requests()] == [DEFAULT_ACCOUNT, other]
    assert len(admin.requests(account=other)) == 1


def test_advancing_the_clock_runs_due_work_in_every_account(
    make_client: MakeClient, admin: AdminClient, server: RunningServer
) -> None:
    admin.create_account(OTHER, keys=[OTHER_KEY])
    drafts = []
    for client in (make_client(), make_client(api_key=OTHER_KEY)):
        customer = client.v1.customers.create(params={"email": "a@example.com"})
        client.v1.invoice_items.create(params={"customer": customer.id, "amount": 500, "currency": "usd"})
        invoice = client.v1.invoices.create(
            params={
                "customer": customer.id,
                "auto_advance": True,
                "collection_method": "send_invoice",
                "days_until_due": 30,
                "pending_invoice_items_behavior": "include",
            }
        )
        drafts.append((client, invoice.id))

    emitted = admin.advance_clock(3601)["events"]

    assert [client.v1.invoices.retrieve(invoice_id).status for client, invoice_id in drafts] == [
        "open",
        "open",
    ]
    finalized = [e for e in admin.events("invoice.finalized") if e["id"] in emitted]
    assert [e["data"]["object"]["id"] for e in finalized] == [invoice_id for _, invoice_id in drafts]


def test_admin_refuses_a_platform_that_is_not_an_account_and_a_key_already_taken(admin: AdminClient) -> None:
    admin.create_account(PLATFORM, keys=[PLATFORM_KEY])

    with pytest.raises(Exception, match="platform acct_1Nope is not an account"):
        admin.create_account(CONNECTED, platform="acct_1Nope")
    with pytest.raises(Exception, match="already belong to an account"):
        admin.create_account(STRANGER, keys=[PLATFORM_KEY])

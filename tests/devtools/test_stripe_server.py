"""The local Stripe server, driven by the real stripe SDK over HTTP on loopback (no database needed)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, cast

import pytest
import stripe

from devtools.stripe_server import AdminClient, RunningServer
from devtools.stripe_server.forms import parse_form
from devtools.stripe_server.state import SHAPES
from tests.support.stripe_server import API_KEY, MakeClient, Receiver

OTHER_API_KEY = "sk_test_other_account"
WEBHOOK_SECRET = "whsec_devtools_test_secret"


def _customer(client: stripe.StripeClient, **params: Any) -> stripe.Customer:
    all_params: Any = {"email": "buyer@example.com", "name": "Buyer", **params}  # the SDK's TypedDicts
    return client.v1.customers.create(params=all_params)


def _customer_with_card(
    client: stripe.StripeClient, card: str = "pm_card_visa", **params: Any
) -> stripe.Customer:
    """Stripe's test-mode idiom: attach a test card at creation and make it the default for invoices."""
    return _customer(client, payment_method=card, invoice_settings={"default_payment_method": card}, **params)


def _invoice(
    client: stripe.StripeClient, customer_id: str, amounts: tuple[int, ...], **params: Any
) -> stripe.Invoice:
    all_params: Any = {"customer": customer_id, "currency": "usd", **params}
    invoice = client.v1.invoices.create(params=all_params)
    for index, amount in enumerate(amounts):
        client.v1.invoice_items.create(
            params={
                "customer": customer_id,
                "invoice": invoice.id,
                "amount": amount,
                "currency": "usd",
                "description": f"line {index}",
                "metadata": {"verity_outcome": str(index)},
            }
        )
    return client.v1.invoices.retrieve(invoice.id)


def _raw(
    server: RunningServer, method: str, path: str, *, headers: dict[str, str] | None = None, body: str = ""
) -> tuple[int, dict[str, str], dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310 - loopback test server
        server.base_url + path, data=body.encode() if body else None, method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback test server
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def _invoice_item_of(line: stripe.InvoiceLineItem) -> str:
    item: str = line.to_dict()["parent"]["invoice_item_details"]["invoice_item"]
    return item


# ---------------------------------------------------------------------- shapes and basic flow


def test_customer_has_stripe_shape_and_prefix(client: stripe.StripeClient) -> None:
    customer = _customer(client, metadata={"verity_vendor": "v1"})

    fetched = client.v1.customers.retrieve(customer.id)

    assert customer.id.startswith("cus_")
    assert fetched.id == customer.id
    assert fetched.to_dict()["metadata"] == {"verity_vendor": "v1"}
    assert set(fetched.to_dict()) == set(SHAPES["customer"])


def test_draft_invoice_with_credit_line_finalizes_with_summed_total(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    draft = _invoice(client, customer.id, (5000, 2500, -1500), metadata={"verity_invoice": "42"})

    assert draft.status == "draft"
    assert draft.id.startswith("in_")
    assert draft.total == 6000
    assert draft.number is None

    invoice = client.v1.invoices.finalize_invoice(draft.id)

    assert invoice.status == "open"
    assert (invoice.subtotal, invoice.total, invoice.amount_due, invoice.amount_remaining) == (
        6000,
        6000,
        6000,
        6000,
    )
    assert invoice.number is not None
    assert invoice.status_transitions.finalized_at is not None
    assert invoice.to_dict()["metadata"] == {"verity_invoice": "42"}
    assert set(invoice.to_dict()) == set(SHAPES["invoice"])
    lines = list(client.v1.invoices.line_items.list(invoice.id, params={"limit": 2}).auto_paging_iter())
    assert [line.amount for line in lines] == [5000, 2500, -1500]
    assert all(line.id.startswith("il_") for line in lines)
    assert all(_invoice_item_of(line).startswith("ii_") for line in lines)
    assert set(lines[0].to_dict()) == set(SHAPES["line_item"])
    assert lines[2].to_dict()["metadata"] == {"verity_outcome": "2"}


def test_invoice_item_shape_and_pending_items_are_pulled_in(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    pending = client.v1.invoice_items.create(
        params={
            "customer": customer.id,
            "currency": "eur",
            "unit_amount_decimal": Decimal("250.5"),
            "quantity": 3,
        }
    )

    invoice = client.v1.invoices.create(
        params={"customer": customer.id, "currency": "eur", "pending_invoice_items_behavior": "include"}
    )

    assert pending.id.startswith("ii_")
    assert pending.amount == 752  # 250.5 * 3, rounded half up
    assert set(pending.to_dict()) == set(SHAPES["invoiceitem"])
    assert invoice.total == 752
    assert _invoice_item_of(invoice.lines.data[0]) == pending.id


def test_zero_total_invoice_is_paid_at_finalization(client: stripe.StripeClient, admin: AdminClient) -> None:
    customer = _customer(client)
    draft = _invoice(client, customer.id, (1000, -1000))

    invoice = client.v1.invoices.finalize_invoice(draft.id)

    assert invoice.status == "paid"
    assert invoice.amount_due == 0
    assert invoice.status_transitions.paid_at is not None
    types = [event["type"] for event in admin.events() if event["type"].startswith("invoice.")]
    assert types[-3:] == ["invoice.finalized", "invoice.paid", "invoice.payment_succeeded"]


def test_negative_total_becomes_customer_credit_for_the_next_invoice(client: stripe.StripeClient) -> None:
    customer = _customer(client)

    credit_only = client.v1.invoices.finalize_invoice(_invoice(client, customer.id, (-500,)).id)
    next_invoice = client.v1.invoices.finalize_invoice(_invoice(client, customer.id, (2000,)).id)

    assert (credit_only.status, credit_only.total, credit_only.amount_due) == ("paid", -500, 0)
    assert credit_only.ending_balance == -500
    assert (next_invoice.total, next_invoice.starting_balance, next_invoice.amount_due) == (2000, -500, 1500)
    assert client.v1.customers.retrieve(customer.id).balance == 0


def test_pay_succeeds(client: stripe.StripeClient) -> None:
    customer = _customer_with_card(client)
    invoice = client.v1.invoices.finalize_invoice(_invoice(client, customer.id, (1200,)).id)

    paid = client.v1.invoices.pay(invoice.id)

    assert paid.status == "paid"
    assert (paid.amount_paid, paid.amount_remaining, paid.attempt_count) == (1200, 0, 1)
    assert paid.status_transitions.paid_at is not None


def test_pay_decline_raises_card_error(client: stripe.StripeClient, admin: AdminClient) -> None:
    # pm_card_chargeCustomerFail attaches, then declines every charge (the declining test cards cannot be attached).
    customer = _customer_with_card(client, "pm_card_chargeCustomerFail")
    good_card = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    invoice = client.v1.invoices.finalize_invoice(_invoice(client, customer.id, (900,)).id)

    with pytest.raises(stripe.CardError) as caught:
        client.v1.invoices.pay(invoice.id)

    assert caught.value.http_status == 402
    assert caught.value.code == "card_declined"
    error = cast("dict[str, Any]", caught.value.json_body)["error"]
    assert error["type"] == "card_error"
    assert error["decline_code"] == "generic_decline"
    after = client.v1.invoices.retrieve(invoice.id)
    assert (after.status, after.attempt_count, after.attempted) == ("open", 1, True)
    assert admin.events("invoice.payment_failed")[-1]["data"]["object"]["id"] == invoice.id
    # An explicit payment method (attached to the customer) overrides the customer's default.
    assert client.v1.invoices.pay(invoice.id, params={"payment_method": good_card.id}).status == "paid"


def test_send_invoice_stays_open_and_charge_automatically_cannot_be_sent(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    send = _invoice(client, customer.id, (700,), collection_method="send_invoice", days_until_due=14)
    charge = client.v1.invoices.finalize_invoice(_invoice(client, customer.id, (700,)).id)

    sent = client.v1.invoices.send_invoice(send.id)  # a draft is finalized first, as on Stripe

    assert sent.status == "open"
    assert sent.due_date == (sent.status_transitions.finalized_at or 0) + 14 * 86_400
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.send_invoice(charge.id)


def test_void_and_mark_uncollectible_transitions(client: stripe.StripeClient) -> None:
    customer = _customer_with_card(client)
    to_void = client.v1.invoices.finalize_invoice(_invoice(client, customer.id, (100,)).id)
    to_write_off = client.v1.invoices.finalize_invoice(_invoice(client, customer.id, (200,)).id)
    draft = _invoice(client, customer.id, (300,))

    voided = client.v1.invoices.void_invoice(to_void.id)
    uncollectible = client.v1.invoices.mark_uncollectible(to_write_off.id)

    assert (voided.status, voided.amount_remaining) == ("void", 0)
    assert voided.status_transitions.voided_at is not None
    assert uncollectible.status == "uncollectible"
    assert uncollectible.status_transitions.marked_uncollectible_at is not None
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.pay(voided.id)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.void_invoice(draft.id)
    with pytest.raises(stripe.InvalidRequestError) as finalized_twice:
        client.v1.invoices.finalize_invoice(voided.id)
    assert finalized_twice.value.code == "invoice_already_finalized"
    with pytest.raises(stripe.InvalidRequestError) as not_editable:
        client.v1.invoice_items.create(
            params={"customer": customer.id, "invoice": voided.id, "amount": 1, "currency": "usd"}
        )
    assert not_editable.value.code == "invoice_not_editable"
    # Stripe lets an uncollectible invoice still be paid or voided.
    assert client.v1.invoices.pay(uncollectible.id).status == "paid"


def test_list_filters_by_customer_and_update_merges_metadata(client: stripe.StripeClient) -> None:
    first, second = _customer(client), _customer(client)
    mine = [_invoice(client, first.id, (100,)) for _ in range(3)]
    _invoice(client, second.id, (100,))

    listed = client.v1.invoices.list(params={"customer": first.id, "limit": 2})
    everything = list(listed.auto_paging_iter())
    updated = client.v1.invoices.update(mine[0].id, params={"metadata": {"a": "1", "b": "2"}})
    updated = client.v1.invoices.update(mine[0].id, params={"metadata": {"a": "", "c": "3"}})

    assert listed.has_more is True
    assert [invoice.id for invoice in everything] == [invoice.id for invoice in reversed(mine)]
    assert updated.to_dict()["metadata"] == {"b": "2", "c": "3"}
    expanded = client.v1.invoices.list(params={"customer": second.id, "expand": ["data.customer"]})
    assert expanded.data[0].to_dict()["customer"]["id"] == second.id


# ---------------------------------------------------------------------- errors and auth


def test_missing_or_invalid_api_key_is_401_with_stripe_envelope(
    server: RunningServer, make_client: MakeClient
) -> None:
    status, _, body = _raw(server, "GET", "/v1/invoices")
    assert status == 401
    assert body["error"]["type"] == "invalid_request_error"
    assert set(body["error"]) >= {"type", "code", "message", "param"}

    with pytest.raises(stripe.AuthenticationError):
        make_client(api_key="sk_live_nope").v1.customers.create()


def test_not_found_unknown_parameter_and_unknown_route(
    client: stripe.StripeClient, server: RunningServer
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.invoices.retrieve("in_doesnotexist")
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.customers.create(params=cast("Any", {"emial": "typo@example.com"}))
    with pytest.raises(stripe.InvalidRequestError) as no_customer:
        client.v1.invoices.create(params={"customer": "cus_nobody"})
    status, _, body = _raw(server, "GET", "/v1/charges", headers={"Authorization": f"Bearer {API_KEY}"})

    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")
    assert (unknown.value.http_status, unknown.value.code, unknown.value.param) == (
        400,
        "parameter_unknown",
        "emial",
    )
    assert (no_customer.value.http_status, no_customer.value.param) == (400, "customer")
    assert status == 404
    assert "Unrecognized request URL" in body["error"]["message"]


# ---------------------------------------------------------------------- idempotency


def test_idempotent_replay_returns_stored_response(client: stripe.StripeClient, admin: AdminClient) -> None:
    params: Any = {"email": "same@example.com", "metadata": {"k": "v"}}

    first = client.v1.customers.create(params=params, options={"idempotency_key": "cust-1"})
    second = client.v1.customers.create(params=params, options={"idempotency_key": "cust-1"})

    assert second.id == first.id
    assert len(admin.state()["customers"]) == 1
    assert second.last_response is not None
    assert second.last_response.headers["Idempotent-Replayed"] == "true"
    assert first.last_response is not None
    assert "Idempotent-Replayed" not in first.last_response.headers


def test_idempotency_key_with_other_parameters_is_rejected(client: stripe.StripeClient) -> None:
    client.v1.customers.create(params={"email": "a@example.com"}, options={"idempotency_key": "reuse-me"})

    with pytest.raises(stripe.IdempotencyError) as caught:
        client.v1.customers.create(params={"email": "b@example.com"}, options={"idempotency_key": "reuse-me"})

    assert caught.value.http_status == 400
    assert "same parameters they were first used with" in caught.value.user_message


def test_idempotency_keys_are_scoped_per_account(make_client: MakeClient, admin: AdminClient) -> None:
    admin.create_account("acct_1OtherAccountKey", keys=[OTHER_API_KEY])
    one = make_client().v1.customers.create(options={"idempotency_key": "shared"})
    other = make_client(api_key=OTHER_API_KEY).v1.customers.create(options={"idempotency_key": "shared"})

    assert one.id != other.id
    assert len(admin.state()["customers"]) == 2


def test_card_decline_is_replayed_under_the_same_key(client: stripe.StripeClient) -> None:
    customer = _customer_with_card(client, "pm_card_chargeCustomerFail")
    invoice = client.v1.invoices.finalize_invoice(_invoice(client, customer.id, (500,)).id)

    for _ in range(2):
        with pytest.raises(stripe.CardError):
            client.v1.invoices.pay(invoice.id, options={"idempotency_key": "pay-once"})

    assert client.v1.invoices.retrieve(invoice.id).attempt_count == 1


# ---------------------------------------------------------------------- faults and SDK retries


def _attempts(admin: AdminClient, path: str) -> list[dict[str, Any]]:
    return [entry for entry in admin.requests() if entry["method"] == "POST" and entry["path"] == path]


@pytest.mark.parametrize("action", ["500", "429"])
def test_sdk_retries_5xx_and_429_with_the_same_key(
    make_client: MakeClient, admin: AdminClient, action: str
) -> None:
    customer = _customer(make_client())
    admin.add_faults({"action": action, "method": "POST", "path": r"^/v1/invoices$", "count": 2})

    invoice = make_client(retries=3).v1.invoices.create(params={"customer": customer.id})

    attempts = _attempts(admin, "/v1/invoices")
    assert [attempt["status"] for attempt in attempts] == [int(action), int(action), 200]
    assert len({attempt["idempotency_key"] for attempt in attempts}) == 1
    assert list(admin.state()["invoices"]) == [invoice.id]


def test_429_without_should_retry_surfaces_rate_limit_error(
    make_client: MakeClient, admin: AdminClient
) -> None:
    admin.add_faults({"action": "429", "path": "/v1/customers", "should_retry": False})

    with pytest.raises(stripe.RateLimitError):
        make_client(retries=3).v1.customers.create()


def test_timeout_is_retried_and_creates_one_invoice(make_client: MakeClient, admin: AdminClient) -> None:
    customer = _customer(make_client())
    admin.add_faults({"action": "timeout", "method": "POST", "path": r"^/v1/invoices$", "seconds": 2})

    invoice = make_client(retries=2, timeout=0.5).v1.invoices.create(params={"customer": customer.id})

    attempts = _attempts(admin, "/v1/invoices")
    assert [attempt["fault"] for attempt in attempts] == ["timeout", None]
    assert attempts[0]["idempotency_key"] == attempts[1]["idempotency_key"]
    assert list(admin.state()["invoices"]) == [invoice.id]


def test_timeout_that_commits_late_is_answered_409_then_replayed(
    make_client: MakeClient, admin: AdminClient
) -> None:
    customer = _customer(make_client())
    admin.add_faults({"action": "timeout", "path": r"^/v1/invoices$", "seconds": 2.0, "commit": True})

    invoice = make_client(retries=6, timeout=0.4).v1.invoices.create(params={"customer": customer.id})

    statuses = [attempt["status"] for attempt in _attempts(admin, "/v1/invoices")]
    assert statuses[0] is None  # the hung request never answered
    assert 409 in statuses  # a retry arrived while it was still running
    assert statuses[-1] == 200
    assert invoice.last_response is not None
    assert invoice.last_response.headers["Idempotent-Replayed"] == "true"
    assert list(admin.state()["invoices"]) == [invoice.id]


def test_drop_after_commit_then_retry_with_same_key_yields_one_invoice(
    make_client: MakeClient, admin: AdminClient
) -> None:
    customer = _customer(make_client())
    admin.add_faults({"action": "drop_after_commit", "method": "POST", "path": r"^/v1/invoices$"})
    params: Any = {"customer": customer.id, "metadata": {"verity_invoice": "7"}}

    with pytest.raises(stripe.APIConnectionError):
        make_client().v1.invoices.create(params=params, options={"idempotency_key": "inv-7"})
    committed = list(admin.state()["invoices"])
    retried = make_client().v1.invoices.create(params=params, options={"idempotency_key": "inv-7"})

    assert committed == [retried.id]  # the operation happened although the client saw no response
    assert list(admin.state()["invoices"]) == [retried.id]
    assert retried.last_response is not None
    assert retried.last_response.headers["Idempotent-Replayed"] == "true"


def test_drop_after_commit_is_invisible_with_sdk_retries(make_client: MakeClient, admin: AdminClient) -> None:
    customer = _customer(make_client())
    admin.add_faults({"action": "drop_after_commit", "path": r"/finalize$"})
    draft = _invoice(make_client(), customer.id, (1000,))

    invoice = make_client(retries=2).v1.invoices.finalize_invoice(draft.id)

    assert invoice.status == "open"
    assert len(admin.events("invoice.finalized")) == 1  # finalized exactly once


# ---------------------------------------------------------------------- webhooks


def _events(received: list[tuple[bytes, str]], secret: str = WEBHOOK_SECRET) -> list[stripe.Event]:
    return [stripe.Webhook.construct_event(body.decode(), signature, secret) for body, signature in received]


def test_webhooks_are_signed_and_verified_by_the_sdk(
    client: stripe.StripeClient, admin: AdminClient, receiver: Receiver
) -> None:
    admin.configure_webhook(
        receiver.url,
        WEBHOOK_SECRET,
        enabled_events=[
            "invoice.finalized",
            "invoice.paid",
            "invoice.payment_failed",
            "invoice.voided",
            "invoice.marked_uncollectible",
        ],
    )
    customer = _customer_with_card(client)
    invoice = client.v1.invoices.finalize_invoice(_invoice(client, customer.id, (2500,)).id)
    client.v1.invoices.pay(invoice.id)

    assert admin.drain_webhooks()
    events = _events(receiver.wait_for(2))

    assert [event.type for event in events] == ["invoice.finalized", "invoice.paid"]
    assert all(event.id.startswith("evt_") for event in events)
    assert events[1].data.object.id == invoice.id
    assert events[1].data.object.status == "paid"
    assert set(events[0].to_dict()) == set(SHAPES["event"])
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            receiver.received[0][0].decode(), receiver.received[0][1], "whsec_wrong"
        )


def test_webhook_duplicates_and_out_of_order_delivery(
    client: stripe.StripeClient, admin: AdminClient, receiver: Receiver
) -> None:
    admin.configure_webhook(
        receiver.url, WEBHOOK_SECRET, enabled_events=["invoice.finalized", "invoice.paid"], paused=True
    )
    customer = _customer_with_card(client)
    invoice = client.v1.invoices.finalize_invoice(_invoice(client, customer.id, (2500,)).id)
    client.v1.invoices.pay(invoice.id)

    released = admin.release_webhooks("reverse")  # paid arrives before finalized
    duplicate = admin.deliver_event(released[0]["event_id"], times=2)
    events = _events(receiver.wait_for(4))

    assert [event.type for event in events] == [
        "invoice.paid",
        "invoice.finalized",
        "invoice.paid",
        "invoice.paid",
    ]
    assert len({event.id for event in events}) == 2
    assert [delivery["status"] for delivery in released + duplicate] == [200, 200, 200, 200]
    assert [delivery["attempt"] for delivery in duplicate] == [2, 3]


# ---------------------------------------------------------------------- internals


def test_concurrent_creates_are_thread_safe(make_client: MakeClient, admin: AdminClient) -> None:
    client = make_client()

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(lambda n: client.v1.customers.create(params={"name": f"c{n}"}).id, range(40)))

    assert len(set(ids)) == 40
    assert len(admin.state()["customers"]) == 40


def test_bracket_notation_parsing() -> None:
    parsed = parse_form(
        "customer=cus_1&metadata[a]=1&metadata[0]=zero&expand[0]=customer&expand[1]=lines"
        "&invoice_settings[default_payment_method]=pm_card_visa&tags[]=x&tags[]=y&metadata[gone]="
    )

    assert parsed == {
        "customer": "cus_1",
        "metadata": {"a": "1", "0": "zero", "gone": ""},
        "expand": ["customer", "lines"],
        "invoice_settings": {"default_payment_method": "pm_card_visa"},
        "tags": ["x", "y"],
    }

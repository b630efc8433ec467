"""The local Stripe server's payments side: payment methods, Checkout in setup mode, the server clock with automatic
collection, idempotency-key expiry and stored 500s; the real stripe SDK over HTTP, as the gateway uses it."""

from __future__ import annotations

import http.client
import urllib.parse
from typing import Any, cast

import pytest
import stripe

from devtools.stripe_server import AdminClient, AdminError, RunningServer
from devtools.stripe_server.objects import SHAPES
from tests.support.stripe_server import MakeClient

HOUR, DAY = 3600, 86_400


def _customer(client: stripe.StripeClient, **params: Any) -> stripe.Customer:
    all_params: Any = {"email": "ap@example.com", "name": "AP", **params}
    return client.v1.customers.create(params=all_params)


def _with_card(client: stripe.StripeClient, card: str = "pm_card_visa", **params: Any) -> stripe.Customer:
    return _customer(client, payment_method=card, invoice_settings={"default_payment_method": card}, **params)


def _draft(
    client: stripe.StripeClient, customer_id: str, amount: int = 1000, **params: Any
) -> stripe.Invoice:
    all_params: Any = {"customer": customer_id, "currency": "usd", **params}
    invoice = client.v1.invoices.create(params=all_params)
    client.v1.invoice_items.create(
        params={"customer": customer_id, "invoice": invoice.id, "amount": amount, "currency": "usd"}
    )
    return client.v1.invoices.retrieve(invoice.id)


def _default_card(customer: stripe.Customer) -> str | None:
    card: str | None = customer.to_dict()["invoice_settings"]["default_payment_method"]
    return card


def _open_invoice(client: stripe.StripeClient, customer_id: str, **params: Any) -> stripe.Invoice:
    return client.v1.invoices.finalize_invoice(_draft(client, customer_id, **params).id)


def _types(admin: AdminClient, prefix: str = "") -> list[str]:
    return [event["type"] for event in admin.events() if event["type"].startswith(prefix)]


def _error(exc: stripe.StripeError) -> dict[str, Any]:
    return cast("dict[str, Any]", exc.json_body)["error"]


# ---------------------------------------------------------------------- payment methods


def test_attaching_a_test_token_creates_a_new_payment_method_each_time(
    client: stripe.StripeClient, admin: AdminClient
) -> None:
    customer = _customer(client)

    first = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    second = client.v1.payment_methods.attach("pm_card_mastercard", params={"customer": customer.id})

    assert first.id.startswith("pm_")
    assert first.id not in (second.id, "pm_card_visa")
    assert (first.customer, first.type, first.card and first.card.last4) == (customer.id, "card", "4242")
    assert set(first.to_dict()) == set(SHAPES["payment_method"])
    listed = client.v1.customers.payment_methods.list(customer.id)
    assert [pm.id for pm in listed.data] == [second.id, first.id]
    assert client.v1.payment_methods.retrieve(first.id).customer == customer.id
    assert _types(admin, "payment_method.") == ["payment_method.attached", "payment_method.attached"]
    # Attaching is not making it the default.
    assert _default_card(client.v1.customers.retrieve(customer.id)) is None


@pytest.mark.parametrize(
    ("token", "code", "decline_code"),
    [
        ("pm_card_chargeDeclined", "card_declined", "generic_decline"),
        ("pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card"),
    ],
)
def test_declining_test_cards_cannot_be_attached(
    client: stripe.StripeClient, admin: AdminClient, token: str, code: str, decline_code: str
) -> None:
    customer = _customer(client)

    with pytest.raises(stripe.CardError) as caught:
        client.v1.payment_methods.attach(token, params={"customer": customer.id})

    assert (caught.value.http_status, caught.value.code) == (402, code)
    assert _error(caught.value)["decline_code"] == decline_code
    assert client.v1.customers.payment_methods.list(customer.id).data == []
    assert _types(admin, "payment_method.") == []


def test_create_customer_with_the_test_token_idiom_sets_the_new_payment_method_as_default(
    client: stripe.StripeClient, admin: AdminClient
) -> None:
    customer = _with_card(client)

    default = _default_card(customer)
    listed = client.v1.customers.payment_methods.list(customer.id).data
    assert isinstance(default, str)
    assert default.startswith("pm_")
    assert default != "pm_card_visa"
    assert [pm.id for pm in listed] == [default]
    assert _types(admin) == ["customer.created", "payment_method.attached"]


def test_default_payment_method_must_be_attached_to_the_customer(
    client: stripe.StripeClient, admin: AdminClient
) -> None:
    other = _with_card(client)
    other_card = _default_card(other)
    assert isinstance(other_card, str)

    with pytest.raises(stripe.InvalidRequestError) as at_creation:
        _customer(client, invoice_settings={"default_payment_method": "pm_card_visa"})
    customer = _customer(client)
    with pytest.raises(stripe.InvalidRequestError) as at_update:
        client.v1.customers.update(
            customer.id, params={"invoice_settings": {"default_payment_method": other_card}}
        )

    for caught, pm in ((at_creation, "pm_card_visa"), (at_update, other_card)):
        assert (caught.value.http_status, caught.value.code) == (400, "resource_missing")
        assert caught.value.param == "invoice_settings[default_payment_method]"
        assert _error(caught.value)["message"] == (
            f"The customer does not have a payment method with the ID {pm}. The payment method must be attached "
            "to the customer."
        )
    assert len(admin.state()["customers"]) == 2  # the refused creation created nothing


def test_update_customer_sets_fields_and_default_and_emits_customer_updated(
    client: stripe.StripeClient, admin: AdminClient
) -> None:
    customer = _customer(client, metadata={"keep": "1", "drop": "2"})
    card = client.v1.payment_methods.attach("pm_card_amex", params={"customer": customer.id})

    updated = client.v1.customers.update(
        customer.id,
        params={
            "name": "Accounts Payable",
            "phone": "+15555550100",
            "metadata": {"drop": ""},
            "invoice_settings": {"default_payment_method": card.id},
        },
    )

    assert (updated.name, updated.phone, updated.email) == (
        "Accounts Payable",
        "+15555550100",
        "ap@example.com",
    )
    assert updated.to_dict()["metadata"] == {"keep": "1"}
    assert _default_card(updated) == card.id
    event = admin.events("customer.updated")[-1]
    assert event["data"]["object"]["invoice_settings"]["default_payment_method"] == card.id


def test_list_customers_filters_by_exact_email_and_paginates(client: stripe.StripeClient) -> None:
    mine = [_customer(client, email="billing@acme.test") for _ in range(3)]
    _customer(client, email="Billing@acme.test")

    page = client.v1.customers.list(params={"email": "billing@acme.test", "limit": 2})
    everything = list(page.auto_paging_iter())

    assert page.has_more is True
    assert [c.id for c in everything] == [c.id for c in reversed(mine)]


def test_detaching_the_default_clears_it_and_the_method_cannot_be_reused(
    client: stripe.StripeClient, admin: AdminClient
) -> None:
    customer = _with_card(client)
    card = _default_card(customer)
    assert isinstance(card, str)

    detached = client.v1.payment_methods.detach(card)

    assert detached.customer is None
    assert _default_card(client.v1.customers.retrieve(customer.id)) is None
    assert _types(admin, "payment_method.") == ["payment_method.attached", "payment_method.detached"]
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_methods.attach(card, params={"customer": customer.id})
    assert "may not be used again" in _error(caught.value)["message"]


def test_pay_without_any_payment_method_fails_and_leaves_the_invoice_untouched(
    client: stripe.StripeClient, admin: AdminClient
) -> None:
    # metadata[test_payment] is no longer a way to pick a behaviour: Stripe has no such thing.
    customer = _customer(client, metadata={"test_payment": "succeed"})
    client.v1.payment_methods.attach(
        "pm_card_visa", params={"customer": customer.id}
    )  # attached, not default
    invoice = _open_invoice(client, customer.id)

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.invoices.pay(invoice.id)

    assert (caught.value.http_status, caught.value.code) == (400, None)
    assert _error(caught.value)["message"].startswith(
        "This customer has no attached payment source or default payment method."
    )
    after = client.v1.invoices.retrieve(invoice.id)
    assert (after.status, after.attempt_count, after.attempted, after.amount_paid) == ("open", 0, False, 0)
    assert "invoice.payment_failed" not in _types(admin)


def test_pay_with_a_payment_method_of_another_customer_is_refused(client: stripe.StripeClient) -> None:
    other = _with_card(client)
    customer = _customer(client)
    invoice = _open_invoice(client, customer.id)

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.invoices.pay(invoice.id, params={"payment_method": cast("str", _default_card(other))})

    assert (caught.value.code, caught.value.param) == ("resource_missing", "payment_method")
    assert client.v1.invoices.retrieve(invoice.id).status == "open"


def test_card_requiring_authentication_leaves_the_invoice_open(
    client: stripe.StripeClient, admin: AdminClient
) -> None:
    customer = _with_card(client, "pm_card_authenticationRequired")
    invoice = _open_invoice(client, customer.id)

    with pytest.raises(stripe.CardError) as caught:
        client.v1.invoices.pay(invoice.id, params={"off_session": True})

    assert (caught.value.http_status, caught.value.code) == (402, "invoice_payment_intent_requires_action")
    after = client.v1.invoices.retrieve(invoice.id)
    assert (after.status, after.attempt_count, after.amount_paid) == ("open", 1, 0)
    assert _types(admin, "invoice.payment")[-2:] == [
        "invoice.payment_failed",
        "invoice.payment_action_required",
    ]
    assert "invoice.paid" not in _types(admin)


# ---------------------------------------------------------------------- Checkout in setup mode


def _setup_session(
    client: stripe.StripeClient, customer_id: str | None, **params: Any
) -> stripe.checkout.Session:
    all_params: Any = {
        "mode": "setup",
        "currency": "usd",
        "success_url": "https://verity.test/cards/saved?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://verity.test/cards",
        **({"customer": customer_id} if customer_id else {}),
        **params,
    }
    return client.v1.checkout.sessions.create(params=all_params)


def test_checkout_setup_session_completes_with_a_setup_intent_and_an_attached_card(
    server: RunningServer, client: stripe.StripeClient, admin: AdminClient
) -> None:
    customer = _customer(client)
    session = _setup_session(client, customer.id, metadata={"verity_vendor": "v1"})

    assert (session.status, session.mode, session.setup_intent) == ("open", "setup", None)
    assert session.url == f"{server.base_url}/__checkout/{session.id}"
    assert set(session.to_dict()) == set(SHAPES["checkout.session"])

    admin.complete_checkout(session.id, payment_method="pm_card_visa")

    done = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["setup_intent"]})
    intent = cast("stripe.SetupIntent", done.setup_intent)
    assert done.status == "complete"
    assert (intent.id[:5], intent.status, intent.customer) == ("seti_", "succeeded", customer.id)
    assert set(intent.to_dict()) == set(SHAPES["setup_intent"])
    assert client.v1.setup_intents.retrieve(intent.id).payment_method == intent.payment_method
    listed = client.v1.customers.payment_methods.list(customer.id).data
    assert [pm.id for pm in listed] == [intent.payment_method]
    # Stripe does not make the saved card the customer's default: the integration does.
    assert _default_card(client.v1.customers.retrieve(customer.id)) is None
    assert _types(admin)[-4:] == [
        "setup_intent.created",
        "payment_method.attached",
        "setup_intent.succeeded",
        "checkout.session.completed",
    ]
    with pytest.raises(AdminError, match="no longer active"):
        admin.complete_checkout(session.id)  # a completed session cannot be completed again


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"mode": "payment"}, "mode"),
        ({"currency": None}, "currency"),
        ({"payment_method_types": ["sepa_debit"]}, "payment_method_types"),
        ({"success_url": None}, "success_url"),
    ],
)
def test_checkout_refuses_what_it_does_not_model_or_stripe_refuses(
    client: stripe.StripeClient, admin: AdminClient, params: dict[str, Any], param: str
) -> None:
    customer = _customer(client)
    base: dict[str, Any] = {
        "mode": "setup",
        "currency": "usd",
        "success_url": "https://verity.test/ok",
        "customer": customer.id,
    }
    request: Any = {k: v for k, v in {**base, **params}.items() if v is not None}

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.create(params=request)

    assert (caught.value.http_status, caught.value.param) == (400, param)
    assert admin.state()["checkout_sessions"] == {}


def test_checkout_page_button_saves_a_card_and_redirects_to_success_url(
    server: RunningServer, client: stripe.StripeClient
) -> None:
    customer = _customer(client)
    session = _setup_session(client, customer.id)
    url = urllib.parse.urlsplit(cast("str", session.url))
    connection = http.client.HTTPConnection(url.netloc, timeout=5)

    connection.request("GET", url.path)
    page = connection.getresponse()
    html = page.read().decode()
    connection.request("POST", url.path)
    posted = connection.getresponse()
    posted.read()

    assert page.status == 200
    assert "Save card (4242" in html
    assert posted.status == 303
    assert posted.getheader("Location") == f"https://verity.test/cards/saved?session={session.id}"
    assert client.v1.checkout.sessions.retrieve(session.id).status == "complete"


# ---------------------------------------------------------------------- the clock and automatic collection


def test_auto_advance_draft_finalizes_after_an_hour_and_is_charged_at_once(
    client: stripe.StripeClient, admin: AdminClient
) -> None:
    customer = _with_card(client)
    draft = _draft(client, customer.id, auto_advance=True)
    assert draft.status == "draft"
    finalizes_at = cast("int", draft.automatically_finalizes_at)
    assert finalizes_at == draft.created + HOUR

    admin.advance_clock(HOUR - 5)
    assert client.v1.invoices.retrieve(draft.id).status == "draft"
    admin.advance_clock(10)

    paid = client.v1.invoices.retrieve(draft.id)
    assert (paid.status, paid.attempt_count, paid.status_transitions.finalized_at) == (
        "paid",
        1,
        finalizes_at,
    )
    events = [e for e in admin.events() if e["type"] in ("invoice.finalized", "invoice.paid")]
    assert [(e["type"], e["created"]) for e in events] == [
        ("invoice.finalized", finalizes_at),
        ("invoice.paid", finalizes_at),
    ]
    assert events[0]["request"] == {"id": None, "idempotency_key": None}  # Stripe's own work, no request


def test_failed_automatic_attempt_is_retried_on_schedule_and_a_new_default_card_pays(
    client: stripe.StripeClient, admin: AdminClient
) -> None:
    customer = _with_card(client, "pm_card_chargeCustomerFail")
    invoice = client.v1.invoices.finalize_invoice(
        _draft(client, customer.id).id, params={"auto_advance": True}
    )
    finalized_at = cast("int", invoice.status_transitions.finalized_at)
    assert invoice.next_payment_attempt == finalized_at + HOUR

    admin.advance_clock(HOUR)
    failed = client.v1.invoices.retrieve(invoice.id)
    assert (failed.status, failed.attempt_count) == ("open", 1)
    assert failed.next_payment_attempt == finalized_at + HOUR + 3 * DAY  # default schedule: 3, 5, 7 days
    good = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    client.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": good.id}})

    admin.advance_clock(2 * DAY)
    assert client.v1.invoices.retrieve(invoice.id).status == "open"  # not yet
    admin.advance_clock(DAY)

    paid = client.v1.invoices.retrieve(invoice.id)
    assert (paid.status, paid.attempt_count, paid.next_payment_attempt) == ("paid", 2, None)
    assert _types(admin, "invoice.pa") == [
        "invoice.payment_failed",
        "invoice.paid",
        "invoice.payment_succeeded",
    ]


@pytest.mark.parametrize(
    ("action", "status", "final_event"),
    [
        ("leave_open", "open", None),
        ("mark_uncollectible", "uncollectible", "invoice.marked_uncollectible"),
        ("void", "void", "invoice.voided"),
    ],
)
def test_after_the_final_failed_retry_the_configured_action_applies(
    client: stripe.StripeClient, admin: AdminClient, action: str, status: str, final_event: str | None
) -> None:
    admin.configure_collection(retry_days=[1, 2], after_final_failure=action)
    customer = _with_card(client, "pm_card_chargeCustomerFail")
    invoice = _draft(client, customer.id, auto_advance=True)

    admin.advance_clock(HOUR + 3 * DAY)

    after = client.v1.invoices.retrieve(invoice.id)
    assert (after.status, after.attempt_count, after.next_payment_attempt) == (status, 3, None)
    failures = admin.events("invoice.payment_failed")
    assert len(failures) == 3
    assert [e["created"] - failures[0]["created"] for e in failures] == [0, DAY, 3 * DAY]
    endings = [t for t in _types(admin) if t in ("invoice.marked_uncollectible", "invoice.voided")]
    assert endings == ([final_event] if final_event else [])
    admin.advance_clock(30 * DAY)
    assert len(admin.events("invoice.payment_failed")) == 3  # nothing more is attempted


def test_manual_attempts_after_the_first_do_not_count_or_move_the_schedule(
    client: stripe.StripeClient, admin: AdminClient
) -> None:
    customer = _with_card(client, "pm_card_chargeCustomerFail")
    invoice = client.v1.invoices.finalize_invoice(
        _draft(client, customer.id).id, params={"auto_advance": True}
    )

    for _ in range(3):
        with pytest.raises(stripe.CardError):
            client.v1.invoices.pay(invoice.id)

    after = client.v1.invoices.retrieve(invoice.id)
    assert after.attempt_count == 1
    first_failure = admin.events("invoice.payment_failed")[0]["created"]
    assert after.next_payment_attempt == first_failure + 3 * DAY
    assert len(admin.events("invoice.payment_failed")) == 3


def test_without_auto_advance_nothing_happens_as_time_passes(
    client: stripe.StripeClient, admin: AdminClient
) -> None:
    customer = _with_card(client)
    draft = client.v1.invoices.create(params={"customer": customer.id, "currency": "usd"})
    manual = _open_invoice(client, customer.id)

    admin.advance_clock(60 * DAY)

    assert client.v1.invoices.retrieve(draft.id).status == "draft"
    assert client.v1.invoices.retrieve(manual.id).status == "open"
    assert [t for t in _types(admin) if t.startswith("invoice.pa")] == []


def test_send_invoice_past_due_emits_invoice_overdue_once(
    client: stripe.StripeClient, admin: AdminClient
) -> None:
    customer = _customer(client)
    invoice = _open_invoice(client, customer.id, collection_method="send_invoice", days_until_due=7)
    due = cast("int", invoice.due_date)

    admin.advance_clock(7 * DAY - HOUR)
    assert admin.events("invoice.overdue") == []
    admin.advance_clock(2 * HOUR)
    admin.advance_clock(10 * DAY)

    overdue = admin.events("invoice.overdue")
    assert [(e["data"]["object"]["id"], e["created"]) for e in overdue] == [(invoice.id, due)]


def test_clock_reads_and_reset_brings_it_back(admin: AdminClient) -> None:
    before = admin.clock()

    advanced = admin.advance_clock(5 * DAY)
    admin.reset()

    assert advanced["now"] - before["now"] in (5 * DAY, 5 * DAY + 1)
    assert admin.clock()["offset"] == 0.0


# ---------------------------------------------------------------------- idempotency keys and stored 500s


def test_idempotency_key_is_forgotten_after_24_hours_of_server_time(
    client: stripe.StripeClient, admin: AdminClient
) -> None:
    first = client.v1.customers.create(
        params={"email": "a@example.com"}, options={"idempotency_key": "cus-once"}
    )
    admin.advance_clock(23 * HOUR)
    replayed = client.v1.customers.create(
        params={"email": "a@example.com"}, options={"idempotency_key": "cus-once"}
    )
    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create(params={"email": "b@example.com"}, options={"idempotency_key": "cus-once"})

    admin.advance_clock(HOUR)
    fresh = client.v1.customers.create(
        params={"email": "b@example.com"}, options={"idempotency_key": "cus-once"}
    )

    assert replayed.id == first.id
    assert fresh.id != first.id
    assert len(admin.state()["customers"]) == 2


@pytest.mark.parametrize(("commit", "invoices"), [(True, 1), (False, 0)])
def test_stored_500_is_replayed_to_every_retry(
    make_client: MakeClient, admin: AdminClient, commit: bool, invoices: int
) -> None:
    customer = make_client().v1.customers.create(params={"email": "x@example.com"})
    admin.add_faults({"action": "500_stored", "commit": commit, "method": "POST", "path": r"^/v1/invoices$"})

    with pytest.raises(stripe.APIError) as caught:
        make_client(retries=2).v1.invoices.create(params={"customer": customer.id, "currency": "usd"})

    assert caught.value.http_status == 500
    attempts = [r for r in admin.requests() if r["path"] == "/v1/invoices"]
    assert [(r["status"], r["replayed"]) for r in attempts] == [(500, False), (500, True), (500, True)]
    assert len({r["idempotency_key"] for r in attempts}) == 1
    assert len(admin.state()["invoices"]) == invoices
    assert admin.faults()[0]["fired"] == 1  # the retries were answered by the key, not by the fault

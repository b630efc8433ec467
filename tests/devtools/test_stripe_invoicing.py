"""The invoicing side of the local Stripe server (credit notes, balance, add_lines, currencies, invoice fields),
driven by the real stripe SDK over HTTP. Each test pins one behaviour cited in docs/stripe-conformance.md.

Invoices are paid with `paid_out_of_band` so the tests do not depend on the server's payment-method rules.
"""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from devtools.stripe_server import AdminClient
from devtools.stripe_server.objects import SHAPES


def _customer(client: stripe.StripeClient) -> str:
    return client.v1.customers.create(params={"email": "buyer@example.com"}).id


def _draft(
    client: stripe.StripeClient, customer: str, amounts: tuple[int, ...], currency: str = "usd"
) -> str:
    invoice = client.v1.invoices.create(params={"customer": customer, "currency": currency})
    for amount in amounts:
        client.v1.invoice_items.create(
            params={"customer": customer, "invoice": invoice.id, "amount": amount, "currency": currency}
        )
    return invoice.id


def _open(client: stripe.StripeClient, customer: str, amounts: tuple[int, ...], currency: str = "usd") -> str:
    invoice_id = _draft(client, customer, amounts, currency)
    client.v1.invoices.finalize_invoice(invoice_id)
    return invoice_id


def _paid(client: stripe.StripeClient, customer: str, amounts: tuple[int, ...]) -> str:
    invoice_id = _open(client, customer, amounts)
    client.v1.invoices.pay(invoice_id, params={"paid_out_of_band": True})
    return invoice_id


def _error(exc: pytest.ExceptionInfo[stripe.StripeError]) -> dict[str, Any]:
    body: Any = exc.value.json_body
    assert body is not None
    error: dict[str, Any] = body["error"]
    return error


def _event_types(admin: AdminClient) -> list[str]:
    return [event["type"] for event in admin.events()]


# ---------------------------------------------------------------------- credit notes


def test_credit_note_on_open_invoice_lowers_amount_due(
    client: stripe.StripeClient, admin: AdminClient
) -> None:
    customer = _customer(client)
    invoice_id = _open(client, customer, (5000,))
    number = client.v1.invoices.retrieve(invoice_id).number

    note = client.v1.credit_notes.create(
        params={"invoice": invoice_id, "amount": 1200, "reason": "duplicate"}
    )

    invoice = client.v1.invoices.retrieve(invoice_id)
    assert set(note.to_dict()) == set(SHAPES["credit_note"])
    assert note.id.startswith("cn_")
    assert (note.number, note.status, note.type) == (f"{number}-CN-01", "issued", "pre_payment")
    assert (note.total, note.pre_payment_amount, note.post_payment_amount) == (1200, 1200, 0)
    assert (invoice.status, invoice.amount_due, invoice.amount_remaining) == ("open", 3800, 3800)
    assert (invoice.pre_payment_credit_notes_amount, invoice.post_payment_credit_notes_amount) == (1200, 0)
    assert note.customer_balance_transaction is None
    assert client.v1.customers.retrieve(customer).balance == 0
    assert _event_types(admin)[-2:] == ["credit_note.created", "invoice.updated"]


def test_credit_note_bringing_remaining_to_zero_marks_invoice_paid(
    client: stripe.StripeClient, admin: AdminClient
) -> None:
    invoice_id = _open(client, _customer(client), (3000,))

    client.v1.credit_notes.create(params={"invoice": invoice_id, "amount": 3000})

    invoice = client.v1.invoices.retrieve(invoice_id)
    assert (invoice.status, invoice.amount_remaining, invoice.amount_paid) == ("paid", 0, 0)
    assert "invoice.paid" in _event_types(admin)
    assert "invoice.payment_succeeded" not in _event_types(admin)


@pytest.mark.parametrize("state", ["draft", "void"])
def test_credit_note_refused_unless_invoice_is_open_or_paid(client: stripe.StripeClient, state: str) -> None:
    customer = _customer(client)
    invoice_id = _draft(client, customer, (1000,)) if state == "draft" else _open(client, customer, (1000,))
    if state == "void":
        client.v1.invoices.void_invoice(invoice_id)

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.credit_notes.create(params={"invoice": invoice_id, "amount": 100})

    assert _error(exc)["param"] == "invoice"
    assert state in _error(exc)["message"]
    assert list(client.v1.credit_notes.list(params={"invoice": invoice_id}).data) == []


def test_post_payment_split_must_equal_the_credit_note_total(client: stripe.StripeClient) -> None:
    invoice_id = _paid(client, _customer(client), (4000,))

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.credit_notes.create(params={"invoice": invoice_id, "amount": 1000, "credit_amount": 600})

    assert _error(exc)["param"] == "credit_amount"
    assert "(600) must equal" in _error(exc)["message"]
    assert list(client.v1.credit_notes.list(params={"invoice": invoice_id}).data) == []
    assert client.v1.invoices.retrieve(invoice_id).post_payment_credit_notes_amount == 0


def test_credit_amount_goes_to_balance_and_the_next_invoice(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    invoice_id = _paid(client, customer, (4000,))

    note = client.v1.credit_notes.create(
        params={"invoice": invoice_id, "amount": 1500, "credit_amount": 1000, "out_of_band_amount": 500}
    )

    assert (note.type, note.post_payment_amount, note.out_of_band_amount) == ("post_payment", 1500, 500)
    assert client.v1.customers.retrieve(customer).balance == -1000
    transaction = client.v1.customers.balance_transactions.retrieve(
        customer, str(note.customer_balance_transaction)
    )
    assert set(transaction.to_dict()) == set(SHAPES["customer_balance_transaction"])
    assert (transaction.type, transaction.amount, transaction.credit_note) == ("credit_note", -1000, note.id)
    assert client.v1.invoices.retrieve(invoice_id).post_payment_credit_notes_amount == 1500

    next_invoice = client.v1.invoices.finalize_invoice(_draft(client, customer, (2500,)))

    assert (next_invoice.starting_balance, next_invoice.amount_due) == (-1000, 1500)
    assert client.v1.customers.retrieve(customer).balance == 0
    applied = client.v1.customers.balance_transactions.list(
        customer, params={"invoice": next_invoice.id}
    ).data
    assert [(item.type, item.amount) for item in applied] == [("applied_to_invoice", 1000)]


def test_refund_amount_creates_a_refund(client: stripe.StripeClient, admin: AdminClient) -> None:
    invoice_id = _paid(client, _customer(client), (2000,))

    note = client.v1.credit_notes.create(
        params={"invoice": invoice_id, "amount": 1500, "refund_amount": 1500}
    )

    refund = admin.state()["refunds"][note.refunds[0].refund]
    assert set(refund) == set(SHAPES["refund"])
    assert refund["id"].startswith("re_")
    assert (refund["amount"], refund["status"], note.refunds[0].amount_refunded) == (1500, "succeeded", 1500)
    assert client.v1.customers.retrieve(str(note.customer)).balance == 0
    assert "refund.created" in _event_types(admin)


def test_refund_cannot_exceed_what_was_paid(client: stripe.StripeClient, admin: AdminClient) -> None:
    customer = _customer(client)
    client.v1.customers.balance_transactions.create(customer, params={"amount": -1500, "currency": "usd"})
    invoice_id = _paid(client, customer, (2000,))  # the balance covers 1500: 500 is paid

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.credit_notes.create(params={"invoice": invoice_id, "amount": 1000, "refund_amount": 1000})

    assert _error(exc)["param"] == "refund_amount"
    assert "(500)" in _error(exc)["message"]
    assert admin.state()["refunds"] == {}


def test_credit_notes_cannot_exceed_the_invoice_total(client: stripe.StripeClient) -> None:
    invoice_id = _paid(client, _customer(client), (2000,))
    client.v1.credit_notes.create(params={"invoice": invoice_id, "amount": 1500, "out_of_band_amount": 1500})

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.credit_notes.create(
            params={"invoice": invoice_id, "amount": 501, "out_of_band_amount": 501}
        )

    assert "(500)" in _error(exc)["message"]
    assert len(client.v1.credit_notes.list(params={"invoice": invoice_id}).data) == 1


def test_credit_note_lines_credit_invoice_lines_and_custom_lines(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    invoice_id = _open(client, customer, (3000, 1000))
    first, second = client.v1.invoices.line_items.list(invoice_id).data

    note = client.v1.credit_notes.create(
        params={
            "invoice": invoice_id,
            "lines": [
                {"type": "invoice_line_item", "invoice_line_item": first.id, "amount": 700},
                {"type": "custom_line_item", "unit_amount": 150, "quantity": 2, "description": "goodwill"},
            ],
        }
    )
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.credit_notes.create(
            params={
                "invoice": invoice_id,
                "lines": [{"type": "invoice_line_item", "invoice_line_item": second.id, "amount": 1001}],
            }
        )

    lines = client.v1.credit_notes.line_items.list(note.id).data
    assert [(line.type, line.amount, line.invoice_line_item) for line in lines] == [
        ("invoice_line_item", 700, first.id),
        ("custom_line_item", 300, None),
    ]
    assert all(set(line.to_dict()) == set(SHAPES["credit_note_line_item"]) for line in lines)
    assert (note.total, client.v1.invoices.retrieve(invoice_id).amount_due) == (1000, 3000)
    assert _error(exc)["param"] == "lines"


def test_preview_returns_the_credit_note_without_creating_it(
    client: stripe.StripeClient, admin: AdminClient
) -> None:
    invoice_id = _open(client, _customer(client), (5000,))
    events_before = len(admin.events())

    preview = client.v1.credit_notes.preview(params={"invoice": invoice_id, "amount": 800, "memo": "sorry"})

    assert (preview.total, preview.pre_payment_amount, preview.memo, preview.status) == (
        800,
        800,
        "sorry",
        "issued",
    )
    assert admin.state()["credit_notes"] == {}
    assert client.v1.invoices.retrieve(invoice_id).amount_due == 5000
    assert len(admin.events()) == events_before


def test_list_filters_by_invoice_and_customer(client: stripe.StripeClient) -> None:
    alice, bob = _customer(client), _customer(client)
    alice_invoice, bob_invoice = _open(client, alice, (1000,)), _open(client, bob, (1000,))
    older = client.v1.credit_notes.create(params={"invoice": alice_invoice, "amount": 100})
    newer = client.v1.credit_notes.create(params={"invoice": alice_invoice, "amount": 200})
    client.v1.credit_notes.create(params={"invoice": bob_invoice, "amount": 300})

    by_invoice = client.v1.credit_notes.list(params={"invoice": alice_invoice}).data
    by_customer = client.v1.credit_notes.list(params={"customer": bob}).data

    assert [note.id for note in by_invoice] == [newer.id, older.id]
    assert newer.number is not None
    assert newer.number.endswith("-CN-02")
    assert [note.total for note in by_customer] == [300]
    assert client.v1.credit_notes.retrieve(older.id).total == 100


def test_void_credit_note_gives_the_amount_back_to_the_open_invoice(
    client: stripe.StripeClient, admin: AdminClient
) -> None:
    invoice_id = _open(client, _customer(client), (5000,))
    note = client.v1.credit_notes.create(params={"invoice": invoice_id, "amount": 2000})

    voided = client.v1.credit_notes.void_credit_note(note.id)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.credit_notes.void_credit_note(note.id)

    invoice = client.v1.invoices.retrieve(invoice_id)
    assert (voided.status, voided.voided_at is not None) == ("void", True)
    assert (invoice.amount_due, invoice.amount_remaining, invoice.pre_payment_credit_notes_amount) == (
        5000,
        5000,
        0,
    )
    assert "credit_note.voided" in _event_types(admin)


def test_void_credit_note_refused_once_the_invoice_is_paid(client: stripe.StripeClient) -> None:
    invoice_id = _open(client, _customer(client), (5000,))
    note = client.v1.credit_notes.create(params={"invoice": invoice_id, "amount": 2000})
    client.v1.invoices.pay(invoice_id, params={"paid_out_of_band": True})

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.credit_notes.void_credit_note(note.id)

    assert "invoice is open" in _error(exc)["message"]
    assert client.v1.credit_notes.retrieve(note.id).status == "issued"


def test_amount_and_lines_are_exclusive_and_reason_is_an_enum(client: stripe.StripeClient) -> None:
    invoice_id = _open(client, _customer(client), (5000,))
    line = client.v1.invoices.line_items.list(invoice_id).data[0]

    with pytest.raises(stripe.InvalidRequestError) as both:
        client.v1.credit_notes.create(
            params={
                "invoice": invoice_id,
                "amount": 100,
                "lines": [{"type": "invoice_line_item", "invoice_line_item": line.id, "amount": 100}],
            }
        )
    with pytest.raises(stripe.InvalidRequestError) as reason:
        client.v1.credit_notes.create(params={"invoice": invoice_id, "amount": 100, "reason": "changed_mind"})
    with pytest.raises(stripe.InvalidRequestError) as neither:
        client.v1.credit_notes.create(params={"invoice": invoice_id})

    assert _error(both)["param"] == "amount"
    assert _error(reason)["param"] == "reason"
    assert _error(neither)["code"] == "parameter_missing"


# ---------------------------------------------------------------------- customer balance


def test_balance_transactions_move_the_balance_and_list_newest_first(client: stripe.StripeClient) -> None:
    customer = _customer(client)

    credit = client.v1.customers.balance_transactions.create(
        customer, params={"amount": -700, "currency": "usd", "description": "goodwill"}
    )
    debit = client.v1.customers.balance_transactions.create(
        customer, params={"amount": 200, "currency": "usd"}
    )

    listed = client.v1.customers.balance_transactions.list(customer).data
    assert credit.id.startswith("cbtxn_")
    assert (credit.type, credit.ending_balance, debit.ending_balance) == ("adjustment", -700, -500)
    assert [item.id for item in listed] == [debit.id, credit.id]
    assert client.v1.customers.retrieve(customer).balance == -500


def test_balance_transaction_in_another_currency_is_refused(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    client.v1.customers.balance_transactions.create(customer, params={"amount": -100, "currency": "usd"})

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.balance_transactions.create(customer, params={"amount": -100, "currency": "eur"})

    assert _error(exc)["param"] == "currency"
    assert client.v1.customers.retrieve(customer).balance == -100


# ---------------------------------------------------------------------- add_lines and the line limit


def test_add_lines_creates_items_with_zero_amounts_allowed(
    client: stripe.StripeClient, admin: AdminClient
) -> None:
    customer = _customer(client)
    invoice_id = _draft(client, customer, ())

    invoice = client.v1.invoices.add_lines(
        invoice_id,
        params={
            "lines": [
                {"amount": 1200, "description": "outcome 1", "metadata": {"verity_outcome": "1"}},
                {"amount": 0, "description": "free", "period": {"start": 100, "end": 200}},
            ],
            "invoice_metadata": {"verity_invoice": "7"},
        },
    )

    lines = client.v1.invoices.line_items.list(invoice_id).data
    assert [(line.amount, line.description) for line in lines] == [(1200, "outcome 1"), (0, "free")]
    assert (lines[1].period.start, lines[1].period.end) == (100, 200)
    assert (invoice.total, invoice.to_dict()["metadata"]) == (1200, {"verity_invoice": "7"})
    assert _event_types(admin).count("invoiceitem.created") == 2


def test_add_lines_is_all_or_nothing(client: stripe.StripeClient, admin: AdminClient) -> None:
    invoice_id = _draft(client, _customer(client), ())
    items_before = len(admin.state()["invoiceitems"])

    lines: Any = [{"amount": 100}, {"amount": "ten"}]  # the second is not an integer

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoices.add_lines(invoice_id, params={"lines": lines})

    assert _error(exc)["param"] == "lines[1][amount]"
    assert client.v1.invoices.line_items.list(invoice_id).data == []
    assert len(admin.state()["invoiceitems"]) == items_before
    assert "invoiceitem.created" not in _event_types(admin)


def test_add_lines_only_on_drafts(client: stripe.StripeClient) -> None:
    invoice_id = _open(client, _customer(client), (100,))

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoices.add_lines(invoice_id, params={"lines": [{"amount": 100}]})

    assert _error(exc)["code"] == "invoice_not_editable"
    assert len(client.v1.invoices.line_items.list(invoice_id).data) == 1


def test_add_lines_assigns_an_unassigned_invoice_item(
    client: stripe.StripeClient, admin: AdminClient
) -> None:
    customer = _customer(client)
    pending = client.v1.invoice_items.create(params={"customer": customer, "amount": 900, "currency": "usd"})
    invoice_id = _draft(client, customer, ())

    client.v1.invoices.add_lines(invoice_id, params={"lines": [{"invoice_item": pending.id}]})
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.invoices.add_lines(
            _draft(client, customer, ()), params={"lines": [{"invoice_item": pending.id}]}
        )

    assert admin.state()["invoiceitems"][pending.id]["invoice"] == invoice_id
    assert client.v1.invoices.retrieve(invoice_id).total == 900
    assert _error(again)["param"] == "lines[0][invoice_item]"


def test_an_invoice_holds_at_most_250_lines(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    invoice_id = _draft(client, customer, ())
    client.v1.invoices.add_lines(invoice_id, params={"lines": [{"amount": 1}] * 200})
    client.v1.invoices.add_lines(invoice_id, params={"lines": [{"amount": 1}] * 50})

    with pytest.raises(stripe.InvalidRequestError) as item:
        client.v1.invoice_items.create(
            params={"customer": customer, "invoice": invoice_id, "amount": 1, "currency": "usd"}
        )
    with pytest.raises(stripe.InvalidRequestError) as bulk:
        client.v1.invoices.add_lines(invoice_id, params={"lines": [{"amount": 1}]})

    assert "250" in _error(item)["message"]
    assert _error(bulk)["param"] == "lines"
    assert client.v1.invoices.retrieve(invoice_id).total == 250


# ---------------------------------------------------------------------- currencies


def test_unsupported_currency_is_refused(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoices.create(params={"customer": _customer(client), "currency": "xyz"})

    assert _error(exc)["param"] == "currency"
    assert _error(exc)["message"].startswith(
        "Invalid currency: xyz. Stripe currently supports these currencies: "
    )


def test_three_decimal_amounts_must_end_in_zero(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    invoice_id = _draft(client, customer, (5120,), currency="kwd")

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoice_items.create(
            params={"customer": customer, "invoice": invoice_id, "amount": 5124, "currency": "kwd"}
        )

    assert _error(exc)["param"] == "amount"
    assert client.v1.invoices.retrieve(invoice_id).total == 5120


@pytest.mark.parametrize("currency", ["isk", "ugx"])
def test_isk_and_ugx_take_whole_units_only(client: stripe.StripeClient, currency: str) -> None:
    customer = _customer(client)
    invoice_id = _draft(client, customer, (500,), currency=currency)

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoices.add_lines(invoice_id, params={"lines": [{"amount": 550}]})

    assert _error(exc)["code"] == "invalid_charge_amount_no_decimal_compatible"
    assert client.v1.invoices.retrieve(invoice_id).total == 500


def test_zero_decimal_amounts_are_taken_as_they_are(client: stripe.StripeClient) -> None:
    invoice = client.v1.invoices.finalize_invoice(_draft(client, _customer(client), (1, 499), currency="jpy"))

    assert (invoice.currency, invoice.total, invoice.amount_due) == ("jpy", 500, 500)


def test_invoice_below_the_minimum_charge_is_paid_and_debited_to_the_balance(
    client: stripe.StripeClient, admin: AdminClient
) -> None:
    customer = _customer(client)

    invoice = client.v1.invoices.finalize_invoice(_draft(client, customer, (30,)))

    debits = client.v1.customers.balance_transactions.list(customer).data
    assert (invoice.status, invoice.amount_due) == ("paid", 30)
    assert [(item.type, item.amount, item.invoice) for item in debits] == [
        ("invoice_too_small", 30, invoice.id)
    ]
    assert client.v1.customers.retrieve(customer).balance == 30
    assert "invoice.payment_succeeded" not in _event_types(admin)


# ---------------------------------------------------------------------- fields the customer sees


def test_number_set_on_a_draft_is_kept_at_finalization(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    draft = client.v1.invoices.create(params={"customer": customer, "number": "VER-2026-0001"})

    finalized = client.v1.invoices.finalize_invoice(draft.id)
    generated = client.v1.invoices.finalize_invoice(_draft(client, customer, (100,)))

    assert finalized.number == "VER-2026-0001"
    assert generated.number is not None
    assert generated.number.endswith("-0001")


def test_number_in_use_or_on_a_finalized_invoice_is_refused(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    first = client.v1.invoices.create(params={"customer": customer, "number": "VER-1"})

    with pytest.raises(stripe.InvalidRequestError) as reused:
        client.v1.invoices.create(params={"customer": customer, "number": "VER-1"})
    client.v1.invoices.finalize_invoice(first.id)
    with pytest.raises(stripe.InvalidRequestError) as finalized:
        client.v1.invoices.update(first.id, params={"number": "VER-2"})

    assert _error(reused)["param"] == "number"
    assert _error(finalized)["code"] == "invoice_already_finalized"
    assert client.v1.invoices.retrieve(first.id).number == "VER-1"


def test_footer_and_custom_fields_with_their_limits(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    fields: Any = [{"name": f"Field {index}", "value": "v"} for index in range(4)]

    invoice = client.v1.invoices.create(
        params={"customer": customer, "footer": "Thanks", "custom_fields": fields}
    )
    with pytest.raises(stripe.InvalidRequestError) as too_many:
        client.v1.invoices.update(
            invoice.id, params={"custom_fields": [*fields, {"name": "Five", "value": "v"}]}
        )
    with pytest.raises(stripe.InvalidRequestError) as too_long:
        client.v1.invoices.update(invoice.id, params={"custom_fields": [{"name": "n" * 41, "value": "v"}]})
    cleared = client.v1.invoices.update(invoice.id, params={"custom_fields": ""})

    assert invoice.footer == "Thanks"
    assert [field["name"] for field in invoice.to_dict()["custom_fields"]] == [f"Field {i}" for i in range(4)]
    assert _error(too_many)["param"] == "custom_fields"
    assert _error(too_long)["param"] == "custom_fields[0][name]"
    assert cleared.custom_fields is None


def test_invoice_item_period_end_before_start_is_refused(
    client: stripe.StripeClient, admin: AdminClient
) -> None:
    customer = _customer(client)

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoice_items.create(
            params={
                "customer": customer,
                "amount": 100,
                "currency": "usd",
                "period": {"start": 200, "end": 100},
            }
        )

    assert _error(exc)["param"] == "period[end]"
    assert admin.state()["invoiceitems"] == {}

"""Credit notes: adjust a finalized (open or paid) invoice without voiding it, as Stripe does.

Rules from https://docs.stripe.com/api/credit_notes/create and https://docs.stripe.com/invoicing/dashboard/credit-notes:
a credit note first lowers the invoice's `amount_remaining` (and `amount_due`), never below zero: that part is its
`pre_payment_amount`. The rest, `post_payment_amount`, must be split exactly into `refund_amount` (a Refund),
`credit_amount` (a customer balance credit, applied to the next invoice at finalization) and `out_of_band_amount`.
An open invoice whose remaining amount reaches zero is marked paid. A credit note can be voided only while its
invoice is open (https://docs.stripe.com/api/credit_notes/void), which gives the amount back to the invoice.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from . import balance
from .currencies import check_amount
from .errors import ApiError, invalid, no_such, validation
from .objects import JSON, RequestContext, from_shape, new_id, paginate
from .params import Params, merge_metadata
from .state import LINES_EMBEDDED, Store

REASONS = ("duplicate", "fraudulent", "order_change", "product_unsatisfactory")
_CREATE_PARAMS = (
    "invoice",
    "amount",
    "lines",
    "credit_amount",
    "refund_amount",
    "out_of_band_amount",
    "reason",
    "memo",
    "metadata",
    "effective_at",
    "email_type",
)
_LINE_PARAMS = {
    "custom_line_item": ("type", "description", "quantity", "unit_amount", "unit_amount_decimal", "metadata"),
    "invoice_line_item": ("type", "invoice_line_item", "amount", "quantity", "metadata"),
}


@dataclass
class _Composed:
    """A credit note worked out from the request, before anything is changed."""

    invoice: JSON
    credit_note: JSON
    lines: list[JSON]
    pre_payment: int
    credit_amount: int
    refund_amount: int


# ---------------------------------------------------------------------- endpoints


def create(store: Store, params: Params, ctx: RequestContext) -> JSON:
    composed = _compose(store, params)
    invoice, credit_note = composed.invoice, composed.credit_note
    store.credit_notes[credit_note["id"]] = credit_note
    store.credit_note_lines[credit_note["id"]] = composed.lines
    if composed.credit_amount:
        transaction = balance.record(
            store,
            store.customers[invoice["customer"]],
            amount=-composed.credit_amount,
            currency=invoice["currency"],
            type_="credit_note",
            invoice=invoice["id"],
            credit_note=credit_note["id"],
        )
        credit_note["customer_balance_transaction"] = transaction["id"]
    if composed.refund_amount:
        refund = _refund(store, invoice, composed.refund_amount)
        credit_note["refunds"] = [
            {
                "amount_refunded": refund["amount"],
                "payment_record_refund": None,
                "refund": refund["id"],
                "type": "refund",
            }
        ]
        store.emit("refund.created", refund, ctx)
    invoice["amount_due"] -= composed.pre_payment
    invoice["amount_remaining"] -= composed.pre_payment
    invoice["pre_payment_credit_notes_amount"] += composed.pre_payment
    invoice["post_payment_credit_notes_amount"] += credit_note["post_payment_amount"]
    store.emit("credit_note.created", render(store, credit_note["id"]), ctx)
    store.emit("invoice.updated", store.render_invoice(invoice["id"]), ctx)
    if invoice["status"] == "open" and invoice["amount_remaining"] == 0:
        # "If a credit note reduces the balance of an open invoice to zero, the invoice is marked as paid."
        store._mark_paid(invoice, ctx, charged=False)
    return store.expand(render(store, credit_note["id"]), params.expand())


def preview(store: Store, params: Params) -> JSON:
    """GET /v1/credit_notes/preview: the credit note `create` would make, changing nothing."""
    composed = _compose(store, params)
    rendered = copy.deepcopy(composed.credit_note)
    rendered["lines"] = _lines_list(composed.lines, f"/v1/credit_notes/{rendered['id']}/lines")
    return store.expand(rendered, params.expand())


def retrieve(store: Store, credit_note_id: str, params: Params) -> JSON:
    params.allow()
    _credit_note(store, credit_note_id)
    return store.expand(render(store, credit_note_id), params.expand())


def update(store: Store, credit_note_id: str, params: Params, ctx: RequestContext) -> JSON:
    params.allow("memo", "metadata")
    credit_note = _credit_note(store, credit_note_id)
    memo = params.string("memo")
    metadata = params.metadata()
    if memo is not None:
        credit_note["memo"] = memo or None
    credit_note["metadata"] = merge_metadata(credit_note["metadata"], metadata)
    rendered = render(store, credit_note_id)
    store.emit("credit_note.updated", rendered, ctx)
    return store.expand(rendered, params.expand())


def void(store: Store, credit_note_id: str, params: Params, ctx: RequestContext) -> JSON:
    params.allow()
    credit_note = _credit_note(store, credit_note_id)
    if credit_note["status"] == "void":
        raise invalid(f"Credit note {credit_note_id} has already been voided.")
    invoice = store.invoices[credit_note["invoice"]]
    if invoice["status"] != "open":
        raise invalid(
            f"You can only void a credit note if the associated invoice is open; invoice {invoice['id']} is "
            f"{invoice['status']}."
        )
    pre_payment = credit_note["pre_payment_amount"]
    invoice["amount_due"] += pre_payment
    invoice["amount_remaining"] += pre_payment
    invoice["pre_payment_credit_notes_amount"] -= pre_payment
    invoice["post_payment_credit_notes_amount"] -= credit_note["post_payment_amount"]
    if credit_note["customer_balance_transaction"] is not None:
        credited = next(
            transaction
            for transaction in store.balance_transactions[invoice["customer"]]
            if transaction["id"] == credit_note["customer_balance_transaction"]
        )
        balance.record(
            store,
            store.customers[invoice["customer"]],
            amount=-credited["amount"],
            currency=invoice["currency"],
            type_="credit_note",
            invoice=invoice["id"],
            credit_note=credit_note_id,
        )
    credit_note.update(status="void", voided_at=store.now())
    rendered = render(store, credit_note_id)
    store.emit("credit_note.voided", rendered, ctx)
    store.emit("invoice.updated", store.render_invoice(invoice["id"]), ctx)
    return store.expand(rendered, params.expand())


def list_credit_notes(store: Store, params: Params) -> JSON:
    """Newest first; filters `invoice` and `customer`."""
    params.allow("invoice", "customer", "limit", "starting_after", "ending_before")
    invoice_id, customer_id = params.string("invoice"), params.string("customer")
    ids = [
        credit_note_id
        for credit_note_id, credit_note in reversed(store.credit_notes.items())
        if (invoice_id is None or credit_note["invoice"] == invoice_id)
        and (customer_id is None or credit_note["customer"] == customer_id)
    ]
    page, has_more = paginate(ids, params)
    listing = {
        "data": [render(store, credit_note_id) for credit_note_id in page],
        "has_more": has_more,
        "object": "list",
        "url": "/v1/credit_notes",
    }
    return store.expand(listing, params.expand())


def list_lines(store: Store, credit_note_id: str, params: Params) -> JSON:
    params.allow("limit", "starting_after", "ending_before")
    _credit_note(store, credit_note_id)
    lines = {line["id"]: line for line in store.credit_note_lines[credit_note_id]}
    page, has_more = paginate(list(lines), params)
    return {
        "data": [copy.deepcopy(lines[line_id]) for line_id in page],
        "has_more": has_more,
        "object": "list",
        "url": f"/v1/credit_notes/{credit_note_id}/lines",
    }


def render(store: Store, credit_note_id: str) -> JSON:
    credit_note = copy.deepcopy(store.credit_notes[credit_note_id])
    credit_note["lines"] = _lines_list(
        store.credit_note_lines[credit_note_id], f"/v1/credit_notes/{credit_note_id}/lines"
    )
    return credit_note


# ---------------------------------------------------------------------- the rules


def _compose(store: Store, params: Params) -> _Composed:
    params.allow(*_CREATE_PARAMS)
    invoice_id = params.string("invoice", required=True)
    assert invoice_id is not None
    invoice = store.invoices.get(invoice_id)
    if invoice is None:
        raise no_such("invoice", invoice_id, param="invoice", status=400)
    currency = invoice["currency"]
    amount = params.integer("amount")
    raw_lines = params.raw.get("lines")
    if amount is not None and raw_lines is not None:
        raise validation("You may only specify one of these parameters: amount, lines.", param="amount")
    if amount is None and raw_lines is None:
        raise validation(
            "One of `amount`, `lines`, or `shipping_cost` must be provided.",
            param="amount",
            code="parameter_missing",
        )
    lines = _compose_lines(store, invoice, raw_lines) if raw_lines is not None else []
    if amount is not None:
        check_amount(amount, currency, param="amount")
    total = amount if amount is not None else sum(line["amount"] for line in lines)
    split = {name: params.integer(name, minimum=0) or 0 for name in ("credit_amount", "refund_amount")}
    out_of_band = params.integer("out_of_band_amount", minimum=0)
    for name, value in (*split.items(), ("out_of_band_amount", out_of_band or 0)):
        check_amount(value, currency, param=name)
    reason = params.choice("reason", REASONS)
    memo = params.string("memo")
    metadata = params.metadata()
    effective_at = params.integer("effective_at", minimum=0)
    params.choice("email_type", ("credit_note", "none"))

    if invoice["status"] not in ("open", "paid"):
        raise invalid(
            f"Credit notes can only be issued for open or paid invoices; invoice {invoice_id} is "
            f"{invoice['status']}.",
            param="invoice",
        )
    if total <= 0:
        raise invalid("The credit note amount must be greater than 0.", param="amount" if amount else "lines")
    credited = sum(
        note["total"]
        for note in store.credit_notes.values()
        if note["invoice"] == invoice_id and note["status"] == "issued"
    )
    if total > invoice["total"] - credited:
        raise invalid(
            f"The credit note amount ({total}) is greater than the amount that can still be credited on invoice "
            f"{invoice_id} ({invoice['total'] - credited}): the credit notes of an invoice cannot exceed its total.",
            param="amount" if amount is not None else "lines",
        )
    pre_payment = min(total, invoice["amount_remaining"]) if invoice["status"] == "open" else 0
    post_payment = total - pre_payment
    given = split["credit_amount"] + split["refund_amount"] + (out_of_band or 0)
    if given != post_payment:
        raise invalid(
            f"The sum of credit_amount, refund_amount and out_of_band_amount ({given}) must equal the credit "
            f"note's post_payment_amount ({post_payment}): of its total ({total}), {pre_payment} lowers the "
            "invoice's amount remaining.",
            param="credit_amount",
        )
    refundable = invoice["amount_paid"] - sum(
        refund["amount_refunded"]
        for note in store.credit_notes.values()
        if note["invoice"] == invoice_id
        for refund in note["refunds"]
    )
    if split["refund_amount"] > refundable:
        raise invalid(
            f"Refund amount ({split['refund_amount']}) is greater than unrefunded amount on the invoice's payment "
            f"({refundable}).",
            param="refund_amount",
        )

    now = store.now()
    sequence = 1 + sum(1 for note in store.credit_notes.values() if note["invoice"] == invoice_id)
    credit_note_id = new_id("cn_")
    credit_note = from_shape(
        "credit_note",
        {
            "amount": total,
            "amount_shipping": 0,
            "created": now,
            "currency": currency,
            "customer": invoice["customer"],
            "customer_account": None,
            "customer_balance_transaction": None,
            "discount_amount": 0,
            "discount_amounts": [],
            "effective_at": effective_at if effective_at is not None else now,
            "id": credit_note_id,
            "invoice": invoice_id,
            "lines": None,  # rendered from store.credit_note_lines
            "livemode": False,
            "memo": memo or None,
            "metadata": merge_metadata({}, metadata),
            "number": f"{invoice['number']}-CN-{sequence:02d}",
            "object": "credit_note",
            "out_of_band_amount": out_of_band,
            "pdf": f"https://pay.stripe.com/credit_notes/local_test/{credit_note_id}/pdf",
            "post_payment_amount": post_payment,
            "pre_payment_amount": pre_payment,
            "pretax_credit_amounts": [],
            "reason": reason,
            "refunds": [],
            "shipping_cost": None,
            "status": "issued",
            "subtotal": total,
            "subtotal_excluding_tax": total,
            "total": total,
            "total_excluding_tax": total,
            "total_taxes": [],
            "type": _credit_note_type(pre_payment, post_payment),
            "voided_at": None,
        },
    )
    return _Composed(invoice, credit_note, lines, pre_payment, split["credit_amount"], split["refund_amount"])


def _credit_note_type(pre_payment: int, post_payment: int) -> str:
    if pre_payment and post_payment:
        return "mixed"
    return "pre_payment" if pre_payment else "post_payment"


def _compose_lines(store: Store, invoice: JSON, raw_lines: Any) -> list[JSON]:
    if not isinstance(raw_lines, list) or not raw_lines:
        raise validation("Invalid array", param="lines")
    lines = [_compose_line(store, invoice, index, raw) for index, raw in enumerate(raw_lines)]
    # Per invoice line: this credit note plus the issued ones before it cannot credit more than the line.
    for line in lines:
        target = line["invoice_line_item"]
        if target is None:
            continue
        invoice_line = next(item for item in store.lines[invoice["id"]] if item["id"] == target)
        before = [
            item
            for note_id, note in store.credit_notes.items()
            if note["status"] == "issued"
            for item in store.credit_note_lines[note_id]
            if item["invoice_line_item"] == target
        ]
        now = [item for item in lines if item["invoice_line_item"] == target]
        if sum(item["amount"] for item in before + now) > invoice_line["amount"]:
            raise invalid(
                f"The amount credited on invoice line {target} cannot exceed its amount ({invoice_line['amount']}).",
                param="lines",
            )
    return lines


def _compose_line(store: Store, invoice: JSON, index: int, raw: Any) -> JSON:
    prefix = f"lines[{index}]"
    if not isinstance(raw, dict):
        raise validation("Invalid object", param=prefix)
    line = Params(raw)
    try:
        type_ = line.choice("type", tuple(_LINE_PARAMS))
        if type_ is None:
            line.string("type", required=True)
        assert type_ is not None
        for name in raw:
            if name not in _LINE_PARAMS[type_]:
                other = next(kind for kind in _LINE_PARAMS if kind != type_)
                if name in _LINE_PARAMS[other]:
                    raise validation(
                        f"{prefix}[{name}] is only valid when {prefix}[type] is {other}.", param=name
                    )
                raise validation(
                    f"Received unknown parameter: {prefix}[{name}]", param=name, code="parameter_unknown"
                )
        metadata = line.metadata()
        quantity = line.integer("quantity", minimum=1)
        if type_ == "custom_line_item":
            unit_amount = line.integer("unit_amount")
            unit_decimal = line.decimal("unit_amount_decimal")
            if unit_amount is not None and unit_decimal is not None:
                raise validation(
                    "You may only specify one of these parameters: unit_amount, unit_amount_decimal.",
                    param="unit_amount",
                )
            if unit_amount is None and unit_decimal is None:
                line.integer("unit_amount", required=True)
            unit = Decimal(unit_amount) if unit_amount is not None else unit_decimal
            assert unit is not None
            count = quantity or 1
            amount = int((unit * count).quantize(Decimal(1), rounding=ROUND_HALF_UP))
            check_amount(amount, invoice["currency"], param="unit_amount")
            return _line(
                amount=amount,
                description=line.string("description"),
                invoice_line_item=None,
                metadata=metadata,
                quantity=count,
                type_=type_,
                unit_amount=unit_amount if unit_amount is not None else int(unit),
                unit_amount_decimal=format(unit.normalize(), "f"),
            )
        target = line.string("invoice_line_item", required=True)
        invoice_line = next((item for item in store.lines[invoice["id"]] if item["id"] == target), None)
        if invoice_line is None:
            raise no_such("invoice line item", str(target), param="invoice_line_item", status=400)
        credited = line.integer("amount", minimum=0)
        if credited is not None and quantity is not None:
            raise validation(
                "You may only specify one of these parameters: amount, quantity.", param="amount"
            )
        if credited is None and quantity is None:
            line.integer("amount", required=True)
        if quantity is not None:
            if quantity > invoice_line["quantity"]:
                raise invalid(
                    f"The quantity credited ({quantity}) cannot exceed the invoice line's quantity "
                    f"({invoice_line['quantity']}).",
                    param="quantity",
                )
            unit = Decimal(invoice_line["pricing"]["unit_amount_decimal"])
            credited = int((unit * quantity).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        assert credited is not None
        check_amount(credited, invoice["currency"], param="amount")
        return _line(
            amount=credited,
            description=invoice_line["description"],
            invoice_line_item=target,
            metadata=metadata,
            quantity=quantity if quantity is not None else 1,
            type_=type_,
            unit_amount=None,
            unit_amount_decimal=None,
        )
    except ApiError as exc:
        if exc.param is not None and not exc.param.startswith("lines["):
            exc.param = f"{prefix}[{exc.param}]"
        raise


def _line(
    *,
    amount: int,
    description: str | None,
    invoice_line_item: str | None,
    metadata: dict[str, str] | None,
    quantity: int,
    type_: str,
    unit_amount: int | None,
    unit_amount_decimal: str | None,
) -> JSON:
    return from_shape(
        "credit_note_line_item",
        {
            "amount": amount,
            "description": description,
            "discount_amount": 0,
            "discount_amounts": [],
            "id": new_id("cnli_"),
            "invoice_line_item": invoice_line_item,
            "livemode": False,
            "metadata": merge_metadata({}, metadata),
            "object": "credit_note_line_item",
            "pretax_credit_amounts": [],
            "quantity": quantity,
            "tax_rates": [],
            "taxes": [],
            "type": type_,
            "unit_amount": unit_amount,
            "unit_amount_decimal": unit_amount_decimal,
        },
    )


def _refund(store: Store, invoice: JSON, amount: int) -> JSON:
    """A succeeded Refund of the invoice's payment; the server models no Charge, so `charge` stays null."""
    refund = from_shape(
        "refund",
        {
            "amount": amount,
            "balance_transaction": None,
            "charge": None,
            "created": store.now(),
            "currency": invoice["currency"],
            "customer": invoice["customer"],
            "customer_account": None,
            "destination_details": {"card": {"type": "refund"}, "type": "card"},
            "id": new_id("re_"),
            "metadata": {},
            "object": "refund",
            "payment_intent": None,
            "payment_method": None,
            "reason": None,
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": "succeeded",
            "transfer_reversal": None,
        },
    )
    store.refunds[refund["id"]] = refund
    return refund


def _credit_note(store: Store, credit_note_id: str) -> JSON:
    credit_note = store.credit_notes.get(credit_note_id)
    if credit_note is None:
        raise no_such("credit_note", credit_note_id, param="id")
    return credit_note


def _lines_list(lines: list[JSON], url: str) -> JSON:
    return {
        "data": copy.deepcopy(lines[:LINES_EMBEDDED]),
        "has_more": len(lines) > LINES_EMBEDDED,
        "object": "list",
        "url": url,
    }

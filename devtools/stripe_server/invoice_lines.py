"""Bulk add invoice line items: POST /v1/invoices/{id}/add_lines (https://docs.stripe.com/api/invoice-line-item/bulk).

Only on drafts (https://docs.stripe.com/invoicing/bulk-update-line-item). Each line either creates an invoice item on
the invoice (`amount`, `description`, `discountable`, `metadata`, `period`, `quantity`; the same rules as
POST /v1/invoiceitems, zero amounts included) or assigns an unassigned one (`invoice_item`). The request is all or
nothing: the lines are tried on a scratch copy of the customer and invoice first, so a bad line N never leaves
lines 1..N-1 behind.
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import ApiError, invalid, no_such, validation
from .invoice_rules import check_line_room
from .objects import JSON, RequestContext
from .params import Params, merge_metadata
from .state import Store

_NEW_ITEM_PARAMS = ("amount", "description", "discountable", "metadata", "period", "quantity")


def add_lines(store: Store, invoice_id: str, params: Params, ctx: RequestContext) -> JSON:
    params.allow("lines", "invoice_metadata")
    invoice = store.invoices.get(invoice_id)
    if invoice is None:
        raise no_such("invoice", invoice_id, param="id")
    raw_lines = params.raw.get("lines")
    if raw_lines is None:
        params.string("lines", required=True)
    if not isinstance(raw_lines, list) or not raw_lines:
        raise validation("Invalid array", param="lines")
    invoice_metadata = (
        Params({"metadata": params.raw["invoice_metadata"]}).metadata()
        if params.has("invoice_metadata")
        else None
    )
    if invoice["status"] != "draft":
        raise invalid(
            f"Invoice {invoice_id} is no longer editable: you can only add lines to draft invoices.",
            param="invoice",
            code="invoice_not_editable",
        )
    check_line_room(invoice_id, len(store.lines[invoice_id]), len(raw_lines), param="lines")
    _add(_scratch(store, invoice), invoice_id, raw_lines, ctx)
    _add(store, invoice_id, raw_lines, ctx)
    invoice["metadata"] = merge_metadata(invoice["metadata"], invoice_metadata)
    store.emit("invoice.updated", store.render_invoice(invoice_id), ctx)
    return store.expand(store.render_invoice(invoice_id), params.expand())


def _add(store: Store, invoice_id: str, raw_lines: list[Any], ctx: RequestContext) -> None:
    invoice = store.invoices[invoice_id]
    for index, raw in enumerate(raw_lines):
        prefix = f"lines[{index}]"
        try:
            if not isinstance(raw, dict):
                raise validation("Invalid object", param="")
            for name in raw:
                if name not in (*_NEW_ITEM_PARAMS, "invoice_item"):
                    raise validation(
                        f"Received unknown parameter: {prefix}[{name}]", param=name, code="parameter_unknown"
                    )
            if "invoice_item" in raw:
                _assign(store, invoice, raw)
                continue
            if "amount" not in raw:
                raise validation(
                    f"Missing required param: {prefix}[amount].", param="amount", code="parameter_missing"
                )
            item_params = {**raw, "customer": invoice["customer"], "invoice": invoice_id}
            store.create_invoiceitem(Params(item_params), ctx)
        except ApiError as exc:
            exc.param = f"{prefix}[{exc.param}]" if exc.param else prefix
            raise


def _assign(store: Store, invoice: JSON, raw: dict[str, Any]) -> None:
    """Attach an unassigned invoice item of the same customer and currency (an `ii_…`, never an `il_…`)."""
    if set(raw) != {"invoice_item"}:
        extra = sorted(set(raw) - {"invoice_item"})[0]
        raise validation(f"You cannot pass {extra} together with invoice_item.", param=extra)
    item_id = Params(raw).string("invoice_item", required=True)
    assert item_id is not None
    item = store.invoiceitems.get(item_id)
    if item is None:
        raise no_such("invoiceitem", item_id, param="invoice_item", status=400)
    if item["customer"] != invoice["customer"]:
        raise invalid(f"The invoice item {item_id} belongs to a different customer.", param="invoice_item")
    if item["invoice"] is not None:
        raise invalid(
            f"The invoice item {item_id} is already attached to invoice {item['invoice']}.",
            param="invoice_item",
        )
    if item["currency"] != invoice["currency"]:
        raise invalid(
            f"The currency of the invoice item ({item['currency']}) must match the currency of the invoice "
            f"({invoice['currency']}).",
            param="invoice_item",
        )
    store._attach_item(item, invoice["id"])
    store._recompute(invoice["id"])


def _scratch(store: Store, invoice: JSON) -> Store:
    """A throwaway store holding copies of just what the lines touch; it has no event sink."""
    scratch = Store(clock=store.clock)
    customer_id = invoice["customer"]
    scratch.customers = {customer_id: copy.deepcopy(store.customers[customer_id])}
    scratch.invoices = {invoice["id"]: copy.deepcopy(invoice)}
    scratch.lines = {invoice["id"]: copy.deepcopy(store.lines[invoice["id"]])}
    scratch.invoiceitems = {
        item_id: copy.deepcopy(item)
        for item_id, item in store.invoiceitems.items()
        if item["customer"] == customer_id and item["invoice"] is None
    }
    return scratch

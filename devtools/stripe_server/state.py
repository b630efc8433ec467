"""In-memory Stripe objects and the invoice state machine; no library models Stripe Billing's semantics.

Every response object starts from Stripe's own example object (shapes.json, copied from the `stripe/openapi`
fixtures) and must set every one of its fields, so the shapes cannot drift from Stripe's. Callers hold the
server's lock around every method here.
"""

from __future__ import annotations

import copy
import secrets
import time
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

from . import balance, invoice_rules, taxes
from .checkout import Checkout
from .collection import Collection
from .currencies import check_amount, minimum_charge
from .errors import invalid, no_such, validation
from .objects import JSON as JSON
from .objects import SHAPES as SHAPES
from .objects import RequestContext as RequestContext
from .objects import from_shape as from_shape
from .objects import new_id as new_id
from .objects import paginate
from .params import Params, merge_metadata
from .payments import NO_PAYMENT_METHOD, Wallet, not_attached

DAY = 86_400
LINES_EMBEDDED = 10  # Stripe embeds the first 10 lines in an invoice; the rest via /v1/invoices/{id}/lines.


EventSink = Callable[[JSON], int]


class Store:
    """Customers, invoices, invoice items, their lines and the events they emit."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.customers: dict[str, JSON] = {}
        self.invoices: dict[str, JSON] = {}
        self.invoiceitems: dict[str, JSON] = {}
        self.lines: dict[str, list[JSON]] = {}  # invoice id -> line_item objects, in creation order
        self.events: list[JSON] = []
        self._days_until_due: dict[str, int | None] = {}
        # Invoicing side (credit_notes.py, balance.py): credit notes with their lines, balance ledgers, refunds.
        self.credit_notes: dict[str, JSON] = {}
        self.credit_note_lines: dict[str, list[JSON]] = {}
        self.balance_transactions: dict[str, list[JSON]] = {}  # customer id -> ledger, oldest first
        self.refunds: dict[str, JSON] = {}
        # Payments side: payment methods (payments.py), Checkout and SetupIntents (checkout.py), the automatic
        # collection Stripe runs as time passes (collection.py).
        self.wallet = Wallet(self)
        self.checkout = Checkout(self)
        self.collection = Collection(self)
        # Tax side (taxes.py): customers' tax IDs, the account's test tax rates, the txr_ id of each rate used.
        self.tax_ids: dict[str, JSON] = {}
        self.tax_rates: dict[str, Decimal] = dict(taxes.DEFAULT_TAX_RATES)
        self.tax_rate_ids: dict[str, str] = {}
        # A connected account's events carry `account` (https://docs.stripe.com/connect/webhooks); None otherwise.
        self.event_account: str | None = None
        # Called with each new event; returns how many webhook endpoints will receive it (pending_webhooks).
        self.event_sink: EventSink | None = None

    def now(self) -> int:
        return int(self.clock())

    # ------------------------------------------------------------------ rendering

    def dump(self) -> JSON:
        return {
            "customers": copy.deepcopy(self.customers),
            "invoices": {invoice_id: self.render_invoice(invoice_id) for invoice_id in self.invoices},
            "invoiceitems": copy.deepcopy(self.invoiceitems),
            "events": copy.deepcopy(self.events),
            "payment_methods": copy.deepcopy(self.wallet.payment_methods),
            "checkout_sessions": copy.deepcopy(self.checkout.sessions),
            "setup_intents": copy.deepcopy(self.checkout.setup_intents),
            "credit_notes": copy.deepcopy(self.credit_notes),
            "balance_transactions": copy.deepcopy(self.balance_transactions),
            "refunds": copy.deepcopy(self.refunds),
            "tax_ids": copy.deepcopy(self.tax_ids),
        }

    def render_invoice(self, invoice_id: str) -> JSON:
        invoice = copy.deepcopy(self.invoices[invoice_id])
        lines = self.lines[invoice_id]
        invoice["lines"] = {
            "data": copy.deepcopy(lines[:LINES_EMBEDDED]),
            "has_more": len(lines) > LINES_EMBEDDED,
            "object": "list",
            "url": f"/v1/invoices/{invoice_id}/lines",
        }
        return invoice

    def expand(self, obj: JSON, paths: list[str]) -> JSON:
        """Replace id references named by `expand[]` with the objects (customer, invoice); `data.x` in lists."""
        for path in paths:
            target, field = (
                (obj.get("data"), path[len("data.") :]) if path.startswith("data.") else ([obj], path)
            )
            for item in target if isinstance(target, list) else []:
                value = item.get(field)
                if field == "customer" and isinstance(value, str) and value in self.customers:
                    item[field] = copy.deepcopy(self.customers[value])
                elif field == "invoice" and isinstance(value, str) and value in self.invoices:
                    item[field] = self.render_invoice(value)
                elif field not in ("customer", "invoice") or (
                    value is not None and not isinstance(value, dict)
                ):
                    raise validation(f"This property cannot be expanded ({path}).", param="expand")
        return obj

    # ------------------------------------------------------------------ events

    def emit(self, type_: str, obj: JSON, ctx: RequestContext) -> JSON:
        event = from_shape(
            "event",
            {
                "api_version": ctx.api_version,
                "created": self.now(),
                "data": {"object": copy.deepcopy(obj)},
                "id": new_id("evt_"),
                "livemode": False,
                "object": "event",
                "pending_webhooks": 0,
                "request": {"id": ctx.request_id, "idempotency_key": ctx.idempotency_key},
                "type": type_,
            },
        )
        if self.event_account is not None:
            event["account"] = self.event_account  # Connect events only; not in the example object
        self.events.append(event)
        if self.event_sink is not None:
            self.event_sink(event)
        return event

    def _emit_invoice(self, type_: str, invoice_id: str, ctx: RequestContext) -> None:
        self.emit(type_, self.render_invoice(invoice_id), ctx)

    # ------------------------------------------------------------------ customers

    def create_customer(self, params: Params, ctx: RequestContext) -> JSON:
        params.allow(
            "email",
            "name",
            "description",
            "phone",
            "metadata",
            "invoice_settings",
            "payment_method",
            "address",
            "tax_exempt",
            "tax_id_data",
        )
        address = taxes.address_param(params, current=None)
        tax_exempt = params.choice("tax_exempt", ("none", "exempt", "reverse"), default="none")
        tax_id_data = params.raw.get("tax_id_data", [])
        if not isinstance(tax_id_data, list):
            raise validation("Invalid array", param="tax_id_data")
        tax_id_values = [
            taxes.checked_tax_id(raw, param=f"tax_id_data[{index}]") for index, raw in enumerate(tax_id_data)
        ]
        settings = params.mapping("invoice_settings", allowed=("default_payment_method",)) or {}
        token = params.string("payment_method") or None
        default = settings.get("default_payment_method") or None
        if default is not None and default != token:
            # A new customer's only payment method is the one attached by `payment_method` (the test-mode idiom
            # passes the same token to both, and both then name the one new PaymentMethod).
            raise not_attached(default, param="invoice_settings[default_payment_method]")
        payment_method = self.wallet.prepare(token, param="payment_method") if token else None
        customer_id = new_id("cus_", 14)
        customer = from_shape(
            "customer",
            {
                "address": address,
                "balance": 0,
                "created": self.now(),
                "currency": None,
                "default_source": None,
                "delinquent": False,
                "description": params.string("description"),
                "discount": None,
                "email": params.string("email", max_length=512),
                "id": customer_id,
                "invoice_prefix": secrets.token_hex(4).upper(),
                "invoice_settings": {
                    "custom_fields": None,
                    "default_payment_method": payment_method["id"] if payment_method and default else None,
                    "footer": None,
                    "rendering_options": None,
                },
                "livemode": False,
                "metadata": merge_metadata({}, params.metadata()),
                "name": params.string("name", max_length=256),
                "next_invoice_sequence": 1,
                "object": "customer",
                "phone": params.string("phone", max_length=20),
                "preferred_locales": [],
                "shipping": None,
                "tax_exempt": tax_exempt,
                "test_clock": None,
            },
        )
        self.customers[customer_id] = customer
        self.emit("customer.created", customer, ctx)
        for type_, value, country in tax_id_values:
            self.emit(
                "customer.tax_id.created", taxes.new_tax_id(self, customer_id, type_, value, country), ctx
            )
        if payment_method is not None:
            self.wallet.attach(payment_method, customer_id, ctx)
        return self.expand(copy.deepcopy(customer), params.expand())

    def get_customer(self, customer_id: str, params: Params) -> JSON:
        params.allow()
        if customer_id not in self.customers:
            raise no_such("customer", customer_id, param="id")
        return self.expand(copy.deepcopy(self.customers[customer_id]), params.expand())

    def _customer_param(self, params: Params) -> JSON:
        customer_id = params.string("customer", required=True)
        assert customer_id is not None
        customer = self.customers.get(customer_id)
        if customer is None:
            raise no_such("customer", customer_id, param="customer", status=400)
        return customer

    # ------------------------------------------------------------------ invoices

    def create_invoice(self, params: Params, ctx: RequestContext) -> JSON:
        params.allow(
            "customer",
            "auto_advance",
            "collection_method",
            "days_until_due",
            "due_date",
            "pending_invoice_items_behavior",
            "currency",
            "metadata",
            "description",
            "default_payment_method",
            "automatic_tax",
            *invoice_rules.CUSTOMER_FACING,
        )
        customer = self._customer_param(params)
        automatic_tax = bool(taxes.automatic_tax_param(params, customer))
        shown = invoice_rules.customer_facing_fields(params, invoice_id=None, invoices=self.invoices)
        method = params.choice("collection_method", ("charge_automatically", "send_invoice"))
        method = method or "charge_automatically"
        days = params.integer("days_until_due", minimum=0)
        due_date = params.integer("due_date", minimum=0)
        if method == "send_invoice" and days is None and due_date is None:
            raise validation(
                "Missing required param: days_until_due. Invoices with collection_method=send_invoice need "
                "days_until_due or due_date.",
                param="days_until_due",
                code="parameter_missing",
            )
        if method == "charge_automatically" and (days is not None or due_date is not None):
            param = "days_until_due" if days is not None else "due_date"
            raise validation(f"You can only set {param} when collection_method is send_invoice.", param=param)
        if days is not None and due_date is not None:
            raise validation("You cannot set both days_until_due and due_date.", param="due_date")
        behaviour = params.choice("pending_invoice_items_behavior", ("include", "exclude"), default="exclude")
        payment_method = params.string("default_payment_method") or None
        if payment_method is not None:
            self.wallet.owned(payment_method, customer["id"], param="default_payment_method")
        auto_advance = bool(params.boolean("auto_advance"))
        currency = params.currency() or customer["currency"] or "usd"
        now = self.now()
        invoice_id = new_id("in_")
        invoice = from_shape(
            "invoice",
            {
                "account_country": "US",
                "account_name": "Verity (local Stripe)",
                "account_tax_ids": None,
                "amount_due": 0,
                "amount_overpaid": 0,
                "amount_paid": 0,
                "amount_remaining": 0,
                "amount_shipping": 0,
                "application": None,
                "attempt_count": 0,
                "attempted": False,
                "auto_advance": auto_advance,
                "automatic_tax": taxes.automatic_tax_field(automatic_tax),
                "automatically_finalizes_at": now + 3600 if auto_advance else None,
                "billing_reason": "manual",
                "collection_method": method,
                "created": now,
                "currency": currency,
                "custom_fields": None,
                "customer": customer["id"],
                "customer_account": None,
                "customer_address": copy.deepcopy(customer["address"]),
                "customer_email": customer["email"],
                "customer_name": customer["name"],
                "customer_phone": customer["phone"],
                "customer_shipping": None,
                "customer_tax_exempt": customer["tax_exempt"],
                "customer_tax_ids": [],
                "default_payment_method": payment_method,
                "default_source": None,
                "default_tax_rates": [],
                "description": params.string("description", max_length=1500),
                "discounts": [],
                "due_date": due_date
                if due_date is not None
                else (now + days * DAY if days is not None else None),
                "effective_at": None,
                "ending_balance": None,
                "footer": None,
                "from_invoice": None,
                "hosted_invoice_url": None,
                "id": invoice_id,
                "invoice_pdf": None,
                "issuer": {"type": "self"},
                "last_finalization_error": None,
                "latest_revision": None,
                "lines": None,  # rendered from self.lines
                "livemode": False,
                "metadata": merge_metadata({}, params.metadata()),
                "next_payment_attempt": None,
                "number": None,
                "object": "invoice",
                "on_behalf_of": None,
                "parent": None,
                "payment_settings": {
                    "default_mandate": None,
                    "payment_method_options": None,
                    "payment_method_types": None,
                },
                "period_end": now,
                "period_start": now,
                "post_payment_credit_notes_amount": 0,
                "pre_payment_credit_notes_amount": 0,
                "receipt_number": None,
                "rendering": {
                    "amount_tax_display": None,
                    "pdf": {"page_size": "auto"},
                    "template": None,
                    "template_version": None,
                },
                "shipping_cost": None,
                "shipping_details": None,
                "starting_balance": 0,
                "statement_descriptor": None,
                "status": "draft",
                "status_transitions": {
                    "finalized_at": None,
                    "marked_uncollectible_at": None,
                    "paid_at": None,
                    "voided_at": None,
                },
                "subscription": None,
                "subtotal": 0,
                "subtotal_excluding_tax": 0,
                "test_clock": None,
                "total": 0,
                "total_discount_amounts": [],
                "total_excluding_tax": 0,
                "total_pretax_credit_amounts": [],
                "total_taxes": [],
                "webhooks_delivered_at": None,
            },
        )
        invoice.update(shown)
        self.invoices[invoice_id] = invoice
        self.lines[invoice_id] = []
        self._days_until_due[invoice_id] = days
        if customer["currency"] is None:
            customer["currency"] = currency
        if behaviour == "include":
            for item in self.invoiceitems.values():
                if (
                    item["customer"] == customer["id"]
                    and item["invoice"] is None
                    and item["currency"] == currency
                ):
                    self._attach_item(item, invoice_id)
        self._recompute(invoice_id)
        self._emit_invoice("invoice.created", invoice_id, ctx)
        return self.expand(self.render_invoice(invoice_id), params.expand())

    def _invoice(self, invoice_id: str) -> JSON:
        invoice = self.invoices.get(invoice_id)
        if invoice is None:
            raise no_such("invoice", invoice_id, param="id")
        return invoice

    def get_invoice(self, invoice_id: str, params: Params) -> JSON:
        params.allow()
        self._invoice(invoice_id)
        return self.expand(self.render_invoice(invoice_id), params.expand())

    def list_invoices(self, params: Params) -> JSON:
        params.allow("customer", "status", "collection_method", "limit", "starting_after", "ending_before")
        customer_id = params.string("customer")
        status = params.choice("status", ("draft", "open", "paid", "uncollectible", "void"))
        method = params.choice("collection_method", ("charge_automatically", "send_invoice"))
        ids = [
            invoice_id
            for invoice_id, invoice in self.invoices.items()
            if (customer_id is None or invoice["customer"] == customer_id)
            and (status is None or invoice["status"] == status)
            and (method is None or invoice["collection_method"] == method)
        ]
        ids.reverse()  # newest first, like Stripe
        page, has_more = _paginate(ids, params)
        listing = {
            "data": [self.render_invoice(invoice_id) for invoice_id in page],
            "has_more": has_more,
            "object": "list",
            "url": "/v1/invoices",
        }
        return self.expand(listing, params.expand())

    def update_invoice(self, invoice_id: str, params: Params, ctx: RequestContext) -> JSON:
        params.allow(
            "metadata",
            "description",
            "auto_advance",
            "days_until_due",
            "due_date",
            "default_payment_method",
            "automatic_tax",
            *invoice_rules.CUSTOMER_FACING,
        )
        invoice = self._invoice(invoice_id)
        draft_only = [
            name
            for name in ("days_until_due", "due_date", "default_payment_method", "number", "automatic_tax")
            if params.has(name)
        ]
        editable = ("description", "auto_advance", "footer", "custom_fields", "rendering")
        if invoice["status"] in ("paid", "void") and any(params.has(n) for n in editable):
            raise invalid(
                f"You can only update the metadata of a {invoice['status']} invoice.",
                param=next(n for n in editable if params.has(n)),
                code="invoice_not_editable",
            )
        if draft_only and invoice["status"] != "draft":
            raise invalid(
                f"This invoice is already finalized, you can't update {draft_only[0]}.",
                param=draft_only[0],
                code="invoice_already_finalized",
            )
        # Read and check everything before changing anything.
        days = params.integer("days_until_due", minimum=0)
        due_date = params.integer("due_date", minimum=0)
        token = params.string("default_payment_method") or None
        if token is not None:
            self.wallet.owned(token, invoice["customer"], param="default_payment_method")
        description = params.string("description", max_length=1500)
        auto_advance = params.boolean("auto_advance")
        metadata = params.metadata()
        shown = invoice_rules.customer_facing_fields(params, invoice_id=invoice_id, invoices=self.invoices)
        automatic_tax = taxes.automatic_tax_param(params, self.customers[invoice["customer"]])
        if (days is not None or due_date is not None) and invoice["collection_method"] != "send_invoice":
            raise validation(
                "You can only set a due date when collection_method is send_invoice.",
                param="days_until_due" if days is not None else "due_date",
            )
        if days is not None or due_date is not None:
            self._days_until_due[invoice_id] = days
            invoice["due_date"] = due_date if due_date is not None else invoice["created"] + (days or 0) * DAY
        if params.has("default_payment_method"):
            invoice["default_payment_method"] = token
        if description is not None:
            invoice["description"] = description or None
        if auto_advance is not None:
            invoice["auto_advance"] = auto_advance
            self.collection.auto_advance_changed(invoice)
        invoice.update(shown)
        if automatic_tax is not None:
            invoice["automatic_tax"] = taxes.automatic_tax_field(automatic_tax)
            self._recompute(invoice_id)
        invoice["metadata"] = merge_metadata(invoice["metadata"], metadata)
        self._emit_invoice("invoice.updated", invoice_id, ctx)
        return self.expand(self.render_invoice(invoice_id), params.expand())

    def list_lines(self, invoice_id: str, params: Params) -> JSON:
        params.allow("limit", "starting_after", "ending_before")
        self._invoice(invoice_id)
        lines = {line["id"]: line for line in self.lines[invoice_id]}
        page, has_more = _paginate(list(lines), params)
        return {
            "data": [copy.deepcopy(lines[line_id]) for line_id in page],
            "has_more": has_more,
            "object": "list",
            "url": f"/v1/invoices/{invoice_id}/lines",
        }

    # ------------------------------------------------------------------ invoice items

    def create_invoiceitem(self, params: Params, ctx: RequestContext) -> JSON:
        params.allow(
            "customer",
            "invoice",
            "amount",
            "currency",
            "description",
            "metadata",
            "quantity",
            "unit_amount_decimal",
            "period",
            "discountable",
        )
        customer = self._customer_param(params)
        amount = params.integer("amount")
        unit_amount = params.decimal("unit_amount_decimal")
        quantity = params.integer("quantity", minimum=0)
        if amount is not None and unit_amount is not None:
            raise validation(
                "You may only specify one of these parameters: amount, unit_amount_decimal.", param="amount"
            )
        if amount is None and unit_amount is None:
            raise validation(
                "Missing required param: amount. Specify amount or unit_amount_decimal.",
                param="amount",
                code="parameter_missing",
            )
        if amount is not None and quantity not in (None, 1):
            raise validation("You cannot specify quantity together with amount.", param="quantity")
        quantity = 1 if quantity is None else quantity
        if unit_amount is not None:
            amount = int((unit_amount * quantity).quantize(Decimal(1), rounding=ROUND_HALF_UP))
            unit_text = format(unit_amount.normalize(), "f")
        else:
            assert amount is not None
            unit_text = str(amount)
        invoice_id = params.string("invoice")
        invoice = None
        if invoice_id is not None:
            invoice = self.invoices.get(invoice_id)
            if invoice is None:
                raise no_such("invoice", invoice_id, param="invoice", status=400)
            if invoice["customer"] != customer["id"]:
                raise invalid(f"The invoice {invoice_id} belongs to a different customer.", param="invoice")
            if invoice["status"] != "draft":
                raise invalid(
                    f"Invoice {invoice_id} is no longer editable: you can only add invoice items to draft invoices.",
                    param="invoice",
                    code="invoice_not_editable",
                )
            invoice_rules.check_line_room(invoice_id, len(self.lines[invoice_id]), 1, param="invoice")
        currency = params.currency() or (invoice["currency"] if invoice else None) or customer["currency"]
        if currency is None:
            raise validation("Missing required param: currency.", param="currency", code="parameter_missing")
        if invoice is not None and currency != invoice["currency"]:
            raise invalid(
                f"The currency of the invoice item ({currency}) must match the currency of the invoice "
                f"({invoice['currency']}).",
                param="currency",
            )
        check_amount(amount, currency, param="amount" if unit_amount is None else "unit_amount_decimal")
        period = params.mapping("period", allowed=("start", "end")) or {}
        now = self.now()
        start = Params(period).integer("start", required=bool(period)) if period else None
        end = Params(period).integer("end", required=bool(period)) if period else None
        if start is not None and end is not None and end < start:
            # "The end of the period, which must be greater than or equal to the start."
            raise validation(
                "Invalid period: the end of the period must be greater than or equal to its start.",
                param="period[end]",
            )
        discountable = params.boolean("discountable")
        item_id = new_id("ii_")
        item = from_shape(
            "invoiceitem",
            {
                "amount": amount,
                "currency": currency,
                "customer": customer["id"],
                "customer_account": None,
                "date": now,
                "description": params.string("description"),
                "discountable": True if discountable is None else discountable,
                "discounts": [],
                "id": item_id,
                "invoice": None,
                "livemode": False,
                "metadata": merge_metadata({}, params.metadata()),
                "net_amount": amount,
                "object": "invoiceitem",
                "parent": None,
                "period": {
                    "end": end if end is not None else now,
                    "start": start if start is not None else now,
                },
                "pricing": {"type": "price_details", "unit_amount_decimal": unit_text},
                "proration": False,
                "quantity": quantity,
                "quantity_decimal": str(quantity),
                "tax_rates": [],
                "test_clock": None,
            },
        )
        self.invoiceitems[item_id] = item
        if customer["currency"] is None:
            customer["currency"] = currency
        if invoice is not None:
            self._attach_item(item, invoice["id"])
            self._recompute(invoice["id"])
        self.emit("invoiceitem.created", item, ctx)
        return self.expand(copy.deepcopy(item), params.expand())

    def _attach_item(self, item: JSON, invoice_id: str) -> None:
        item["invoice"] = invoice_id
        line = from_shape(
            "line_item",
            {
                "amount": item["amount"],
                "currency": item["currency"],
                "description": item["description"],
                "discount_amounts": [],
                "discountable": item["discountable"],
                "discounts": [],
                "id": new_id("il_"),
                "invoice": invoice_id,
                "livemode": False,
                "metadata": dict(item["metadata"]),
                "object": "line_item",
                "parent": {
                    "invoice_item_details": {
                        "invoice_item": item["id"],
                        "proration": False,
                        "proration_details": {"credited_items": None},
                        "subscription": None,
                    },
                    "subscription_item_details": None,
                    "type": "invoice_item_details",
                },
                "period": dict(item["period"]),
                "pretax_credit_amounts": [],
                "pricing": copy.deepcopy(item["pricing"]),
                "quantity": item["quantity"],
                "quantity_decimal": item["quantity_decimal"],
                "subscription": None,
                "subtotal": item["amount"],
                "taxes": [],
            },
        )
        self.lines[invoice_id].append(line)

    def _recompute(self, invoice_id: str) -> None:
        invoice = self.invoices[invoice_id]
        subtotal = sum(line["amount"] for line in self.lines[invoice_id])
        tax = taxes.apply(self, invoice, self.lines[invoice_id])
        invoice.update(
            subtotal=subtotal,
            subtotal_excluding_tax=subtotal,
            total=subtotal + tax,
            total_excluding_tax=subtotal,
        )
        if invoice["status"] == "draft":
            invoice["amount_due"] = max(subtotal + tax, 0)
            invoice["amount_remaining"] = invoice["amount_due"]

    # ------------------------------------------------------------------ state machine

    def finalize(self, invoice_id: str, params: Params, ctx: RequestContext) -> JSON:
        params.allow("auto_advance")
        invoice = self._invoice(invoice_id)
        auto_advance = params.boolean("auto_advance")
        self._finalize(invoice, ctx, auto_advance)
        return self.expand(self.render_invoice(invoice_id), params.expand())

    def _finalize(self, invoice: JSON, ctx: RequestContext, auto_advance: bool | None = None) -> None:
        invoice_id = invoice["id"]
        if invoice["status"] != "draft":
            raise invalid(
                "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
                code="invoice_already_finalized",
            )
        customer = self.customers[invoice["customer"]]
        if invoice["automatic_tax"]["enabled"]:
            # Stripe calculates tax at finalization, so the customer's location must still be recognised then.
            taxes.check_tax_location(customer)
            self._recompute(invoice_id)
        if auto_advance is not None:
            invoice["auto_advance"] = auto_advance
        now = self.now()
        # Stripe applies the customer's balance (negative = credit) at finalization; a negative total becomes credit.
        starting = customer["balance"]
        applied = invoice["total"] + starting
        if min(applied, 0) != starting:
            # The ledger records what the invoice consumed of the balance (or the credit a negative total left).
            balance.record(
                self,
                customer,
                amount=min(applied, 0) - starting,
                currency=invoice["currency"],
                type_="applied_to_invoice",
                invoice=invoice_id,
            )
        days = self._days_until_due.get(invoice_id)
        numbered = invoice["number"] is None  # a number set on the draft is kept
        generated = f"{customer['invoice_prefix']}-{customer['next_invoice_sequence']:04d}"
        invoice.update(
            status="open",
            number=invoice["number"] or generated,
            starting_balance=starting,
            ending_balance=min(applied, 0),
            amount_due=max(applied, 0),
            amount_remaining=max(applied, 0),
            effective_at=now,
            automatically_finalizes_at=None,
            hosted_invoice_url=f"https://invoice.stripe.com/i/local_test/{invoice_id}",
            invoice_pdf=f"https://pay.stripe.com/invoice/local_test/{invoice_id}/pdf",
            customer_email=customer["email"],
            customer_name=customer["name"],
            customer_phone=customer["phone"],
            customer_address=copy.deepcopy(customer["address"]),
            customer_tax_exempt=customer["tax_exempt"],
            customer_tax_ids=taxes.customer_tax_ids(self, customer["id"]),
            webhooks_delivered_at=now,
        )
        if numbered:
            customer["next_invoice_sequence"] += 1
        invoice["status_transitions"]["finalized_at"] = now
        if days is not None:
            invoice["due_date"] = now + days * DAY
        automatic = invoice["collection_method"] == "charge_automatically" and invoice["auto_advance"]
        invoice["next_payment_attempt"] = now + 3600 if automatic else None
        self._emit_invoice("invoice.finalized", invoice_id, ctx)
        minimum = minimum_charge(invoice["currency"])
        if minimum is not None and 0 < invoice["amount_due"] < minimum:
            # Below Stripe's minimum charge: marked paid, and the amount due becomes a debit on the customer's balance.
            balance.record(
                self,
                customer,
                amount=invoice["amount_due"],
                currency=invoice["currency"],
                type_="invoice_too_small",
                invoice=invoice_id,
            )
            invoice["ending_balance"] = customer["balance"]
            self._mark_paid(invoice, ctx, charged=False)
        elif invoice["amount_due"] == 0:
            # Nothing to collect: Stripe marks it paid at once.
            self._mark_paid(invoice, ctx, charged=True)

    def _mark_paid(self, invoice: JSON, ctx: RequestContext, *, charged: bool) -> None:
        now = self.now()
        invoice.update(
            status="paid",
            amount_paid=invoice["amount_due"],
            amount_remaining=0,
            attempted=True,
            next_payment_attempt=None,
            auto_advance=False,
        )
        invoice["status_transitions"]["paid_at"] = now
        self._emit_invoice("invoice.paid", invoice["id"], ctx)
        if charged:
            self._emit_invoice("invoice.payment_succeeded", invoice["id"], ctx)

    def pay(self, invoice_id: str, params: Params, ctx: RequestContext) -> JSON:
        params.allow("payment_method", "paid_out_of_band", "off_session", "forgive")
        invoice = self._invoice(invoice_id)
        token = params.string("payment_method") or None
        if token is not None:
            self.wallet.owned(token, invoice["customer"], param="payment_method")
        out_of_band = bool(params.boolean("paid_out_of_band"))
        params.boolean("off_session")
        params.boolean("forgive")
        if invoice["status"] == "draft":
            # Stripe finalizes a draft before attempting payment.
            self._finalize(invoice, ctx)
            if invoice["status"] == "paid":
                return self.expand(self.render_invoice(invoice_id), params.expand())
        if invoice["status"] not in ("open", "uncollectible"):
            raise invalid(f"Invoice is already {invoice['status']}.", param=None)
        if out_of_band:
            self._mark_paid(invoice, ctx, charged=False)
            return self.expand(self.render_invoice(invoice_id), params.expand())
        payment_method = self.wallet.for_invoice(invoice, token)
        if payment_method is None:
            raise invalid(NO_PAYMENT_METHOD)
        error = self.collection.attempt(invoice, payment_method, ctx, automatic=False)
        if error is not None:
            raise error
        return self.expand(self.render_invoice(invoice_id), params.expand())

    def send(self, invoice_id: str, params: Params, ctx: RequestContext) -> JSON:
        params.allow()
        invoice = self._invoice(invoice_id)
        if invoice["collection_method"] != "send_invoice":
            raise invalid(
                "You can only manually send an invoice if its collection method is 'send_invoice'.",
                param="collection_method",
            )
        if invoice["status"] == "draft":
            self._finalize(invoice, ctx)  # Stripe finalizes a draft before sending it
        if invoice["status"] != "open":
            raise invalid(f"You can't send an invoice whose status is {invoice['status']}.")
        self._emit_invoice("invoice.sent", invoice_id, ctx)
        return self.expand(self.render_invoice(invoice_id), params.expand())

    def void(self, invoice_id: str, params: Params, ctx: RequestContext) -> JSON:
        params.allow()
        invoice = self._invoice(invoice_id)
        if invoice["status"] not in ("open", "uncollectible"):
            raise invalid(
                f"You can only void an open or uncollectible invoice; this invoice is {invoice['status']}."
            )
        invoice.update(status="void", amount_remaining=0, next_payment_attempt=None, auto_advance=False)
        invoice["status_transitions"]["voided_at"] = self.now()
        self._emit_invoice("invoice.voided", invoice_id, ctx)
        return self.expand(self.render_invoice(invoice_id), params.expand())

    def mark_uncollectible(self, invoice_id: str, params: Params, ctx: RequestContext) -> JSON:
        params.allow()
        invoice = self._invoice(invoice_id)
        if invoice["status"] != "open":
            raise invalid(
                f"You can only mark an open invoice as uncollectible; this invoice is {invoice['status']}."
            )
        invoice.update(status="uncollectible", next_payment_attempt=None, auto_advance=False)
        invoice["status_transitions"]["marked_uncollectible_at"] = self.now()
        self._emit_invoice("invoice.marked_uncollectible", invoice_id, ctx)
        return self.expand(self.render_invoice(invoice_id), params.expand())


_paginate = paginate  # objects.paginate, the cursor rules every list shares

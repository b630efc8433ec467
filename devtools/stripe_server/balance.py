"""Customer balance transactions: the ledger behind `customer.balance` (negative = credit the customer holds).

Stripe computes the balance from an immutable list of transactions that point at what caused them (an adjustment, a
credit note, an invoice): https://docs.stripe.com/billing/customer/balance and
https://docs.stripe.com/api/customer_balance_transactions. Every change to a customer's balance goes through
`record`, so the ledger and the balance cannot disagree.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from .currencies import check_amount
from .errors import invalid, no_such
from .objects import JSON, RequestContext, from_shape, new_id, paginate
from .params import Params, merge_metadata

if TYPE_CHECKING:
    from .state import Store


def record(
    store: Store,
    customer: JSON,
    *,
    amount: int,
    currency: str,
    type_: str,
    invoice: str | None = None,
    credit_note: str | None = None,
    description: str | None = None,
    metadata: dict[str, str] | None = None,
) -> JSON:
    """Move the customer's balance by `amount` and append the transaction that says why."""
    customer["balance"] += amount
    if customer["currency"] is None:
        customer["currency"] = currency
    transaction = from_shape(
        "customer_balance_transaction",
        {
            "amount": amount,
            "checkout_session": None,
            "created": store.now(),
            "credit_note": credit_note,
            "currency": currency,
            "customer": customer["id"],
            "customer_account": None,
            "description": description,
            "ending_balance": customer["balance"],
            "id": new_id("cbtxn_"),
            "invoice": invoice,
            "livemode": False,
            "metadata": metadata if metadata is not None else {},
            "object": "customer_balance_transaction",
            "type": type_,
        },
    )
    store.balance_transactions.setdefault(customer["id"], []).append(transaction)
    return transaction


def _customer(store: Store, customer_id: str) -> JSON:
    customer = store.customers.get(customer_id)
    if customer is None:
        raise no_such("customer", customer_id, param="customer")
    return customer


def _transaction(store: Store, customer_id: str, transaction_id: str) -> JSON:
    for transaction in store.balance_transactions.get(customer_id, []):
        if transaction["id"] == transaction_id:
            return transaction
    raise no_such("customer_balance_transaction", transaction_id, param="transaction")


def create(store: Store, customer_id: str, params: Params, ctx: RequestContext) -> JSON:
    """POST /v1/customers/{id}/balance_transactions: a manual `adjustment` (negative amount = credit)."""
    params.allow("amount", "currency", "description", "metadata")
    customer = _customer(store, customer_id)
    amount = params.integer("amount", required=True)
    currency = params.currency()
    if currency is None:
        params.string("currency", required=True)
    assert amount is not None
    assert currency is not None
    description = params.string("description", max_length=350)
    metadata = params.metadata()
    check_amount(amount, currency, param="amount")
    if customer["currency"] is not None and customer["currency"] != currency:
        raise invalid(
            f"The currency of the balance transaction ({currency}) must match the customer's currency "
            f"({customer['currency']}).",
            param="currency",
        )
    transaction = record(
        store,
        customer,
        amount=amount,
        currency=currency,
        type_="adjustment",
        description=description,
        metadata=merge_metadata({}, metadata),
    )
    store.emit("customer.updated", customer, ctx)
    return store.expand(copy.deepcopy(transaction), params.expand())


def retrieve(store: Store, customer_id: str, transaction_id: str, params: Params) -> JSON:
    params.allow()
    _customer(store, customer_id)
    return store.expand(copy.deepcopy(_transaction(store, customer_id, transaction_id)), params.expand())


def update(store: Store, customer_id: str, transaction_id: str, params: Params, ctx: RequestContext) -> JSON:
    """Only `description` and `metadata` change; the amount of a ledger entry never does."""
    params.allow("description", "metadata")
    _customer(store, customer_id)
    transaction = _transaction(store, customer_id, transaction_id)
    description = params.string("description", max_length=350)
    metadata = params.metadata()
    if description is not None:
        transaction["description"] = description or None
    transaction["metadata"] = merge_metadata(transaction["metadata"] or {}, metadata)
    return store.expand(copy.deepcopy(transaction), params.expand())


def list_transactions(store: Store, customer_id: str, params: Params) -> JSON:
    """Newest first; filter `invoice`."""
    params.allow("invoice", "limit", "starting_after", "ending_before")
    _customer(store, customer_id)
    invoice_id = params.string("invoice")
    transactions = {
        transaction["id"]: transaction
        for transaction in reversed(store.balance_transactions.get(customer_id, []))
        if invoice_id is None or transaction["invoice"] == invoice_id
    }
    page, has_more = paginate(list(transactions), params)
    listing = {
        "data": [copy.deepcopy(transactions[transaction_id]) for transaction_id in page],
        "has_more": has_more,
        "object": "list",
        "url": f"/v1/customers/{customer_id}/balance_transactions",
    }
    return store.expand(listing, params.expand())

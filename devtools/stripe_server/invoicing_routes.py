"""The invoicing side's routes (credit notes, customer balance transactions, add_lines), for server.py to register.

Handlers take the request's scope first and act on its account's store. Order matters: the first
matching route wins, so `/v1/credit_notes/preview` comes before `/v1/credit_notes/{id}`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import balance, credit_notes, invoice_lines
from .objects import JSON

_ID = r"(?P<object_id>[A-Za-z0-9_]+)"
_ITEM = r"(?P<item_id>[A-Za-z0-9_]+)"

Handler = Callable[..., JSON]


def invoicing_routes() -> list[tuple[str, str, Handler]]:
    def call(function: Callable[..., JSON], *, ctx: bool) -> Handler:
        def handler(scope: Any, p: Any, c: Any, **ids: str) -> JSON:
            return function(scope.store, *ids.values(), p, *((c,) if ctx else ()))

        return handler

    return [
        ("GET", "/v1/credit_notes/preview", call(credit_notes.preview, ctx=False)),
        ("POST", "/v1/credit_notes", call(credit_notes.create, ctx=True)),
        ("GET", "/v1/credit_notes", call(credit_notes.list_credit_notes, ctx=False)),
        ("GET", f"/v1/credit_notes/{_ID}", call(credit_notes.retrieve, ctx=False)),
        ("POST", f"/v1/credit_notes/{_ID}", call(credit_notes.update, ctx=True)),
        ("GET", f"/v1/credit_notes/{_ID}/lines", call(credit_notes.list_lines, ctx=False)),
        ("POST", f"/v1/credit_notes/{_ID}/void", call(credit_notes.void, ctx=True)),
        ("POST", f"/v1/customers/{_ID}/balance_transactions", call(balance.create, ctx=True)),
        ("GET", f"/v1/customers/{_ID}/balance_transactions", call(balance.list_transactions, ctx=False)),
        ("GET", f"/v1/customers/{_ID}/balance_transactions/{_ITEM}", call(balance.retrieve, ctx=False)),
        ("POST", f"/v1/customers/{_ID}/balance_transactions/{_ITEM}", call(balance.update, ctx=True)),
        ("POST", f"/v1/invoices/{_ID}/add_lines", call(invoice_lines.add_lines, ctx=True)),
    ]

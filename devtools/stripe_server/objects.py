"""Stripe's example objects (shapes.json) and the ids and request context every stored object carries.

The bottom layer of the server: state.py (invoicing), payments.py, checkout.py and collection.py all build their
objects here, so none of them imports another to make an object.
"""

from __future__ import annotations

import copy
import json
import secrets
import string
from pathlib import Path
from typing import Any

from .errors import no_such, validation
from .params import Params

JSON = dict[str, Any]

SHAPES: dict[str, JSON] = json.loads((Path(__file__).with_name("shapes.json")).read_text(encoding="utf-8"))

_ALPHANUMERIC = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def from_shape(kind: str, values: JSON) -> JSON:
    """A fresh object of `kind` with exactly the example object's fields, every one of them set by `values`."""
    shape = SHAPES[kind]
    extra, missing = values.keys() - shape.keys(), shape.keys() - values.keys()
    if extra or missing:
        raise KeyError(
            f"{kind}: fields not in Stripe's shape {sorted(extra)}, unset fields {sorted(missing)}"
        )
    return copy.deepcopy({key: values[key] for key in shape})


class RequestContext:
    """What an event records about the API request that caused it (both None for Stripe's own scheduled work)."""

    def __init__(self, request_id: str | None, idempotency_key: str | None, api_version: str) -> None:
        self.request_id = request_id
        self.idempotency_key = idempotency_key
        self.api_version = api_version


def paginate(ids: list[str], params: Params) -> tuple[list[str], bool]:
    """One page of `ids` (newest first) by Stripe's `limit` (default 10, max 100) and cursors."""
    limit = params.integer("limit", minimum=1)
    limit = 10 if limit is None else min(limit, 100)
    after, before = params.string("starting_after"), params.string("ending_before")
    if after is not None and before is not None:
        raise validation("You may only specify one of these parameters: ending_before, starting_after.")
    if after is not None:
        if after not in ids:
            raise no_such("object", after, param="starting_after", status=400)
        rest = ids[ids.index(after) + 1 :]
        return rest[:limit], len(rest) > limit
    if before is not None:
        if before not in ids:
            raise no_such("object", before, param="ending_before", status=400)
        head = ids[: ids.index(before)]
        return head[-limit:], len(head) > limit
    return ids[:limit], len(ids) > limit

"""The body one endpoint receives for one event: Standard Webhooks' envelope (`type`, `timestamp`, `data`),
`data` holding the common keys (the object, its ids, when it changed, links to it in the portal and the
API) and then the type-specific data, less the type's vendor-only keys for a customer's endpoint.

Serialized with orjson (datetimes as RFC 3339 in UTC, `Z`). The bytes returned are the bytes signed and
sent: a receiver verifies the signature over exactly them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote

import orjson
from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils.http import RFC3986_SUBDELIMS

from core.events import EventType
from notifications import catalogue
from notifications.models import Endpoint, Event

Kwargs = Callable[[Event], dict[str, str]]


def _object_id(name: str) -> Kwargs:
    return lambda event: {name: event.object_id}


def _credit_note(event: Event) -> dict[str, str]:
    return {"invoice_id": str(event.data.get("invoice_id", "")), "credit_note_id": event.object_id}


def _invoice_of(event: Event) -> dict[str, str]:
    return {"invoice_id": str(event.data.get("invoice_id", ""))}


@dataclass(frozen=True, slots=True)
class Route:
    """Where one kind of object is: URL names (None: no such page or resource) and their arguments."""

    portal: str | None
    api: str | None
    kwargs: Kwargs
    # The customer's own API resource (their key is refused by the vendor's); None: the vendor's one.
    customer_api: str | None = None
    api_kwargs: Kwargs | None = None  # when the API resource takes other arguments than the page


_OUTCOME = Route(
    "outcomes:outcome-detail",
    "outcomes-api:outcome",
    _object_id("outcome_id"),
    customer_api="outcomes-api:customer-outcome",
)
ROUTES: dict[str, Route] = {
    "outcome": _OUTCOME,
    # A review decides an outcome, and an audit sample's and a disqualifier contest's id is its outcome's.
    "review": _OUTCOME,
    "audit_sample": _OUTCOME,
    "disqualifier_contest": _OUTCOME,
    "dispute": Route("outcomes:dispute-detail", None, _object_id("dispute_id")),
    "invoice": Route("settlement:invoice-detail", "settlement-api:invoice", _object_id("invoice_id")),
    "credit_note": Route(
        "settlement:credit-note-detail",
        "settlement-api:invoice-credit-notes",
        _credit_note,
        customer_api="settlement-api:customer-invoice-credit-notes",
        api_kwargs=_invoice_of,
    ),
    "contract": Route("contracts:contract-detail", "api:contract", _object_id("contract_id")),
    "webhook_source": Route("contracts:source-detail", "api:webhook-source", _object_id("source_id")),
    "endpoint": Route(
        "notifications:endpoint-detail", "notifications-api:webhook-endpoint", _object_id("endpoint_id")
    ),
}
_CONTRACT = ROUTES["contract"]


@cache
def _path_template(name: str, keys: tuple[str, ...]) -> str | None:
    """The route's path with a marker in place of each argument: reversed once per route, as reverse()
    costs tens of µs a call and the dispatcher builds two links per delivery. (Every route here takes
    `str` arguments, which a marker matches.)"""
    try:
        return reverse(name, kwargs={key: _MARKER.format(index) for index, key in enumerate(keys)})
    except NoReverseMatch:
        return None


_MARKER = "~arg{}~"


def _reverse(name: str | None, kwargs: dict[str, str]) -> str | None:
    if name is None or not all(kwargs.values()):
        return None
    path = _path_template(name, tuple(kwargs))
    if path is None:
        return None
    for index, value in enumerate(kwargs.values()):
        if "/" in value:  # a `str` argument never holds one: no such page
            return None
        # Quoted as reverse() quotes an argument.
        path = path.replace(_MARKER.format(index), quote(value, safe=RFC3986_SUBDELIMS + "~:@"))
    return settings.PUBLIC_BASE_URL + path


def event_links(*, event: Event, for_customer: bool) -> dict[str, str]:
    """The object's portal page and API resource, absolute; for kinds without one, the contract's; the
    portal's home page (and the API's schema) as a last resort."""
    route = ROUTES.get(_object_kind(event))
    contract_kwargs = {"contract_id": str(event.contract_id)} if event.contract_id else {}
    portal = api = None
    if route is not None:
        portal = _reverse(route.portal, route.kwargs(event))
        api_kwargs = (route.api_kwargs or route.kwargs)(event)
        if for_customer and route.customer_api:
            api = _reverse(route.customer_api, api_kwargs)
        api = api or _reverse(route.api, api_kwargs)
    if contract_kwargs:
        portal = portal or _reverse(_CONTRACT.portal, contract_kwargs)
        api = api or _reverse(_CONTRACT.api, contract_kwargs)
    return {
        "portal": portal or settings.PUBLIC_BASE_URL + reverse("settlement:dashboard"),
        "api": api or settings.PUBLIC_BASE_URL + reverse("schema"),
    }


def _object_kind(event: Event) -> str:
    event_type = catalogue.EVENT_TYPES_BY_NAME.get(event.type)
    return event_type.object if event_type else event.type.split(".", 1)[0]


def event_type_of(name: str) -> EventType | None:
    """The catalogue's entry for a type name; None for a name it does not know (sent to vendors only)."""
    return catalogue.EVENT_TYPES_BY_NAME.get(name)


def envelope_build(*, event: Event, endpoint: Endpoint) -> dict[str, Any]:
    """The envelope of `event` as `endpoint` receives it."""
    for_customer = endpoint.customer_id is not None
    event_type = event_type_of(event.type)
    specific = dict(event.data)
    if for_customer and event_type is not None:
        for key in event_type.vendor_only:
            specific.pop(key, None)
    common = {
        "object": _object_kind(event),
        "id": event.object_id,
        "vendor_id": str(event.vendor_id),
        "customer_id": str(event.customer_id) if event.customer_id else None,
        "contract_id": str(event.contract_id) if event.contract_id else None,
        "updated_at": event.occurred_at,
        "links": event_links(event=event, for_customer=for_customer),
    }
    # The catalogue refuses types whose data reuses a common key; an unknown type's data may not overwrite
    # the ids a receiver (a customer's above all) relies on either.
    data = {**common, **{key: value for key, value in specific.items() if key not in common}}
    return {"type": event.type, "timestamp": event.created_at, "data": data}


def envelope_serialize(envelope: dict[str, Any]) -> bytes:
    return orjson.dumps(envelope, option=orjson.OPT_UTC_Z)

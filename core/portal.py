"""Portal plumbing every portal shares (the vendor's today, the customer's next): navigation entries, keyset
paging of large tables, forms whose answer is shown once, and a service's errors on a Django form.

Who is signed in and for whom (a vendor's member, a customer's) is each portal's own: contracts.portal.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse

from core.errors import ValidationFailed


def add_domain_error(form: forms.BaseForm, path: str, message: str) -> None:
    """Put one service error on the form field its path starts with (`tiers[1].up_to` -> `tiers`),
    else on the form as a whole."""
    head = re.split(r"[.\[]", path, maxsplit=1)[0]
    if head in form.fields:
        form.add_error(head, message if path == head else f"{path}: {message}")
    else:
        form.add_error(None, f"{path}: {message}" if path else message)


def add_domain_errors(form: forms.BaseForm, exc: ValidationFailed) -> None:
    """A service's ValidationFailed as form errors: the same messages the API gives, on the same fields."""
    for path, items in exc.field_errors.items():
        for item in items:
            add_domain_error(form, path, item["message"])
    if not exc.field_errors:
        form.add_error(None, exc.message)


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    section: str

    @property
    def url(self) -> str:
        return reverse(self.url_name)


@dataclass
class KeysetPage:
    """One page of a large table, found by key rather than OFFSET/COUNT (constant cost at any depth)."""

    items: list[Any]
    has_next: bool
    has_previous: bool
    next_query: str
    previous_query: str


def keyset_page(
    request: HttpRequest, queryset: Any, *, per_page: int = 50, key: str | tuple[str, ...] = "id"
) -> KeysetPage:
    """Newest first by `key`: a unique, indexed column (an integer id), or columns that are unique
    together, e.g. ("created_at", "id") for a table with UUID keys. `?before=<key>` pages to older
    rows, `?after=<key>` back to newer ones; the other query parameters (filters) are kept in the links.
    A cursor that does not parse is ignored (first page)."""
    keys = (key,) if isinstance(key, str) else key
    params = request.GET.copy()
    before, after = (_cursor(queryset, keys, params.get(name)) for name in ("before", "after"))
    for name in ("before", "after"):
        params.pop(name, None)
    if after is not None:
        rows = list(queryset.filter(_beyond(keys, after, "gt")).order_by(*keys)[: per_page + 1])
        has_previous, has_next = len(rows) > per_page, True
        rows = rows[:per_page][::-1]
    else:
        ordered = queryset.order_by(*(f"-{name}" for name in keys))
        if before is not None:
            ordered = ordered.filter(_beyond(keys, before, "lt"))
        rows = list(ordered[: per_page + 1])
        has_next, has_previous = len(rows) > per_page, before is not None
        rows = rows[:per_page]
    if not rows:
        has_next = False

    def query(**cursor: Any) -> str:
        linked = params.copy()
        for name, row in cursor.items():
            linked[name] = CURSOR_SEPARATOR.join(_cursor_text(getattr(row, part)) for part in keys)
        return linked.urlencode()

    return KeysetPage(
        items=rows,
        has_next=has_next,
        has_previous=has_previous and bool(rows),
        next_query=query(before=rows[-1]) if rows else "",
        previous_query=query(after=rows[0]) if rows else "",
    )


CURSOR_SEPARATOR = "~"


def _cursor_text(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _cursor(queryset: QuerySet[Any], keys: tuple[str, ...], text: str | None) -> tuple[Any, ...] | None:
    """A cursor's values, each parsed by its model field; None when it does not parse."""
    if text is None:
        return None
    parts = text.split(CURSOR_SEPARATOR) if len(keys) > 1 else [text]
    if len(parts) != len(keys):
        return None
    try:
        return tuple(
            queryset.model._meta.get_field(name).to_python(part)
            for name, part in zip(keys, parts, strict=True)
        )
    except (ValidationError, ValueError):
        return None


def _beyond(keys: tuple[str, ...], values: tuple[Any, ...], op: str) -> Q:
    """Rows past a cursor in (k1, k2, ...) order: k1 op v1, or k1 = v1 and k2 op v2, and so on."""
    condition = Q()
    for depth, name in enumerate(keys):
        equal = {keys[index]: values[index] for index in range(depth)}
        condition |= Q(**equal, **{f"{name}__{op}": values[depth]})
    return condition


# --- forms sent once ------------------------------------------------------------------------------
# A form whose answer shows a secret once (a new webhook source, a rotation, an API key) is answered
# directly, not by a redirect, so the secret never has to be kept to show it after one. Reloading
# that answer would send the form again and create a second source or key: each such form carries a
# one-time token ({% form_token %}), and the session remembers which tokens were sent and where what
# they made lives (never the secret).

FORM_TOKEN_FIELD = "form_token"  # noqa: S105 (a form field's name, not a secret)
_SENT_FORMS = "portal_sent_forms"
_SENT_FORMS_KEPT = 20


def new_form_token() -> str:
    return secrets.token_urlsafe(16)


def form_sent_before(request: HttpRequest) -> str | None:
    """Where what this form made lives, if its token was sent before; else None."""
    token = request.POST.get(FORM_TOKEN_FIELD, "")
    sent: dict[str, str] = request.session.get(_SENT_FORMS, {})
    return sent.get(token) if token else None


def remember_form_sent(request: HttpRequest, url: str) -> None:
    """Record this form's token as sent, with the page of what it made (the latest few are kept)."""
    token = request.POST.get(FORM_TOKEN_FIELD, "")
    if not token:
        return
    sent: dict[str, str] = dict(request.session.get(_SENT_FORMS, {}))
    sent[token] = url
    request.session[_SENT_FORMS] = dict(list(sent.items())[-_SENT_FORMS_KEPT:])

"""Reads behind invoice share links: an invoice's links (for the vendor or customer who manages them) and
what the public shared page shows, a page of outcomes at a time, with no vendor-only field."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from django.db.models import Prefetch, QuerySet

from core.errors import NotFound
from outcomes.models import OutcomeEvent, OutcomeVerdict
from settlement.models import Invoice, InvoiceLine, InvoiceShareLink, LineOutcome


def share_link_list(*, invoice: Invoice) -> QuerySet[InvoiceShareLink]:
    """The invoice's links, newest first, revoked and expired ones included."""
    return InvoiceShareLink.objects.filter(invoice=invoice).order_by("-created_at", "id")


def share_link_get(*, invoice: Invoice, link_id: Any) -> InvoiceShareLink:
    """One of the invoice's links; another invoice's (or a malformed id) is not found."""
    try:
        pk = uuid.UUID(str(link_id))
    except ValueError:
        raise NotFound("No such share link.") from None
    link = InvoiceShareLink.objects.filter(invoice=invoice, pk=pk).select_related("invoice__vendor").first()
    if link is None:
        raise NotFound("No such share link.")
    return link


def shared_line_outcomes(*, line: InvoiceLine) -> QuerySet[LineOutcome]:
    """A line's outcomes for the shared page, each with its raw events (and their source) and its
    verdicts prefetched: keyset-page it (core.portal.keyset_page, key "outcome_id") before reading."""
    return (
        LineOutcome.objects.filter(line=line)
        .select_related("outcome")
        .prefetch_related(
            Prefetch(
                "outcome__event_links",
                queryset=OutcomeEvent.objects.select_related("raw_event__source").order_by(
                    "raw_event__occurred_at", "raw_event_id"
                ),
            ),
            Prefetch("outcome__verdicts", queryset=OutcomeVerdict.objects.order_by("at", "id")),
            "outcome__evaluations",
        )
    )


def shared_csv_rows(*, invoice: Invoice) -> Iterator[list[Any]]:
    """The rows of the shared CSV: one per (line, outcome) it bills or credits, and one per line
    without outcomes; streamed from the database in chunks, never all in memory."""
    yield [
        "invoice_number",
        "line_position",
        "line_kind",
        "line_description",
        "line_amount_minor",
        "currency",
        "outcome_id",
        "outcome_type",
        "natural_key",
        "occurred_at",
        "state",
        "share_minor",
    ]
    for line in invoice.lines.order_by("position"):
        head = [
            invoice.number,
            line.position,
            line.kind,
            line.description,
            line.amount_minor,
            invoice.currency,
        ]
        links = (
            LineOutcome.objects.filter(line=line)
            .order_by("outcome_id")
            .values_list(
                "outcome_id",
                "outcome__outcome_type_key",
                "outcome__natural_key",
                "outcome__occurred_at",
                "outcome__state",
                "share_minor",
            )
        )
        empty = True
        for outcome_id, type_key, natural_key, occurred_at, state, share in links.iterator(chunk_size=2000):
            empty = False
            yield [*head, outcome_id, type_key, natural_key, occurred_at.isoformat(), state, share]
        if empty:
            yield [*head, "", "", "", "", "", ""]

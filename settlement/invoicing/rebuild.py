"""(Re)building drafts: their lines replaced with freshly computed ones, in one set of queries for
many drafts; `drafts_build` is what closing and finalizing run too."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator, Sequence
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from core.db.bulk import insert_rows, update_rows
from core.events import DomainEvent, events_publish
from settlement import domain_events
from settlement.approval import approval_status_after_rebuild
from settlement.invoicing.drafts import Built
from settlement.invoicing.lines import drafts_rate
from settlement.invoicing.locks import invoices_locked_in_order
from settlement.models import (
    ApprovalStatus,
    Invoice,
    InvoiceLine,
    LineKind,
    LineOutcome,
)
from settlement.money import line_step, round_line


def _share_texts(shares: dict[int, Decimal]) -> Iterator[tuple[int, str]]:
    """Each outcome's share as stored (str of the Decimal); a slice's outcomes share one Decimal,
    formatted once."""
    last: Decimal | None = None
    text = ""
    for outcome_id, share in shares.items():
        if share is not last:
            last, text = share, str(share)
        yield outcome_id, text


def _rounding(amount: Decimal, currency: str) -> dict[str, str]:
    """What a line keeps of its exact amount; and, where Stripe charges the currency only in coarser
    steps (three-decimal currencies: multiples of 10), the step it was rounded to, shown to the vendor."""
    step = line_step(currency)
    return {"exact_minor": str(amount), **({"rounded_to_minor": str(step)} if step != 1 else {})}


def drafts_build(
    invoices: list[Invoice], now: dt.datetime, *, created: Collection[int] = ()
) -> dict[int, Built]:
    """Replace these drafts' lines with freshly computed ones: one set of queries for all of them.
    Assumes the invoice rows are locked (with their contracts selected) and are drafts. Publishes
    `invoice.draft_created` for the drafts in `created` (built for the first time) and
    `invoice.awaiting_approval` for those that now wait for the customer's approval of a new total.
    Returns what was stored, by invoice id."""
    if not invoices:
        return {}
    waiting_for = {
        invoice.pk: invoice.total_minor
        for invoice in invoices
        if invoice.approval_status == ApprovalStatus.PENDING
    }
    built = drafts_rate(invoices, lock=True)

    ids = [invoice.pk for invoice in invoices]
    # By the lines' ids, read first: a join from the line-outcome table (millions of rows) is a plan
    # the planner may pick while the tables' statistics still describe them as (nearly) empty.
    old_lines = list(InvoiceLine.objects.filter(invoice_id__in=ids).values_list("id", flat=True))
    if old_lines:
        LineOutcome.objects.filter(line_id__in=old_lines).delete()
        InvoiceLine.objects.filter(pk__in=old_lines).delete()
    stored = InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            position=position,
            kind=line.kind,
            description=line.description[:300],
            outcome_type_key=line.outcome_type_key,
            version_id=line.version_id,
            tier=line.tier,
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount_minor=round_line(line.amount, invoice.currency),
            details={**line.details, **_rounding(line.amount, invoice.currency)},
        )
        for invoice, (lines, _) in zip(invoices, built, strict=True)
        for position, line in enumerate(lines, start=1)
    )
    drafted = [line for lines, _ in built for line in lines]
    insert_rows(
        LineOutcome,
        ("line_id", "outcome_id", "share_minor"),
        (
            (line.pk, outcome_id, text)
            for line, draft_line in zip(stored, drafted, strict=True)
            for outcome_id, text in _share_texts(draft_line.shares)
        ),
    )
    result = {invoice.pk: Built() for invoice in invoices}
    for line, draft_line in zip(stored, drafted, strict=True):
        result[line.invoice_id].lines.append(line)
        if line.kind == LineKind.USAGE:
            result[line.invoice_id].billed.extend(draft_line.shares)
    for invoice, (_, held) in zip(invoices, built, strict=True):
        invoice.total_minor = sum(line.amount_minor for line in result[invoice.pk].lines)
        invoice.held_over_cap = held
        invoice.built_at = now
        invoice.approval_status = approval_status_after_rebuild(invoice)
    update_rows(Invoice, invoices, ["total_minor", "held_over_cap", "built_at", "approval_status"])
    events: list[DomainEvent] = []
    for invoice in invoices:
        if invoice.pk in created:
            events.append(domain_events.draft_created(invoice, now=now))
        # A rebuild that leaves the same total waiting asks nothing new; a new total is a new question.
        if (
            invoice.approval_status == ApprovalStatus.PENDING
            and waiting_for.get(invoice.pk) != invoice.total_minor
        ):
            events.append(domain_events.awaiting_approval(invoice, now=now))
    events_publish(events)
    return result


def invoices_rebuild(*, invoice_ids: Sequence[int], now: dt.datetime | None = None) -> list[Invoice]:
    """Rebuild drafts from the current outcomes, all in one transaction; finalized ones stay as they are.
    Returns the invoices in the order of `invoice_ids`."""
    with transaction.atomic():
        invoices = invoices_locked_in_order(invoice_ids)
        drafts_build([invoice for invoice in invoices if invoice.is_draft], now or timezone.now())
    return invoices


def invoice_rebuild(*, invoice_id: int, now: dt.datetime | None = None) -> Invoice:
    [invoice] = invoices_rebuild(invoice_ids=[invoice_id], now=now)
    return invoice

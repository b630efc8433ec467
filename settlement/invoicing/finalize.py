"""Finalizing drafts: a final rebuild, gapless numbers per vendor, outcomes billed, credits carried;
a finalized invoice is left as it is."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence

from django.db import transaction
from django.utils import timezone

from core.db.bulk import any_of, insert_rows, plain, update_rows
from core.events import events_publish
from outcomes import counters
from outcomes.models import Outcome, OutcomeState, OutcomeTransition
from settlement import domain_events
from settlement.invoicing.credits import credit_entries
from settlement.invoicing.locks import invoices_locked_in_order
from settlement.invoicing.rebuild import drafts_build
from settlement.models import (
    ApprovalStatus,
    CreditEntry,
    Invoice,
    InvoiceCounter,
    InvoiceStatus,
)

ACTOR = "system:settlement"


# Drafts finalized per transaction by the beat job: the same trade-off. Batches of one vendor also
# queue for its invoice counter, held from numbering to commit (the short end of a batch).
FINALIZE_BATCH = 200


def invoices_finalize(*, invoice_ids: Sequence[int], now: dt.datetime | None = None) -> list[Invoice]:
    """Freeze drafts, all in one transaction with one set of queries: a final rebuild, gapless numbers
    per vendor (in the order of `invoice_ids`), outcomes billed, credits carried. A draft whose total
    waits for the customer's approval stays a draft; a finalized invoice is left as it is, so repeating
    does nothing. Returns the invoices in the order of `invoice_ids`."""
    now = now or timezone.now()
    with transaction.atomic():
        invoices = invoices_locked_in_order(invoice_ids)
        drafts = [invoice for invoice in invoices if invoice.is_draft]  # finalized ones return early
        built = drafts_build(drafts, now)
        # A draft over its approval threshold stays a draft until the customer approves this total.
        finalizing = [invoice for invoice in drafts if invoice.approval_status != ApprovalStatus.PENDING]
        if not finalizing:
            return invoices
        billed = [(invoice, built[invoice.pk].billed) for invoice in finalizing]
        billed_ids = [outcome_id for _, ids in billed for outcome_id in ids]
        deltas = counters.billing(billed_ids)
        # Locked by the rebuild (billable, never billed): the state guard only restates it.
        Outcome.objects.filter(pk__in=any_of(billed_ids), state=OutcomeState.BILLABLE).update(
            state=OutcomeState.BILLED, billed_at=now, updated_at=now
        )
        _number(finalizing)
        insert_rows(
            OutcomeTransition,
            ("outcome_id", "from_state", "to_state", "at", "actor", "reason", "details"),
            (
                (
                    outcome_id,
                    plain(OutcomeState.BILLABLE),
                    plain(OutcomeState.BILLED),
                    now,
                    ACTOR,
                    "invoice_finalized",
                    details,
                )
                for invoice, ids in billed
                for details in [json.dumps({"invoice_id": invoice.pk, "invoice_number": invoice.number})]
                for outcome_id in ids
            ),
        )
        CreditEntry.objects.bulk_create(credit_entries(finalizing, built, now))
        for invoice in finalizing:
            invoice.status = InvoiceStatus.FINALIZED
            invoice.finalized_at = now
        update_rows(Invoice, finalizing, ["number", "status", "finalized_at"])
        events_publish([domain_events.finalized(invoice, now=now) for invoice in finalizing])
        # The counters last: a transaction holding them waits for nothing more (see outcomes.counters).
        counters.apply(deltas)
    return invoices


def _number(invoices: list[Invoice]) -> None:
    """Give each invoice the next number of its vendor's counter, in the invoices' order. The counters
    are created if missing and locked in key order, so batches running side by side never deadlock;
    a batch waits here only for an earlier batch of the same vendor to commit, so numbers have no gaps."""
    vendors = sorted({invoice.vendor_id for invoice in invoices})
    InvoiceCounter.objects.bulk_create(
        [InvoiceCounter(vendor_id=vendor_id) for vendor_id in vendors], ignore_conflicts=True
    )
    counters = list(
        InvoiceCounter.objects.select_for_update().filter(vendor_id__in=vendors).order_by("vendor_id")
    )
    next_number = {counter.vendor_id: counter.next_number for counter in counters}
    for invoice in invoices:
        invoice.number = next_number[invoice.vendor_id]
        next_number[invoice.vendor_id] += 1
    for counter in counters:
        counter.next_number = next_number[counter.vendor_id]
    update_rows(InvoiceCounter, counters, ["next_number"])


def invoice_finalize(*, invoice_id: int, now: dt.datetime | None = None) -> Invoice:
    """Finalize one draft (see invoices_finalize)."""
    [invoice] = invoices_finalize(invoice_ids=[invoice_id], now=now)
    return invoice


def invoices_in_batches(invoice_ids: Sequence[int], size: int = FINALIZE_BATCH) -> Iterator[list[int]]:
    """Cut invoice ids into batches of `size` for invoices_finalize, keeping their order (numbers follow it)."""
    for start in range(0, len(invoice_ids), size):
        yield list(invoice_ids[start : start + size])

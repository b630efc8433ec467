"""Closing periods: each (contract, period) gets its draft invoice, or its draft rebuilt, in batches."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from typing import TypeAlias

from django.db import transaction
from django.utils import timezone

from contracts.models import Contract
from contracts.periods import Period
from settlement.invoicing.drafts import contract_period, unsaved_invoice
from settlement.invoicing.locks import invoices_locked
from settlement.invoicing.rebuild import drafts_build
from settlement.models import (
    Invoice,
)

# Periods closed per transaction by the bulk close (beat sweep, command): large enough that the
# fixed cost of a transaction and its dozen queries is spread thin, small enough that a batch holds
# its locks (the invoices, their contracts, the outcomes billed) for a second or so.
CLOSE_BATCH = 200
# A contract's key: its UUID, or that UUID's text (as a task receives it).
ContractId: TypeAlias = uuid.UUID | str


def periods_close(
    *, periods: Sequence[tuple[ContractId, dt.datetime]], now: dt.datetime | None = None
) -> list[Invoice]:
    """Close many periods (contract id, a moment in the period) at once: create each one's draft
    invoice, or rebuild it while it is still a draft, all in one transaction with one set of queries.
    Idempotent: the database holds one invoice per (contract, period), however often or concurrently
    this runs. Returns the invoices in the order of `periods`."""
    now = now or timezone.now()
    pk = Contract._meta.pk
    assert pk is not None
    contracts = Contract.objects.in_bulk({pk.to_python(contract_id) for contract_id, _ in periods})
    closing: list[tuple[Contract, Period]] = []
    for contract_id, start in periods:
        contract = contracts.get(pk.to_python(contract_id))
        if contract is None:
            raise Contract.DoesNotExist(f"No contract {contract_id}.")
        period = contract_period(contract, start)
        if period.end > now:
            raise ValueError(f"The period ending {period.end.isoformat()} has not ended yet.")
        closing.append((contract, period))
    with transaction.atomic():
        # Closed before (or concurrently): the one that exists stays, and is rebuilt if still a draft.
        Invoice.objects.bulk_create(
            sorted(
                (
                    unsaved_invoice(
                        contract,
                        period,
                        finalize_after=period.end + dt.timedelta(hours=contract.grace_period_hours),
                        built_at=now,
                    )
                    for contract, period in closing
                ),
                key=lambda invoice: (str(invoice.contract_id), invoice.period_start),
            ),
            ignore_conflicts=True,
        )
        wanted = {(contract.pk, period.start) for contract, period in closing}
        invoices = {
            (invoice.contract_id, invoice.period_start): invoice
            for invoice in invoices_locked(
                Invoice.objects.filter(
                    contract_id__in=contracts, period_start__in={start for _, start in wanted}
                )
            )
            if (invoice.contract_id, invoice.period_start) in wanted
        }
        # Those this call inserted still carry its clock (a rebuild moves built_at on): the drafts
        # created now, announced once (racing closes insert one row; the event's key does the same).
        drafts_build(
            [invoice for invoice in invoices.values() if invoice.is_draft],
            now,
            created={
                invoice.pk for invoice in invoices.values() if invoice.is_draft and invoice.built_at == now
            },
        )
    return [invoices[(contract.pk, period.start)] for contract, period in closing]


def period_close(
    *, contract_id: ContractId, period_start: dt.datetime, now: dt.datetime | None = None
) -> Invoice:
    """Close one period (see periods_close)."""
    [invoice] = periods_close(periods=[(contract_id, period_start)], now=now)
    return invoice


def periods_in_batches(
    periods: Sequence[tuple[ContractId, dt.datetime]], size: int = CLOSE_BATCH
) -> Iterator[list[tuple[ContractId, dt.datetime]]]:
    """Cut (contract, period start) pairs into batches of about `size` for periods_close, keeping a
    contract's periods in one batch (an earlier open draft takes what became billable in its period,
    so a contract's periods are best closed together, oldest first)."""
    batch: list[tuple[ContractId, dt.datetime]] = []
    for item in sorted(periods, key=lambda item: (str(item[0]), item[1])):
        if len(batch) >= size and str(batch[-1][0]) != str(item[0]):
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch

"""Finalize drafts: one (--invoice) or all whose grace period is over (--all-due). Repeating does nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from settlement.invoicing.finalize import FINALIZE_BATCH, invoices_finalize, invoices_in_batches
from settlement.management.progress import run_batches_with_progress
from settlement.models import Invoice, InvoiceStatus
from settlement.selectors.due import invoices_due_for_finalize


def finalize(batch: Sequence[int]) -> list[str]:
    """Finalize a batch in one transaction; if it fails, finalize its invoices one by one, so that one
    invoice's problem is reported as its own and does not hold back the others."""
    was_draft = set(
        Invoice.objects.filter(pk__in=batch, status=InvoiceStatus.DRAFT).values_list("pk", flat=True)
    )
    try:
        invoices = invoices_finalize(invoice_ids=batch)
    except Exception:
        if len(batch) == 1:
            raise
        labels = []
        for invoice_id in batch:
            try:
                labels += finalize([invoice_id])
            except Exception as exc:
                labels.append(f"failed ({type(exc).__name__})")
        return labels
    return [
        "already finalized"
        if invoice.pk not in was_draft
        else "awaiting approval"
        if invoice.is_draft
        else f"finalized as #{invoice.number}"
        for invoice in invoices
    ]


class Command(BaseCommand):
    help = "Finalize draft invoices (numbered per vendor without gaps; outcomes become billed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--invoice", type=int)
        parser.add_argument("--all-due", action="store_true")
        parser.add_argument(
            "--batch-size",
            type=int,
            default=FINALIZE_BATCH,
            help=f"Invoices finalized per transaction (default {FINALIZE_BATCH}).",
        )

    def handle(self, *args: Any, invoice: int | None, all_due: bool, batch_size: int, **options: Any) -> None:
        ids = invoices_due_for_finalize(now=timezone.now()) if all_due else [invoice] if invoice else []
        run_batches_with_progress(
            list(invoices_in_batches(ids, batch_size)),
            finalize,
            title="Finalizing invoices",
            stdout=self.stdout,
        )

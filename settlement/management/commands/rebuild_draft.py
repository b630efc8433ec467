"""Rebuild draft invoices from the current outcomes (deterministic; finalized invoices are left alone)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from settlement.invoicing.close import CLOSE_BATCH
from settlement.invoicing.rebuild import invoices_rebuild
from settlement.management.progress import run_batches_with_progress
from settlement.models import Invoice, InvoiceStatus


class Command(BaseCommand):
    help = "Rebuild one draft invoice (--invoice) or every draft (--all)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--invoice", type=int)
        parser.add_argument("--all", action="store_true")

    def handle(self, *args: Any, invoice: int | None, all: bool, **options: Any) -> None:
        drafts = Invoice.objects.filter(status=InvoiceStatus.DRAFT)
        ids = (
            list(drafts.order_by("id").values_list("id", flat=True)) if all else [invoice] if invoice else []
        )
        run_batches_with_progress(
            [ids[start : start + CLOSE_BATCH] for start in range(0, len(ids), CLOSE_BATCH)],
            lambda batch: [
                "rebuilt" if rebuilt.is_draft else "not a draft"
                for rebuilt in invoices_rebuild(invoice_ids=batch)
            ],
            title="Rebuilding drafts",
            stdout=self.stdout,
        )

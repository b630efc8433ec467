"""Finalize drafts: one (--invoice) or all whose grace period is over (--all-due). Repeating does nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from settlement.management.progress import run_with_progress
from settlement.models import Invoice
from settlement.services.invoicing import invoice_finalize, invoices_due_for_finalize


class Command(BaseCommand):
    help = "Finalize draft invoices (numbered per vendor without gaps; outcomes become billed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--invoice", type=int)
        parser.add_argument("--all-due", action="store_true")

    def handle(self, *args: Any, invoice: int | None, all_due: bool, **options: Any) -> None:
        ids = invoices_due_for_finalize(now=timezone.now()) if all_due else [invoice] if invoice else []

        def finalize(invoice_id: int) -> str:
            was_draft = Invoice.objects.get(pk=invoice_id).is_draft
            result = invoice_finalize(invoice_id=invoice_id)
            return f"finalized as #{result.number}" if was_draft else "already finalized"

        run_with_progress(ids, finalize, title="Finalizing invoices", stdout=self.stdout)

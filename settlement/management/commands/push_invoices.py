"""Settle finalized invoices through Stripe (resuming interrupted ones): --invoice or --all-pending."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from settlement.management.progress import run_with_progress
from settlement.selectors.due import invoices_to_push
from settlement.stripe_gateway import invoice_push


class Command(BaseCommand):
    help = "Push finalized invoices to Stripe; each Stripe call is idempotent, so re-running is safe."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--invoice", type=int)
        parser.add_argument("--all-pending", action="store_true")

    def handle(self, *args: Any, invoice: int | None, all_pending: bool, **options: Any) -> None:
        ids = invoices_to_push() if all_pending else [invoice] if invoice else []
        run_with_progress(
            ids,
            lambda i: str(invoice_push(invoice_id=i).status),
            title="Pushing to Stripe",
            stdout=self.stdout,
        )

"""Close ended periods: one contract's (--contract, optionally --period-start) or every one due (--all-due)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from settlement.invoicing.close import CLOSE_BATCH, periods_close, periods_in_batches
from settlement.management.progress import run_batches_with_progress
from settlement.selectors.due import periods_due


def close(batch: Sequence[tuple[Any, dt.datetime]]) -> list[str]:
    """Close a batch in one transaction; if it fails, close its periods one by one, so that one
    contract's problem is reported as its own and does not hold back the others."""
    try:
        invoices = periods_close(periods=batch)
    except Exception:
        if len(batch) == 1:
            raise
        labels = []
        for item in batch:
            try:
                labels += close([item])
            except Exception as exc:
                labels.append(f"failed ({type(exc).__name__})")
        return labels
    return ["closed" if invoice.is_draft else "already finalized" for invoice in invoices]


class Command(BaseCommand):
    help = "Close ended billing periods into draft invoices (idempotent: closing twice keeps one invoice)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--contract", help="Only this contract's due periods.")
        parser.add_argument(
            "--all-due", action="store_true", help="Every contract's ended, unclosed periods."
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=CLOSE_BATCH,
            help=f"Periods closed per transaction (default {CLOSE_BATCH}).",
        )

    def handle(
        self, *args: Any, contract: str | None, all_due: bool, batch_size: int, **options: Any
    ) -> None:
        if not contract and not all_due:
            raise CommandError("Say --contract <id> or --all-due.")
        due = [(c, start) for c, start in periods_due(now=timezone.now()) if all_due or str(c) == contract]
        run_batches_with_progress(
            list(periods_in_batches(due, batch_size)), close, title="Closing periods", stdout=self.stdout
        )

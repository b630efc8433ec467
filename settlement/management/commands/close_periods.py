"""Close ended periods: one contract's (--contract, optionally --period-start) or every one due (--all-due)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from settlement.management.progress import run_with_progress
from settlement.services.invoicing import period_close, periods_due


class Command(BaseCommand):
    help = "Close ended billing periods into draft invoices (idempotent: closing twice keeps one invoice)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--contract", help="Only this contract's due periods.")
        parser.add_argument(
            "--all-due", action="store_true", help="Every contract's ended, unclosed periods."
        )

    def handle(self, *args: Any, contract: str | None, all_due: bool, **options: Any) -> None:
        if not contract and not all_due:
            raise CommandError("Say --contract <id> or --all-due.")
        due = [(c, start) for c, start in periods_due(now=timezone.now()) if all_due or str(c) == contract]

        def close(item: tuple[Any, dt.datetime]) -> str:
            invoice = period_close(contract_id=item[0], period_start=item[1])
            return "closed" if invoice.is_draft else "already finalized"

        run_with_progress(due, close, title="Closing periods", stdout=self.stdout)

"""Inspect a settlement Stripe refused, then retry its failed step or abandon it (audited)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import Conflict
from settlement.models import Invoice, SettlementStatus
from settlement.services.settlement_steps import settlement_abandon, settlement_step_retry
from settlement.stripe_gateway import SettlementBlocked, StripeUnavailable, invoice_push


class Command(BaseCommand):
    help = (
        "List blocked settlements (no option), show an invoice's steps (--invoice), retry a failed step "
        "(--invoice N --retry STEP) or abandon the invoice's settlement (--invoice N --abandon --reason ...)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--invoice", type=int)
        parser.add_argument("--retry", metavar="STEP")
        parser.add_argument("--abandon", action="store_true")
        parser.add_argument("--reason", default="")
        parser.add_argument("--actor", default="operator:cli")

    def handle(
        self,
        *args: Any,
        invoice: int | None,
        retry: str | None,
        abandon: bool,
        reason: str,
        actor: str,
        **options: Any,
    ) -> None:
        if invoice is None:
            blocked = Invoice.objects.filter(settlement_status=SettlementStatus.BLOCKED).order_by("id")
            for row in blocked:
                self.stdout.write(f"invoice {row.pk} (#{row.number}): {row.stripe_error}")
            self.stdout.write(f"{blocked.count()} blocked settlement(s).")
            return
        try:
            if retry:
                settlement_step_retry(invoice_id=invoice, step=retry, actor=actor)
                self.stdout.write(f"Step {retry} of invoice {invoice} will run again.")
                try:
                    invoice_push(invoice_id=invoice)
                except (SettlementBlocked, StripeUnavailable) as exc:
                    self.stdout.write(f"Not settled yet: {exc}")
            elif abandon:
                if not reason:
                    raise CommandError("--abandon needs --reason (it goes to the audit log).")
                settlement_abandon(invoice_id=invoice, actor=actor, reason=reason)
                self.stdout.write(f"Settlement of invoice {invoice} abandoned.")
        except Conflict as exc:
            raise CommandError(str(exc)) from exc
        except Invoice.DoesNotExist as exc:
            raise CommandError(f"No invoice {invoice}.") from exc
        shown = Invoice.objects.get(pk=invoice)
        self.stdout.write(
            f"invoice {shown.pk} #{shown.number}: {shown.status}, settlement {shown.settlement_status}"
        )
        for step in shown.settlement_steps.order_by("id"):
            self.stdout.write(
                f"  {step.step}: {step.status} (key {step.idempotency_key}, {step.attempts} attempt(s))"
                f"{' ' + step.stripe_id if step.stripe_id else ''}{' — ' + step.error if step.error else ''}"
            )

"""Read unsettled invoices back from Stripe (for missed webhooks); a status only ever moves forward."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from settlement.management.progress import run_with_progress
from settlement.models import Invoice, InvoiceStatus
from settlement.services.payment_status import (
    STATUS_BY_STRIPE_STATUS,
    invoice_status_advance,
    stripe_invoice_facts,
)
from settlement.stripe_gateway import invoice_retrieve


class Command(BaseCommand):
    help = "Resync payment status from Stripe for invoices not yet paid or void; never moves one backwards."

    def handle(self, *args: Any, **options: Any) -> None:
        invoices = list(
            Invoice.objects.exclude(status__in=[InvoiceStatus.DRAFT, InvoiceStatus.PAID, InvoiceStatus.VOID])
            .exclude(stripe_invoice_id="")
            .order_by("id")
        )

        def resync(invoice: Invoice) -> str:
            remote = invoice_retrieve(invoice=invoice)
            Invoice.objects.filter(pk=invoice.pk).update(**stripe_invoice_facts(remote))
            status = STATUS_BY_STRIPE_STATUS.get(str(remote.get("status")))
            if status is None or not invoice_status_advance(invoice_id=invoice.pk, status=status):
                return "unchanged"
            return f"now {status}"

        run_with_progress(invoices, resync, title="Resyncing payments", stdout=self.stdout)

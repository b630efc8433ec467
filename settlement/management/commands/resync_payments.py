"""Read each open invoice's status back from Stripe (for missed webhooks): paid, void, uncollectible."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from settlement.management.progress import run_with_progress
from settlement.models import Invoice, InvoiceStatus
from settlement.stripe_gateway import invoice_fetch_status

STATUS = {
    "paid": InvoiceStatus.PAID,
    "void": InvoiceStatus.VOID,
    "uncollectible": InvoiceStatus.UNCOLLECTIBLE,
    "open": InvoiceStatus.OPEN,
}


class Command(BaseCommand):
    help = "Resync payment status from Stripe for invoices not yet paid, void or uncollectible."

    def handle(self, *args: Any, **options: Any) -> None:
        invoices = list(
            Invoice.objects.filter(status__in=[InvoiceStatus.OPEN, InvoiceStatus.PAYMENT_FAILED]).exclude(
                stripe_invoice_id=""
            )
        )

        def resync(invoice: Invoice) -> str:
            status = STATUS.get(invoice_fetch_status(invoice=invoice))
            if status is None or status == invoice.status:
                return "unchanged"
            Invoice.objects.filter(pk=invoice.pk, status=invoice.status).update(status=status)
            return f"now {status}"

        run_with_progress(invoices, resync, title="Resyncing payments", stdout=self.stdout)

"""Invoice locks, taken in one order so that batches running side by side never deadlock."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import QuerySet

from settlement.models import (
    Invoice,
)


def invoices_locked(queryset: QuerySet[Invoice]) -> list[Invoice]:
    """Lock invoices (and their contracts, as each build reads them) in one order, so that batches
    running side by side never deadlock."""
    return list(
        queryset.select_for_update().select_related("contract").order_by("contract_id", "period_start")
    )


def invoices_locked_in_order(invoice_ids: Sequence[int]) -> list[Invoice]:
    """Lock these invoices (see invoices_locked); returned in the order of `invoice_ids`, each once."""
    invoices = {
        invoice.pk: invoice for invoice in invoices_locked(Invoice.objects.filter(pk__in=invoice_ids))
    }
    missing = set(invoice_ids) - set(invoices)
    if missing:
        raise Invoice.DoesNotExist(f"No invoice {min(missing)}.")
    return [invoices[invoice_id] for invoice_id in dict.fromkeys(invoice_ids)]

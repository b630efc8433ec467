"""`{{ invoice|collection_warning }}`: why Stripe could not collect the invoice automatically, or ""."""

from __future__ import annotations

from django import template

from settlement.collectability import invoice_collection_warning
from settlement.models import Invoice

register = template.Library()


@register.filter
def collection_warning(invoice: Invoice) -> str:
    return invoice_collection_warning(invoice=invoice)

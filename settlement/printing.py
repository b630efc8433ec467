"""The printable invoice (templates/settlement/invoice_print.html), served by the API and the portal alike."""

from __future__ import annotations

from django.template.loader import render_to_string

from settlement.models import Invoice
from settlement.money import format_minor


def invoice_print_html(*, invoice: Invoice) -> str:
    """The invoice as a standalone page to print; `invoice` from `selectors.invoice_get` (lines prefetched)."""
    lines = [
        {"line": line, "amount": format_minor(line.amount_minor, invoice.currency)}
        for line in invoice.lines.all()
    ]
    return render_to_string(
        "settlement/invoice_print.html",
        {"invoice": invoice, "lines": lines, "total": format_minor(invoice.total_minor, invoice.currency)},
    )

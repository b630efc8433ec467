"""The printable invoice (templates/settlement/invoice_print.html), served by the API and the portal alike."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from settlement.models import Invoice
from settlement.money import format_minor


def csp_nonce(request: Any) -> str:
    """The response's Content-Security-Policy nonce (django-csp's lazy `request.csp_nonce`)."""
    return str(getattr(request, "csp_nonce", ""))


def invoice_print_html(*, invoice: Invoice, style_nonce: str = "") -> str:
    """The invoice as a standalone page to print; `invoice` from `selectors.invoice_get` (lines prefetched).

    Its stylesheet is inline, so a saved copy prints alike; `style_nonce` is the response's
    Content-Security-Policy nonce (`request.csp_nonce`) that lets the browser apply it."""
    lines = [
        {"line": line, "amount": format_minor(line.amount_minor, invoice.currency)}
        for line in invoice.lines.all()
    ]
    return render_to_string(
        "settlement/invoice_print.html",
        {
            "invoice": invoice,
            "lines": lines,
            "total": format_minor(invoice.total_minor, invoice.currency),
            "style_nonce": style_nonce,
        },
    )

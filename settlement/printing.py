"""The printable invoice (templates/settlement/invoice_print.html), served by the API and the portal alike."""

from __future__ import annotations

from django.http import HttpRequest
from django.template.loader import render_to_string

from settlement.models import Invoice, LineKind
from settlement.selectors.invoices import invoice_credit_notes

# Lines that take off what the invoice charges (their amounts are negative): the invoice's "credits".
CREDIT_KINDS = frozenset({LineKind.CLAWBACK, LineKind.AUDIT_ADJUSTMENT, LineKind.CREDIT_APPLIED})


def csp_nonce(request: HttpRequest) -> str:
    """The response's Content-Security-Policy nonce (django-csp's lazy `request.csp_nonce`)."""
    return str(getattr(request, "csp_nonce", ""))


def invoice_print_html(*, invoice: Invoice, style_nonce: str = "") -> str:
    """The invoice as a standalone page to print, with what an invoice carries: its number, issue and due
    dates, both parties, the period, the lines, subtotal, credits, tax and total, and where payment
    stands. `invoice` from `selectors.invoice_get` (lines prefetched); dates in the contract's zone.

    Its stylesheet is inline, so a saved copy prints alike; `style_nonce` is the response's
    Content-Security-Policy nonce (`request.csp_nonce`) that lets the browser apply it."""
    lines = list(invoice.lines.all())
    credits_minor = sum(line.amount_minor for line in lines if line.kind in CREDIT_KINDS)
    return render_to_string(
        "settlement/invoice_print.html",
        {
            "invoice": invoice,
            "contract": invoice.contract,
            "customer": invoice.contract.customer,
            "lines": lines,
            "subtotal_minor": invoice.total_minor - credits_minor,
            "credits_minor": credits_minor,
            "has_credits": any(line.kind in CREDIT_KINDS for line in lines),
            "amount_due_minor": invoice.total_minor + (invoice.tax_minor or 0),
            "credit_notes": list(invoice_credit_notes(invoice=invoice)),
            "style_nonce": style_nonce,
        },
    )

"""The public pages behind an invoice share link: an invoice's evidence (lines → outcomes → raw events and
verdicts) and its CSV, for an auditor without an account. No sign-in, no session; rate limited per client
address, so links cannot be guessed cheaply; an unknown, revoked or expired link is the same 404."""

from __future__ import annotations

import csv
import functools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.errors import NotFound
from core.networks import sender_address
from core.portal import keyset_page
from core.ratelimits import rate_limit_retry_after
from outcomes.rules import reason_text
from settlement.models import InvoiceShareLink
from settlement.selectors.invoices import credit_notes_with_first_outcomes, invoice_lines_shown
from settlement.selectors.share_links import shared_csv_rows, shared_line_outcomes
from settlement.services.share_links import share_link_record_view, share_link_resolve

OUTCOMES_PER_PAGE = 50
CREDIT_NOTE_OUTCOMES_SHOWN = 50
# Nothing kept by a browser or proxy, no Referer leaked from the page, no search engine indexing.
SHARED_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}

SharedView = Callable[[HttpRequest, InvoiceShareLink], HttpResponseBase]


def shared_view(view: SharedView) -> Callable[[HttpRequest, str], HttpResponseBase]:
    """Rate limit by client address, resolve the link (the same 404 for any link not live), count the
    view, and set SHARED_HEADERS on every answer, refusals included."""

    @require_GET
    @functools.wraps(view)
    def wrapper(request: HttpRequest, token: str) -> HttpResponseBase:
        response = _answer(request, token, view)
        for name, value in SHARED_HEADERS.items():
            response[name] = value
        return response

    return wrapper


def _answer(request: HttpRequest, token: str, view: SharedView) -> HttpResponseBase:
    address = sender_address(request.META, hops=settings.WEBHOOK_TRUSTED_PROXY_HOPS) or "unknown"
    retry_after = rate_limit_retry_after(
        request=request, scope="shared-invoice", key=address, rate=settings.SHARED_LINK_RATE_LIMIT
    )
    if retry_after is not None:
        response = render(
            request, "settlement/shared_rate_limited.html", {"retry_after": retry_after}, status=429
        )
        response["Retry-After"] = str(retry_after)
        return response
    now = timezone.now()
    try:
        link = share_link_resolve(token=token, now=now)
    except NotFound:
        return render(request, "settlement/shared_not_found.html", status=404)
    share_link_record_view(link=link, now=now)
    return view(request, link)


@shared_view
def shared_invoice(request: HttpRequest, link: InvoiceShareLink) -> HttpResponse:
    """The invoice's header, lines and credit notes; the outcomes of one line (`?line=`, by default the
    first that bills outcomes), a page at a time, each with its raw events and verdicts in plain words."""
    invoice = link.invoice
    lines, with_outcomes, line = invoice_lines_shown(invoice=invoice, wanted=request.GET.get("line", ""))
    page = (
        keyset_page(request, shared_line_outcomes(line=line), per_page=OUTCOMES_PER_PAGE, key="outcome_id")
        if line is not None
        else None
    )
    return render(
        request,
        "settlement/shared_invoice.html",
        {
            "link": link,
            "invoice": invoice,
            "vendor_name": invoice.vendor.name,
            "customer_name": invoice.contract.customer.name,
            "lines": lines,
            "outcome_lines": with_outcomes,
            "line": line,
            "page": page,
            "outcomes": _outcome_rows(page.items) if page is not None else [],
            "credit_notes": credit_notes_with_first_outcomes(
                invoice=invoice, first=CREDIT_NOTE_OUTCOMES_SHOWN
            ),
            "credit_note_outcomes_shown": CREDIT_NOTE_OUTCOMES_SHOWN,
        },
    )


def _outcome_rows(links: Iterable[Any]) -> list[dict[str, Any]]:
    return [
        {
            "outcome": link.outcome,
            "share_minor": link.share_minor,
            "events": [event_link.raw_event for event_link in link.outcome.event_links.all()],
            "verdicts": [
                {"verdict": verdict, "reason_text": reason_text(verdict.reason)}
                for verdict in link.outcome.verdict_trail
            ],
        }
        for link in links
    ]


class CsvEcho:
    """A file-like object whose write returns the line: csv.writer then yields rows to stream."""

    def write(self, value: str) -> str:
        return value


@shared_view
def shared_invoice_csv(request: HttpRequest, link: InvoiceShareLink) -> HttpResponseBase:
    """The invoice's lines with the outcome ids each bills, one row per outcome, streamed."""
    writer = csv.writer(CsvEcho())
    rows: Iterator[str] = (writer.writerow(row) for row in shared_csv_rows(invoice=link.invoice))
    number = link.invoice.number or link.invoice.pk
    return StreamingHttpResponse(
        rows,
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="invoice-{number}-lines.csv"'},
    )

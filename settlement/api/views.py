"""Vendor API over invoices: thin views over settlement.selectors."""

from __future__ import annotations

from django.http import HttpResponse
from django.template.loader import render_to_string
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from contracts.api.views import VendorApiView
from settlement import selectors
from settlement.api.serializers import InvoiceDetailOut, InvoiceFilter, InvoiceOut, LineOutcomeOut
from settlement.money import format_minor


class InvoiceListApi(VendorApiView):
    @extend_schema(operation_id="invoices_list", parameters=[InvoiceFilter], responses=InvoiceOut(many=True))
    def get(self, request: Request) -> Response:
        return self.paginated(
            selectors.invoice_list(vendor=self.vendor, **self.query(InvoiceFilter)),
            InvoiceOut,
            ordering=("-period_start", "-id"),
        )


class InvoiceDetailApi(VendorApiView):
    @extend_schema(
        operation_id="invoices_retrieve",
        responses=InvoiceDetailOut,
        description="An invoice with its lines, what was held over an amount cap, and each Stripe call made.",
    )
    def get(self, request: Request, invoice_id: str) -> Response:
        return Response(
            InvoiceDetailOut(selectors.invoice_get(vendor=self.vendor, invoice_id=invoice_id)).data
        )


class InvoiceLineOutcomesApi(VendorApiView):
    @extend_schema(
        operation_id="invoice_line_outcomes_list",
        responses=LineOutcomeOut(many=True),
        description="The outcomes a line bills or credits, with each exact share; follow /outcomes/{id} to raw events.",
    )
    def get(self, request: Request, invoice_id: str, position: int) -> Response:
        invoice = selectors.invoice_get(vendor=self.vendor, invoice_id=invoice_id)
        return self.paginated(
            selectors.line_outcomes(invoice=invoice, position=position),
            LineOutcomeOut,
            ordering=("outcome_id",),
        )


class InvoicePrintApi(VendorApiView):
    @extend_schema(operation_id="invoices_print", responses={(200, "text/html"): OpenApiTypes.STR})
    def get(self, request: Request, invoice_id: str) -> HttpResponse:
        invoice = selectors.invoice_get(vendor=self.vendor, invoice_id=invoice_id)
        lines = [
            {"line": line, "amount": format_minor(line.amount_minor, invoice.currency)}
            for line in invoice.lines.all()
        ]
        html = render_to_string(
            "settlement/invoice_print.html",
            {
                "invoice": invoice,
                "lines": lines,
                "total": format_minor(invoice.total_minor, invoice.currency),
            },
        )
        return HttpResponse(html, content_type="text/html; charset=utf-8")

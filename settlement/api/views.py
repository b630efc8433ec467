"""Vendor API over invoices: thin views over settlement.selectors."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from contracts.api.views import VendorApiView
from outcomes.api.views import CustomerApiView
from settlement import selectors
from settlement.api.serializers import InvoiceDetailOut, InvoiceFilter, InvoiceOut, LineOutcomeOut
from settlement.printing import csp_nonce, invoice_print_html
from settlement.services.approval import invoice_approve


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
        return HttpResponse(
            invoice_print_html(invoice=invoice, style_nonce=csp_nonce(request)),
            content_type="text/html; charset=utf-8",
        )


# --- the customer-facing API (a customer's key) -----------------------------------------


class CustomerInvoiceListApi(CustomerApiView):
    @extend_schema(
        operation_id="customer_invoices_list",
        parameters=[InvoiceFilter],
        responses=InvoiceOut(many=True),
        tags=["customer"],
        description="The customer's invoices, drafts included; `approval_status=pending` marks a draft "
        "that waits for their approval before it is finalized.",
    )
    def get(self, request: Request) -> Response:
        return self.paginated(
            selectors.invoice_list_for_customer(customer=self.customer, **self.query(InvoiceFilter)),
            InvoiceOut,
            ordering=("-period_start", "-id"),
        )


class CustomerInvoiceApproveApi(CustomerApiView):
    @extend_schema(
        operation_id="customer_invoices_approve",
        request=None,
        responses=InvoiceOut,
        tags=["customer"],
        description="Approve a draft's current total (contracts with an approval threshold). If the "
        "grace period is over, the invoice is finalized at once; a later rebuild that changes the "
        "total asks for approval again.",
    )
    def post(self, request: Request, invoice_id: str) -> Response:
        invoice = invoice_approve(customer=self.customer, invoice_id=invoice_id, actor=self.actor)
        return Response(InvoiceOut(invoice).data)

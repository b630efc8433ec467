"""Routes of the settlement part of the vendor API under /api/v1/."""

from django.urls import path

from settlement.api import views

urlpatterns = [
    path("invoices", views.InvoiceListApi.as_view(), name="invoices"),
    path("invoices/<str:invoice_id>", views.InvoiceDetailApi.as_view(), name="invoice"),
    path("invoices/<str:invoice_id>/print", views.InvoicePrintApi.as_view(), name="invoice-print"),
    path("customer/invoices", views.CustomerInvoiceListApi.as_view(), name="customer-invoices"),
    path(
        "customer/invoices/<str:invoice_id>/approve",
        views.CustomerInvoiceApproveApi.as_view(),
        name="customer-invoice-approve",
    ),
    path(
        "invoices/<str:invoice_id>/lines/<int:position>/outcomes",
        views.InvoiceLineOutcomesApi.as_view(),
        name="invoice-line-outcomes",
    ),
]

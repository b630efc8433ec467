"""Routes of the settlement part of the vendor API under /api/v1/."""

from django.urls import path

from settlement.api import views

urlpatterns = [
    path("invoices", views.InvoiceListApi.as_view(), name="invoices"),
    path("invoices/<str:invoice_id>", views.InvoiceDetailApi.as_view(), name="invoice"),
    path("invoices/<str:invoice_id>/print", views.InvoicePrintApi.as_view(), name="invoice-print"),
    path(
        "invoices/<str:invoice_id>/credit-notes",
        views.InvoiceCreditNotesApi.as_view(),
        name="invoice-credit-notes",
    ),
    path(
        "invoices/<str:invoice_id>/share-links",
        views.InvoiceShareLinksApi.as_view(),
        name="invoice-share-links",
    ),
    path(
        "invoices/<str:invoice_id>/share-links/<str:link_id>/revoke",
        views.InvoiceShareLinkRevokeApi.as_view(),
        name="invoice-share-link-revoke",
    ),
    path(
        "customer/invoices/<str:invoice_id>/share-links",
        views.CustomerInvoiceShareLinksApi.as_view(),
        name="customer-invoice-share-links",
    ),
    path(
        "customer/invoices/<str:invoice_id>/share-links/<str:link_id>/revoke",
        views.CustomerInvoiceShareLinkRevokeApi.as_view(),
        name="customer-invoice-share-link-revoke",
    ),
    path("customers/<str:customer_id>/stripe", views.CustomerStripeApi.as_view(), name="customer-stripe"),
    path(
        "customers/<str:customer_id>/stripe/setup-link",
        views.CustomerSetupLinkApi.as_view(),
        name="customer-stripe-setup-link",
    ),
    path("stripe-connection", views.StripeConnectionApi.as_view(), name="stripe-connection"),
    path("stripe-connection/test", views.StripeConnectionTestApi.as_view(), name="stripe-connection-test"),
    path("customer/invoices", views.CustomerInvoiceListApi.as_view(), name="customer-invoices"),
    path(
        "customer/invoices/<str:invoice_id>/approve",
        views.CustomerInvoiceApproveApi.as_view(),
        name="customer-invoice-approve",
    ),
    path(
        "customer/invoices/<str:invoice_id>/contest",
        views.CustomerInvoiceContestApi.as_view(),
        name="customer-invoice-contest",
    ),
    path(
        "customer/invoices/<str:invoice_id>/credit-notes",
        views.CustomerInvoiceCreditNotesApi.as_view(),
        name="customer-invoice-credit-notes",
    ),
    path(
        "invoices/<str:invoice_id>/lines/<int:position>/outcomes",
        views.InvoiceLineOutcomesApi.as_view(),
        name="invoice-line-outcomes",
    ),
]

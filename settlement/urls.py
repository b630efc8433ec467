"""Portal pages of the settlement app: the dashboard and invoices."""

from django.urls import path

from settlement import views

app_name = "settlement"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("invoices/", views.invoice_list, name="invoice-list"),
    path("invoices/<str:invoice_id>/", views.invoice_detail, name="invoice-detail"),
    path("invoices/<str:invoice_id>/print/", views.invoice_print, name="invoice-print"),
    path("invoices/<str:invoice_id>/lines/<str:position>/", views.invoice_line, name="invoice-line"),
    path(
        "invoices/<str:invoice_id>/actions/<str:action>/",
        views.invoice_action,
        name="invoice-action",
    ),
]

"""The public routes of invoice share links (no sign-in): the evidence page and its CSV."""

from django.urls import path

from settlement import shared_views

urlpatterns = [
    path("invoices/<str:token>/", shared_views.shared_invoice, name="invoice"),
    path("invoices/<str:token>/lines.csv", shared_views.shared_invoice_csv, name="invoice-csv"),
]

"""Portal pages of the settlement app: the dashboard, invoices, customers' billing and the Stripe settings."""

from django.urls import path

from settlement import connection_views, customer_member_views, customer_views, views

app_name = "settlement"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("invoices/", views.invoice_list_page, name="invoice-list"),
    path("invoices/<str:invoice_id>/", views.invoice_detail, name="invoice-detail"),
    path("invoices/<str:invoice_id>/print/", views.invoice_print, name="invoice-print"),
    path("invoices/<str:invoice_id>/lines/<str:position>/", views.invoice_line, name="invoice-line"),
    path(
        "invoices/<str:invoice_id>/actions/<str:action>/",
        views.invoice_action,
        name="invoice-action",
    ),
    path(
        "invoices/<str:invoice_id>/settlement/retry-step/",
        views.invoice_step_retry,
        name="invoice-step-retry",
    ),
    path(
        "invoices/<str:invoice_id>/settlement/abandon/",
        views.invoice_settlement_abandon,
        name="invoice-settlement-abandon",
    ),
    path(
        "invoices/<str:invoice_id>/share-links/",
        views.invoice_share_link_create,
        name="invoice-share-link-create",
    ),
    path(
        "invoices/<str:invoice_id>/share-links/<str:link_id>/revoke/",
        views.invoice_share_link_revoke,
        name="invoice-share-link-revoke",
    ),
    path(
        "invoices/<str:invoice_id>/credit-notes/<str:credit_note_id>/",
        views.credit_note_detail,
        name="credit-note-detail",
    ),
    path("customers/", customer_views.customer_list, name="customer-list"),
    # Before customers/<customer_id>/, which would take "new" for an id.
    path("customers/new/", customer_views.customer_create_page, name="customer-create"),
    path("customers/<str:customer_id>/", customer_views.customer_detail, name="customer-detail"),
    path("customers/<str:customer_id>/edit/", customer_views.customer_edit_page, name="customer-edit"),
    path(
        "customers/<str:customer_id>/tax-details/",
        customer_views.customer_tax_details_page,
        name="customer-tax-details",
    ),
    path(
        "customers/<str:customer_id>/stripe/link/",
        customer_views.customer_stripe_link_page,
        name="customer-stripe-link",
    ),
    path(
        "customers/<str:customer_id>/stripe/unlink/",
        customer_views.customer_stripe_unlink_page,
        name="customer-stripe-unlink",
    ),
    path(
        "customers/<str:customer_id>/stripe/setup-link/",
        customer_views.customer_setup_link_page,
        name="customer-setup-link",
    ),
    path(
        "customers/<str:customer_id>/members/",
        customer_member_views.customer_member_invite_page,
        name="customer-member-invite",
    ),
    path(
        "customers/<str:customer_id>/members/<str:customer_member_id>/role/",
        customer_member_views.customer_member_role_page,
        name="customer-member-role",
    ),
    path(
        "customers/<str:customer_id>/members/<str:customer_member_id>/remove/",
        customer_member_views.customer_member_remove_page,
        name="customer-member-remove",
    ),
    path("billing/card-saved/", customer_views.card_saved, name="card-saved"),
    path("settings/stripe/", connection_views.stripe_connection_page, name="stripe-connection"),
    path("settings/stripe/connect/", connection_views.stripe_connect_page, name="stripe-connect"),
    path("settings/stripe/test/", connection_views.stripe_test_page, name="stripe-test"),
    path("settings/stripe/rotate/", connection_views.stripe_rotate_page, name="stripe-rotate"),
    path("settings/stripe/tax/", connection_views.stripe_tax_page, name="stripe-tax"),
    path("settings/stripe/disconnect/", connection_views.stripe_disconnect_page, name="stripe-disconnect"),
]

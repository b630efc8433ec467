"""The customer portal's pages, under /customer/."""

from django.urls import path

from customer_portal import contracts, controls, endpoints, invoices, outcome_actions, people, views

app_name = "customer"

urlpatterns = [
    path("", views.overview_page, name="overview"),
    path("outcomes/", views.outcome_list_page, name="outcome-list"),
    path("outcomes/bulk/", outcome_actions.outcome_bulk_page, name="outcome-bulk"),
    path("outcomes/export.csv", outcome_actions.outcome_export_page, name="outcome-export"),
    path("outcomes/<str:outcome_id>/", views.outcome_detail_page, name="outcome-detail"),
    path("outcomes/<str:outcome_id>/decide/", outcome_actions.outcome_decide_page, name="outcome-decide"),
    path("outcomes/<str:outcome_id>/dispute/", outcome_actions.outcome_dispute_page, name="outcome-dispute"),
    path("outcomes/<str:outcome_id>/attest/", outcome_actions.outcome_attest_page, name="outcome-attest"),
    path("outcomes/<str:outcome_id>/contest/", outcome_actions.outcome_contest_page, name="outcome-contest"),
    path(
        "outcomes/<str:outcome_id>/evidence/<str:attachment_id>/",
        outcome_actions.attachment_download_page,
        name="outcome-evidence",
    ),
    path("invoices/", invoices.invoice_list_page, name="invoice-list"),
    path("invoices/<str:invoice_id>/", invoices.invoice_detail_page, name="invoice-detail"),
    path("invoices/<str:invoice_id>/print/", invoices.invoice_print_page, name="invoice-print"),
    path("invoices/<str:invoice_id>/lines.csv", invoices.invoice_csv_page, name="invoice-csv"),
    path("invoices/<str:invoice_id>/approve/", invoices.invoice_approve_page, name="invoice-approve"),
    path("invoices/<str:invoice_id>/contest/", invoices.invoice_contest_page, name="invoice-contest"),
    path(
        "invoices/<str:invoice_id>/share-links/",
        invoices.invoice_share_link_create_page,
        name="invoice-share-link-create",
    ),
    path(
        "invoices/<str:invoice_id>/share-links/<str:link_id>/revoke/",
        invoices.invoice_share_link_revoke_page,
        name="invoice-share-link-revoke",
    ),
    path("accounts/", views.account_list_page, name="accounts"),
    path("accounts/<str:customer_id>/", views.account_switch_page, name="account-switch"),
    path("contracts/", contracts.contract_list_page, name="contract-list"),
    path("contracts/<str:contract_id>/", contracts.contract_detail_page, name="contract-detail"),
    path("settings/", controls.settings_page, name="settings"),
    path("settings/caps/<str:contract_id>/<str:outcome_type>/", controls.cap_set_page, name="cap-set"),
    path(
        "settings/caps/<str:contract_id>/<str:outcome_type>/remove/",
        controls.cap_remove_page,
        name="cap-remove",
    ),
    path("settings/sources/", controls.source_create_page, name="source-create"),
    path("settings/sources/<str:source_id>/approve/", controls.source_approve_page, name="source-approve"),
    path("settings/sources/<str:source_id>/rotate/", controls.source_rotate_page, name="source-rotate"),
    path("settings/endpoints/", controls.endpoint_create_page, name="endpoint-create"),
    path("settings/endpoints/<str:endpoint_id>/", endpoints.endpoint_detail_page, name="endpoint-detail"),
    path("settings/endpoints/<str:endpoint_id>/edit/", endpoints.endpoint_edit_page, name="endpoint-edit"),
    path(
        "settings/endpoints/<str:endpoint_id>/resend-since/",
        endpoints.endpoint_resend_since_page,
        name="endpoint-resend-since",
    ),
    path(
        "settings/endpoints/<str:endpoint_id>/deliveries/<str:delivery_id>/resend/",
        endpoints.endpoint_delivery_resend_page,
        name="endpoint-delivery-resend",
    ),
    path(
        "settings/endpoints/<str:endpoint_id>/<str:action>/",
        endpoints.endpoint_action_page,
        name="endpoint-action",
    ),
    path("settings/api-keys/", controls.api_key_create_page, name="api-key-create"),
    path("settings/api-keys/<str:api_key_id>/revoke/", controls.api_key_revoke_page, name="api-key-revoke"),
    path("settings/people/", people.person_invite_page, name="person-invite"),
    path("settings/people/<str:customer_membership_id>/role/", people.person_role_page, name="person-role"),
    path(
        "settings/people/<str:customer_membership_id>/remove/",
        people.person_remove_page,
        name="person-remove",
    ),
]

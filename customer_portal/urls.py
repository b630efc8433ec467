"""The customer portal's pages, under /customer/."""

from django.urls import path

from customer_portal import outcome_actions, views

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
    path("accounts/", views.account_list_page, name="accounts"),
    path("accounts/<str:customer_id>/", views.account_switch_page, name="account-switch"),
]

"""The customer portal's pages, under /customer/."""

from django.urls import path

from customer_portal import views

app_name = "customer"

urlpatterns = [
    path("", views.overview_page, name="overview"),
    path("outcomes/", views.outcome_list_page, name="outcome-list"),
    path("outcomes/<str:outcome_id>/", views.outcome_detail_page, name="outcome-detail"),
    path("accounts/", views.account_list_page, name="accounts"),
    path("accounts/<str:customer_id>/", views.account_switch_page, name="account-switch"),
]

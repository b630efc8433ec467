"""Portal pages of the outcomes app: the explorer, an outcome's trail, the review queue, disputes."""

from django.urls import path

from outcomes import views

app_name = "outcomes"

urlpatterns = [
    path("outcomes/", views.outcome_list_page, name="outcome-list"),
    path("outcomes/<str:outcome_id>/", views.outcome_detail_page, name="outcome-detail"),
    path("outcomes/<str:outcome_id>/review/", views.outcome_review_page, name="outcome-review"),
    path("review/", views.review_queue_page, name="review-queue"),
    path(
        "review/<str:contract_id>/<str:flag_reason>/<str:day>/", views.review_group_page, name="review-group"
    ),
    path("disputes/", views.dispute_list_page, name="dispute-list"),
    path("disputes/<str:dispute_id>/", views.dispute_detail_page, name="dispute-detail"),
    path(
        "disputes/<str:dispute_id>/evidence/<str:attachment_id>/",
        views.dispute_attachment_page,
        name="dispute-evidence",
    ),
]

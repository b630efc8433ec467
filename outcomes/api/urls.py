"""Routes of the outcomes part of the vendor API under /api/v1/."""

from django.urls import path

from outcomes.api import views

urlpatterns = [
    path("outcomes", views.OutcomeListApi.as_view(), name="outcomes"),
    path("outcomes/<str:outcome_id>", views.OutcomeDetailApi.as_view(), name="outcome"),
    path("webhook-sources/<str:source_id>/deliveries", views.DeliveryListApi.as_view(), name="deliveries"),
    path(
        "webhook-sources/<str:source_id>/deliveries/<str:delivery_id>",
        views.DeliveryDetailApi.as_view(),
        name="delivery",
    ),
]

"""Routes of the outcomes part of the vendor API under /api/v1/."""

from django.urls import path

from outcomes.api import views

urlpatterns = [
    path("outcomes", views.OutcomeListApi.as_view(), name="outcomes"),
    path("outcomes/<str:outcome_id>", views.OutcomeDetailApi.as_view(), name="outcome"),
    path("outcomes/<str:outcome_id>/review", views.OutcomeReviewApi.as_view(), name="outcome-review"),
    path("review-queue", views.ReviewQueueApi.as_view(), name="review-queue"),
    path("verifier-accuracy", views.VerifierAccuracyApi.as_view(), name="verifier-accuracy"),
    path("disputes", views.DisputeListApi.as_view(), name="disputes"),
    path("disputes/<str:dispute_id>/respond", views.DisputeRespondApi.as_view(), name="dispute-respond"),
    path("customer/outcomes", views.CustomerOutcomeListApi.as_view(), name="customer-outcomes"),
    path(
        "customer/outcomes/<str:outcome_id>",
        views.CustomerOutcomeDetailApi.as_view(),
        name="customer-outcome",
    ),
    path(
        "customer/outcomes/<str:outcome_id>/review",
        views.CustomerOutcomeReviewApi.as_view(),
        name="customer-outcome-review",
    ),
    path(
        "customer/outcomes/<str:outcome_id>/dispute",
        views.CustomerOutcomeDisputeApi.as_view(),
        name="customer-outcome-dispute",
    ),
    path(
        "customer/outcomes/<str:outcome_id>/contest",
        views.CustomerOutcomeContestApi.as_view(),
        name="customer-outcome-contest",
    ),
    path(
        "customer/outcomes/<str:outcome_id>/attest",
        views.CustomerOutcomeAttestApi.as_view(),
        name="customer-outcome-attest",
    ),
    path(
        "contracts/<str:contract_id>/customer-caps",
        views.ContractCustomerCapListApi.as_view(),
        name="contract-customer-caps",
    ),
    path(
        "customer/contracts/<str:contract_id>/caps",
        views.CustomerContractCapListApi.as_view(),
        name="customer-contract-caps",
    ),
    path(
        "customer/contracts/<str:contract_id>/caps/<str:outcome_type>",
        views.CustomerContractCapApi.as_view(),
        name="customer-contract-cap",
    ),
    path("webhook-sources/<str:source_id>/deliveries", views.DeliveryListApi.as_view(), name="deliveries"),
    path(
        "webhook-sources/<str:source_id>/deliveries/<str:delivery_id>",
        views.DeliveryDetailApi.as_view(),
        name="delivery",
    ),
]

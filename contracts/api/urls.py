"""Routes of the vendor API under /api/v1/, and a customer's own webhook sources under customer/."""

from django.urls import path

from contracts.api import views

urlpatterns = [
    path("customers", views.CustomerListCreateApi.as_view(), name="customers"),
    path("customers/<str:customer_id>", views.CustomerDetailApi.as_view(), name="customer"),
    path(
        "customers/<str:customer_id>/api-keys",
        views.CustomerApiKeyCreateApi.as_view(),
        name="customer-api-keys",
    ),
    path("contracts", views.ContractListCreateApi.as_view(), name="contracts"),
    path("contracts/<str:contract_id>", views.ContractDetailApi.as_view(), name="contract"),
    path(
        "contracts/<str:contract_id>/versions",
        views.ContractVersionListCreateApi.as_view(),
        name="contract-versions",
    ),
    path(
        "contracts/<str:contract_id>/versions/<int:number>",
        views.ContractVersionDetailApi.as_view(),
        name="contract-version",
    ),
    path(
        "contracts/<str:contract_id>/version-in-force",
        views.ContractVersionInForceApi.as_view(),
        name="contract-version-in-force",
    ),
    path(
        "contracts/<str:contract_id>/activate",
        views.ContractActivateApi.as_view(),
        name="contract-activate",
    ),
    path(
        "contracts/<str:contract_id>/suspend",
        views.ContractSuspendApi.as_view(),
        name="contract-suspend",
    ),
    path(
        "contracts/<str:contract_id>/resume",
        views.ContractResumeApi.as_view(),
        name="contract-resume",
    ),
    path(
        "contracts/<str:contract_id>/terminate",
        views.ContractTerminateApi.as_view(),
        name="contract-terminate",
    ),
    path("webhook-sources", views.WebhookSourceListCreateApi.as_view(), name="webhook-sources"),
    path(
        "webhook-sources/<str:source_id>",
        views.WebhookSourceDetailApi.as_view(),
        name="webhook-source",
    ),
    path(
        "webhook-sources/<str:source_id>/rotate-secret",
        views.WebhookSourceRotateApi.as_view(),
        name="webhook-source-rotate",
    ),
    path(
        "webhook-sources/<str:source_id>/revoke",
        views.WebhookSourceRevokeApi.as_view(),
        name="webhook-source-revoke",
    ),
    path(
        "customer/webhook-sources",
        views.CustomerWebhookSourceListCreateApi.as_view(),
        name="customer-webhook-sources",
    ),
    path(
        "customer/webhook-sources/<str:source_id>/approve",
        views.CustomerWebhookSourceApproveApi.as_view(),
        name="customer-webhook-source-approve",
    ),
    path(
        "customer/webhook-sources/<str:source_id>/rotate-secret",
        views.CustomerWebhookSourceRotateApi.as_view(),
        name="customer-webhook-source-rotate",
    ),
    path("api-keys", views.ApiKeyListCreateApi.as_view(), name="api-keys"),
    path("api-keys/<str:api_key_id>", views.ApiKeyDetailApi.as_view(), name="api-key"),
    path("api-keys/<str:api_key_id>/revoke", views.ApiKeyRevokeApi.as_view(), name="api-key-revoke"),
]

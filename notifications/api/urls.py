"""Routes of the webhook endpoint API under /api/v1/: the vendor's, and a customer's own under customer/."""

from django.urls import path

from notifications.api import views

ENDPOINT = "<str:endpoint_id>"

urlpatterns = [
    path("webhook-endpoints", views.EndpointListCreateApi.as_view(), name="webhook-endpoints"),
    path(f"webhook-endpoints/{ENDPOINT}", views.EndpointDetailApi.as_view(), name="webhook-endpoint"),
    path(
        f"webhook-endpoints/{ENDPOINT}/rotate-secret",
        views.EndpointRotateApi.as_view(),
        name="webhook-endpoint-rotate",
    ),
    path(
        f"webhook-endpoints/{ENDPOINT}/enable",
        views.EndpointEnableApi.as_view(),
        name="webhook-endpoint-enable",
    ),
    path(
        f"webhook-endpoints/{ENDPOINT}/deliveries",
        views.EndpointDeliveryListApi.as_view(),
        name="webhook-endpoint-deliveries",
    ),
    path(
        f"webhook-endpoints/{ENDPOINT}/deliveries/<str:delivery_id>/resend",
        views.EndpointDeliveryResendApi.as_view(),
        name="webhook-endpoint-delivery-resend",
    ),
    path(
        f"webhook-endpoints/{ENDPOINT}/resend",
        views.EndpointResendSinceApi.as_view(),
        name="webhook-endpoint-resend-since",
    ),
    path(f"webhook-endpoints/{ENDPOINT}/test", views.EndpointTestApi.as_view(), name="webhook-endpoint-test"),
    path(
        "customer/webhook-endpoints",
        views.CustomerEndpointListCreateApi.as_view(),
        name="customer-webhook-endpoints",
    ),
    path(
        f"customer/webhook-endpoints/{ENDPOINT}",
        views.CustomerEndpointDetailApi.as_view(),
        name="customer-webhook-endpoint",
    ),
    path(
        f"customer/webhook-endpoints/{ENDPOINT}/rotate-secret",
        views.CustomerEndpointRotateApi.as_view(),
        name="customer-webhook-endpoint-rotate",
    ),
    path(
        f"customer/webhook-endpoints/{ENDPOINT}/enable",
        views.CustomerEndpointEnableApi.as_view(),
        name="customer-webhook-endpoint-enable",
    ),
    path(
        f"customer/webhook-endpoints/{ENDPOINT}/deliveries",
        views.CustomerEndpointDeliveryListApi.as_view(),
        name="customer-webhook-endpoint-deliveries",
    ),
    path(
        f"customer/webhook-endpoints/{ENDPOINT}/deliveries/<str:delivery_id>/resend",
        views.CustomerEndpointDeliveryResendApi.as_view(),
        name="customer-webhook-endpoint-delivery-resend",
    ),
    path(
        f"customer/webhook-endpoints/{ENDPOINT}/resend",
        views.CustomerEndpointResendSinceApi.as_view(),
        name="customer-webhook-endpoint-resend-since",
    ),
    path(
        f"customer/webhook-endpoints/{ENDPOINT}/test",
        views.CustomerEndpointTestApi.as_view(),
        name="customer-webhook-endpoint-test",
    ),
]

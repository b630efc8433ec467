"""Portal pages of the outbound webhooks: Settings > Webhooks out."""

from django.urls import path

from notifications import views

app_name = "notifications"

BASE = "settings/webhooks-out/"
ENDPOINT = BASE + "<str:endpoint_id>/"

urlpatterns = [
    path(BASE, views.endpoint_list_page, name="endpoint-list"),
    path(BASE + "new/", views.endpoint_create_page, name="endpoint-create"),
    path(ENDPOINT, views.endpoint_detail_page, name="endpoint-detail"),
    path(ENDPOINT + "rotate/", views.endpoint_rotate_page, name="endpoint-rotate"),
    path(ENDPOINT + "enable/", views.endpoint_enable_page, name="endpoint-enable"),
    path(ENDPOINT + "edit/", views.endpoint_edit_page, name="endpoint-edit"),
    path(ENDPOINT + "delete/", views.endpoint_delete_page, name="endpoint-delete"),
    path(ENDPOINT + "test/", views.endpoint_test_page, name="endpoint-test"),
    path(ENDPOINT + "resend/", views.endpoint_resend_since_page, name="endpoint-resend-since"),
    path(
        ENDPOINT + "deliveries/<str:delivery_id>/resend/",
        views.delivery_resend_page,
        name="delivery-resend",
    ),
]

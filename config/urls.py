"""Top-level routes: the portal, the vendor API, its schema and docs, the webhooks, the admin."""

from csp.decorators import csp_exempt
from django.conf import settings
from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from outcomes.webhooks import webhook_events
from settlement.webhooks import stripe_vendor_webhook, stripe_webhook

urlpatterns = [
    # The machine endpoints first: every webhook resolves its route, and behind the portal's and the
    # API's includes that took ~0.1 ms of a ~1.2 ms request (docs/performance.md). No other route starts
    # with webhooks/, so no route resolves differently.
    path("webhooks/v1/sources/<str:source_id>/events", webhook_events, name="webhook-events"),
    path("webhooks/stripe", stripe_webhook, name="stripe-webhook"),
    path("webhooks/stripe/<str:vendor_id>", stripe_vendor_webhook, name="stripe-vendor-webhook"),
    # Browsers ask for /favicon.ico on pages that name none (the admin, the API's JSON). Named when asked:
    # in production the icon's hashed name is known only once collectstatic has run, after `migrate`.
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("portal/favicon.svg"), permanent=True)),
    path("", include("settlement.urls")),
    path("", include("contracts.urls")),
    path("", include("outcomes.urls")),
    path("", include("notifications.urls")),
    path("customer/", include("customer_portal.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    # Public, outside every portal namespace: an invoice's evidence behind a share link, no sign-in.
    path("shared/", include(("settlement.shared_urls", "shared"), namespace="shared")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(("contracts.api.urls", "contracts-api"), namespace="api")),
    path("api/v1/", include(("outcomes.api.urls", "outcomes-api"), namespace="outcomes-api")),
    path("api/v1/", include(("settlement.api.urls", "settlement-api"), namespace="settlement-api")),
    path("api/v1/", include(("notifications.api.urls", "notifications-api"), namespace="notifications-api")),
    path(
        "api/schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="schema",
    ),
    path(
        "api/docs/",
        csp_exempt()(
            SpectacularSwaggerView.as_view(
                url_name="schema", authentication_classes=[], permission_classes=[]
            )
        ),
        name="api-docs",
    ),
]

admin.site.site_header = "Verity administration" + (
    " · payments go to a LOCAL Stripe test server" if settings.STRIPE_IS_LOCAL_TEST_SERVER else ""
)

handler404 = "core.api.errors.json_or_default_404"
handler500 = "core.api.errors.json_or_default_500"

"""The portal's notice of disabled webhook endpoints: a template context processor (settings.TEMPLATES),
since the dashboard and the settings page belong to apps that do not import this one."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from notifications.selectors import endpoints_disabled


def webhooks_out_notice(request: HttpRequest) -> dict[str, Any]:
    """`webhooks_out_disabled`: the signed-in vendor's disabled endpoints, read only if a page shows them."""
    vendor = getattr(request, "vendor", None)
    if vendor is None:
        return {}
    return {"webhooks_out_disabled": SimpleLazyObject(lambda: list(endpoints_disabled(vendor=vendor)))}

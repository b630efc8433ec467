"""DRF's throttle hook over core.ratelimits: one limit per API key (API_RATE_LIMIT), 429 with Retry-After."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from contracts.models import ApiKey
from core.ratelimits import rate_limit_retry_after

if TYPE_CHECKING:  # rest_framework.views imports this module through the settings
    from rest_framework.request import Request
    from rest_framework.views import APIView


class ApiKeyRateThrottle(BaseThrottle):
    """Counts requests per API key; runs after authentication, so unauthenticated requests are not counted."""

    retry_after: int | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        if not isinstance(request.auth, ApiKey):
            return True
        self.retry_after = rate_limit_retry_after(
            request=request._request, scope="api-key", key=str(request.auth.pk), rate=settings.API_RATE_LIMIT
        )
        return self.retry_after is None

    def wait(self) -> float | None:
        return self.retry_after

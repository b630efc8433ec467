"""Every API call needs a live vendor API key; read-only keys may only read."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.permissions import SAFE_METHODS, BasePermission

from contracts.models import ApiKey

if TYPE_CHECKING:  # rest_framework.views imports this module through the settings
    from rest_framework.request import Request
    from rest_framework.views import APIView


class HasVendorApiKey(BasePermission):
    message = "This API key is read-only."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not isinstance(request.auth, ApiKey):
            return False
        return request.method in SAFE_METHODS or request.auth.scope == ApiKey.Scope.WRITE

"""Every API call needs a live vendor API key; read-only keys may only read."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.permissions import SAFE_METHODS, BasePermission

from contracts.models import ApiKey

if TYPE_CHECKING:  # rest_framework.views imports this module through the settings
    from rest_framework.request import Request
    from rest_framework.views import APIView


class HasVendorApiKey(BasePermission):
    """A vendor's own key (not a customer's); read-only keys may only read."""

    message = "This API key is read-only."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not isinstance(request.auth, ApiKey):
            return False
        if request.auth.customer_id is not None:
            self.message = "A customer's API key reaches only /api/v1/customer/."
            return False
        return request.method in SAFE_METHODS or request.auth.scope == ApiKey.Scope.WRITE


class HasCustomerApiKey(BasePermission):
    """A key the vendor issued to one customer; read-only ones may only read."""

    message = "This endpoint needs a customer's API key with write scope."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not isinstance(request.auth, ApiKey) or request.auth.customer_id is None:
            return False
        return request.method in SAFE_METHODS or request.auth.scope == ApiKey.Scope.WRITE

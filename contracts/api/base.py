"""The two API audiences' base views: a vendor's key reaches the vendor API, a customer's key only the customer
API. Both live here, beside the API key authentication and permissions they rest on."""

from __future__ import annotations

from contracts.api.authentication import ApiKeyPrincipal
from contracts.api.permissions import HasCustomerApiKey
from contracts.models import Customer, Vendor
from core.api.views import ApiView


class VendorApiView(ApiView):
    """Base for vendor endpoints: the vendor and the actor come from the authenticated API key."""

    @property
    def principal(self) -> ApiKeyPrincipal:
        user = self.request.user
        assert isinstance(user, ApiKeyPrincipal)
        return user

    @property
    def vendor(self) -> Vendor:
        return self.principal.vendor

    @property
    def actor(self) -> str:
        return self.principal.actor


class CustomerApiView(VendorApiView):
    """Base for the customer API (a key the vendor issued to one customer): that customer's objects only."""

    permission_classes = [HasCustomerApiKey]

    @property
    def customer(self) -> Customer:
        customer = self.principal.customer
        assert customer is not None
        return customer

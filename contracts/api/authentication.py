"""API-key authentication: `Authorization: Bearer vrt_<prefix>_<secret>`."""

from __future__ import annotations

from dataclasses import dataclass

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from contracts.models import ApiKey, Customer, Vendor
from contracts.services.credentials import api_key_authenticate


@dataclass(frozen=True)
class ApiKeyPrincipal:
    """Stands in for request.user when a vendor's API key authenticated the request."""

    api_key: ApiKey

    is_authenticated = True
    is_anonymous = False

    @property
    def vendor(self) -> Vendor:
        return self.api_key.vendor

    @property
    def customer(self) -> Customer | None:
        return self.api_key.customer

    @property
    def actor(self) -> str:
        return f"api_key:{self.api_key.prefix}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[ApiKeyPrincipal, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, raw_key = header.partition(" ")
        if scheme.lower() != "bearer" or not raw_key.strip():
            raise exceptions.AuthenticationFailed("Use `Authorization: Bearer <API key>`.")
        api_key = api_key_authenticate(raw_key=raw_key.strip())
        if api_key is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        return ApiKeyPrincipal(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="verity"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "contracts.api.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "vrt_<prefix>_<secret>"}

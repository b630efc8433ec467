"""A vendor with an API key and a client that sends it: the starting point of most API stories; a
customer's client likewise."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework.test import APIClient

from contracts.models import ApiKey, Customer, Vendor
from contracts.services.credentials import api_key_create
from tests.factories import VendorFactory


@dataclass
class VendorApi:
    """A vendor, one of its API keys, and a client that sends that key."""

    vendor: Vendor
    api_key: ApiKey
    raw_key: str
    client: APIClient


def make_vendor_api(vendor: Vendor | None = None, scope: str = ApiKey.Scope.WRITE) -> VendorApi:
    vendor = vendor if vendor is not None else VendorFactory.create()
    api_key, raw_key = api_key_create(vendor=vendor, name="tests", scope=scope, actor="system")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return VendorApi(vendor=vendor, api_key=api_key, raw_key=raw_key, client=client)


def customer_api_client(customer: Customer, scope: str = ApiKey.Scope.WRITE) -> APIClient:
    """A client sending a key the vendor issued to `customer` (it reaches only /api/v1/customer/)."""
    _, raw_key = api_key_create(
        vendor=customer.vendor, name="customer", scope=scope, actor="system", customer=customer
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client

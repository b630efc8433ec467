"""Tenant isolation over every customer portal page (/customer/): a member of another customer of the
same vendor, and one of another vendor's customer, find none of a customer's objects, by any route,
with GET or POST (404, so their existence does not leak), and nothing changes. The routes are read from
the URL resolver, as tests/portal/test_isolation.py does for the vendor portal.

Between the portals: a vendor's member who belongs to no customer gets 403 on every customer page; a
customer's person who belongs to no vendor is sent from a vendor page to /customer/ (GET) or refused
(403, any other method): neither portal shows the other's pages to someone who is not a member there.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from contracts.models import CustomerRole, Role
from contracts.services.credentials import api_key_create
from notifications.models import Endpoint
from notifications.services.deliveries import endpoint_send_test
from notifications.services.endpoints import endpoint_create
from outcomes.models import Outcome
from outcomes.services.review import dispute_open
from settlement.services.share_links import share_link_create
from tests.factories import CustomerFactory
from tests.portal.test_isolation import portal_routes
from tests.support.estate import db_fingerprint
from tests.support.evidence import dispute_file
from tests.support.ingest import make_ingest
from tests.support.portal import make_customer_member, make_member, signed_in
from tests.support.settlement import APRIL, MARCH, billable, close_and_finalize
from tests.support.vendors import make_vendor_api

pytestmark = pytest.mark.django_db

PARAMS = (
    "outcome_id",
    "customer_id",
    "contract_id",
    "outcome_type",
    "source_id",
    "endpoint_id",
    "delivery_id",
    "action",
    "api_key_id",
    "invoice_id",
    "link_id",
    "attachment_id",
    "customer_membership_id",
)
PUBLIC = {"billing/card-saved/"}  # where Stripe sends anyone back: it names nothing


def customer_routes() -> list[tuple[str, list[str]]]:
    for resolver in get_resolver().url_patterns:
        if isinstance(resolver, URLResolver) and resolver.namespace == "customer":
            routes = []
            for pattern in resolver.url_patterns:
                assert isinstance(pattern, URLPattern)
                routes.append(("customer/" + str(pattern.pattern), list(pattern.pattern.converters)))
            return routes
    raise AssertionError("no customer portal")


def estate() -> tuple[Client, Client, Client, dict[str, str]]:
    """A customer with outcomes, its member, and admins of another customer of the same vendor and of
    another vendor's customer."""
    api = make_vendor_api()
    ours = make_ingest(api=api, reference="CTR-ours")
    billable(ours, 2, MARCH + dt.timedelta(days=2), prefix="OURS")
    neighbour = make_ingest(api=api, reference="CTR-neighbour").contract.customer
    member = make_customer_member(customer=ours.contract.customer, role=CustomerRole.ADMIN)
    same_vendor = make_customer_member(customer=neighbour, role=CustomerRole.ADMIN)
    other_vendor = make_customer_member(customer=CustomerFactory.create(), role=CustomerRole.ADMIN)
    customer = ours.contract.customer
    disputed = Outcome.objects.get(natural_key="OURS-0")
    dispute = dispute_open(outcome=disputed, reason="Not ours.", actor="t", now=MARCH + dt.timedelta(days=3))
    endpoint, _ = endpoint_create(
        vendor=customer.vendor,
        customer=customer,
        registered_by=Endpoint.Owner.CUSTOMER,
        url="https://hooks.example.com/ours",
        description="",
        event_types=[],
        actor="test",
    )
    delivery = endpoint_send_test(endpoint=endpoint, actor="test")
    api_key, _ = api_key_create(vendor=customer.vendor, name="ours", actor="test", customer=customer)
    invoice = close_and_finalize(ours, MARCH, APRIL)
    link, _ = share_link_create(invoice=invoice, actor="system")
    ids = {
        "outcome_id": str(disputed.pk),
        "customer_id": str(customer.pk),
        "contract_id": str(ours.contract.pk),
        "outcome_type": ours.contract.versions.get().outcome_types.get().key,
        "source_id": str(ours.source.pk),
        "endpoint_id": str(endpoint.pk),
        "delivery_id": str(delivery.pk),
        "action": "disable",
        "api_key_id": str(api_key.pk),
        "invoice_id": str(invoice.pk),
        "link_id": str(link.pk),
        "attachment_id": str(dispute_file(dispute).pk),
        "customer_membership_id": str(customer.memberships.get(user=member.user).pk),  # its only admin
    }
    return signed_in(member), signed_in(same_vendor), signed_in(other_vendor), ids


def filled(route: str, params: list[str], ids: dict[str, str]) -> str:
    for param in params:
        route = route.replace(f"<str:{param}>", ids[param])
    return "/" + route


def test_the_matrix_covers_every_customer_route() -> None:
    routes = customer_routes()
    assert len(routes) >= 5
    for route, params in routes:
        assert set(params) <= set(PARAMS), f"{route}: give {params} a value in estate()"


def test_another_customers_member_gets_404_on_every_page_naming_an_object_and_changes_nothing() -> None:
    own, same_vendor, other_vendor, ids = estate()
    urls = [filled(route, params, ids) for route, params in customer_routes() if params]
    assert len(urls) >= 2
    before = db_fingerprint()
    for stranger in (same_vendor, other_vendor):
        for url in urls:
            for method in ("get", "post"):
                response = getattr(stranger, method)(url)
                assert response.status_code in ({404} if method == "post" else {404, 405}), (method, url)
    assert db_fingerprint() == before
    # The owner's member is served by every one of them (the 404 came from the tenancy): a page (200),
    # an action done (302), or a form with errors (400); a cap that is not set cannot be removed (404).
    served = {url: own.post(url).status_code for url in urls}
    assert all(code in {200, 302, 400} for url, code in served.items() if not url.endswith("/remove/")), (
        served
    )


def _text(response: Any) -> str:
    """A page's text, or a streamed download's (the outcomes CSV)."""
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return str(response.content.decode())


def test_another_customers_pages_show_none_of_its_objects() -> None:
    own, same_vendor, other_vendor, ids = estate()
    link = f"/customer/outcomes/{ids['outcome_id']}/"
    for route, params in customer_routes():
        if params:
            continue
        assert link not in _text(same_vendor.get("/" + route)), route
        assert link not in _text(other_vendor.get("/" + route)), route
    assert link in own.get("/customer/outcomes/").content.decode()


def test_neither_portal_serves_the_others_members() -> None:
    _, _, _, ids = estate()
    vendor_only = signed_in(make_member(role=Role.OWNER))
    for route, params in customer_routes():
        url = filled(route, params, ids)
        expected = {"get": {403, 405}, "post": {403, 404}} if params else {"get": {403, 405}, "post": {403}}
        for method in ("get", "post"):
            assert getattr(vendor_only, method)(url).status_code in expected[method], (method, url)
    customer_only = signed_in(make_customer_member(customer=CustomerFactory.create()))
    before = db_fingerprint()
    for _, route, params in portal_routes():
        if params or route in PUBLIC:
            continue
        response = customer_only.get("/" + route)
        assert response.status_code in (302, 405), route
        if response.status_code == 302:
            assert response["Location"] == "/customer/", route
        assert customer_only.post("/" + route).status_code in (403, 405), route
    assert db_fingerprint() == before

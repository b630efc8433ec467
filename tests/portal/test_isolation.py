"""Tenant isolation over every portal page: a member of another vendor finds none of a vendor's
objects, by any route that names one, with GET or POST (404, never 403, so their existence does not
leak), and nothing changes. The routes are read from the URL resolver, so a page added later without
a place in this matrix fails `test_the_matrix_covers_every_portal_route`.

Each refused GET is replayed by a member of the owning vendor, who is served: the 404 comes from the
tenancy, not from a request that would have failed anyway.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from contracts.models import Membership, Role
from contracts.services.credentials import api_key_create
from notifications.services.deliveries import endpoint_send_test
from notifications.services.endpoints import endpoint_create
from outcomes.models import Outcome
from outcomes.services.review import dispute_open
from settlement.invoicing.close import period_close
from settlement.models import CreditNoteStatus, Invoice, StripeConnection
from tests.factories import outcome_type_terms, version_terms, webhook_source_create_for
from tests.support.estate import db_fingerprint
from tests.support.evidence import dispute_file
from tests.support.ingest import make_ingest
from tests.support.portal import make_customer_member, make_member, signed_in
from tests.support.settlement import APRIL, FAST, GRADUATED, MARCH, billable

pytestmark = pytest.mark.django_db

PORTAL_NAMESPACES = ("contracts", "outcomes", "settlement", "notifications")
# Route parameters that are not an object's id, and the values that exercise them.
VERBS = {
    "move": ["activate", "suspend", "resume", "terminate"],
    "action": ["rebuild", "finalize", "push"],
    "flag_reason": ["velocity_anomaly"],  # a review queue group: its contract, kind of flag and day
    "day": ["2026-03-04"],
}


def portal_routes() -> list[tuple[str, str, list[str]]]:
    """(namespace:name, route, parameter names) of every portal page."""
    found = []
    for resolver in get_resolver().url_patterns:
        if isinstance(resolver, URLResolver) and resolver.namespace in PORTAL_NAMESPACES:
            for pattern in resolver.url_patterns:
                assert isinstance(pattern, URLPattern)
                route = str(pattern.pattern)
                found.append(
                    (f"{resolver.namespace}:{pattern.name}", route, list(pattern.pattern.converters))
                )
    return found


def estate() -> tuple[Any, dict[str, list[str]]]:
    """A vendor with one object of each kind a portal route names, and those objects' ids by parameter."""
    terms = version_terms(
        platform_fee_minor=10_000,
        minimum_commitment_minor=0,
        outcome_types=[outcome_type_terms(pricing=GRADUATED, free_units=1, verification_policy=FAST)],
    )
    ingest = make_ingest(terms=terms)
    vendor = ingest.api.vendor
    billable(ingest, 3, MARCH + dt.timedelta(days=3))
    invoice: Invoice = period_close(
        contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL + dt.timedelta(hours=1)
    )
    # A credit note row as settlement.services.credit_notes leaves one (only its route matters here).
    credit_note = invoice.credit_notes.create(
        amount_minor=0, status=CreditNoteStatus.NOT_REQUIRED, reason="Isolation.", created_at=APRIL
    )
    # A share link row as settlement.services.share_links leaves one (only its route matters here).
    share_link = invoice.share_links.create(
        prefix="0123456789ab",
        secret_hash="0" * 64,
        created_by="system",
        created_at=APRIL,
        expires_at=APRIL + dt.timedelta(days=14),
    )
    billable(ingest, 1, APRIL + dt.timedelta(days=2), prefix="D")
    disputed = Outcome.objects.get(natural_key="D-0")
    dispute = dispute_open(
        outcome=disputed, reason="Not ours.", actor="api_key:customer", now=APRIL + dt.timedelta(days=3)
    )
    source, _ = webhook_source_create_for(ingest.contract.customer)
    api_key, _ = api_key_create(vendor=vendor, name="theirs", actor="system")
    endpoint, _ = endpoint_create(vendor=vendor, url="https://hooks.example.com/theirs", actor="system")
    test_delivery = endpoint_send_test(endpoint=endpoint, actor="system")
    owner = make_member(role=Role.OWNER, vendor=vendor)
    membership = Membership.objects.get(user=owner.user)
    customer_member = make_customer_member(customer=ingest.contract.customer)
    ids = {
        "contract_id": [str(ingest.contract.pk)],
        "customer_id": [str(ingest.contract.customer_id)],
        "source_id": [str(source.pk)],
        "api_key_id": [str(api_key.pk)],
        "membership_id": [str(membership.pk)],
        "customer_member_id": [str(customer_member.user.customer_memberships.get().pk)],
        "outcome_id": [str(disputed.pk)],
        "dispute_id": [str(dispute.pk)],
        "attachment_id": [str(dispute_file(dispute).pk)],
        "invoice_id": [str(invoice.pk)],
        "credit_note_id": [str(credit_note.pk)],
        "link_id": [str(share_link.pk)],
        "endpoint_id": [str(endpoint.pk)],
        "delivery_id": [str(test_delivery.pk)],
        "position": ["1"],
        **VERBS,
    }
    return owner, ids


def urls_naming_objects(ids: dict[str, list[str]]) -> list[str]:
    urls = []
    for _, route, params in portal_routes():
        if not params:
            continue
        filled = [route]
        for param in params:
            filled = [url.replace(f"<str:{param}>", value) for url in filled for value in ids[param]]
        urls += ["/" + url for url in filled]
    return urls


def test_the_matrix_covers_every_portal_route() -> None:
    routes = portal_routes()
    assert len(routes) >= 25
    for name, route, params in routes:
        assert all(f"<str:{param}>" in route for param in params), (name, route)
        unknown = set(params) - {
            "contract_id",
            "customer_id",
            "source_id",
            "api_key_id",
            "membership_id",
            "customer_member_id",
            "outcome_id",
            "dispute_id",
            "attachment_id",
            "invoice_id",
            "credit_note_id",
            "link_id",
            "endpoint_id",
            "delivery_id",
            "position",
            *VERBS,
        }
        assert not unknown, f"{name}: give {unknown} a value in estate() for the isolation matrix"


def test_another_vendors_member_gets_404_on_every_page_naming_an_object_and_changes_nothing() -> None:
    owner, ids = estate()
    stranger = signed_in(make_member(role=Role.OWNER))
    urls = urls_naming_objects(ids)
    assert len(urls) >= 20
    before = db_fingerprint()

    for url in urls:
        for method in ("get", "post"):
            response = getattr(stranger, method)(url)
            # POST-only pages answer GET with 405 before looking anything up: that reveals nothing.
            assert response.status_code in ({404} if method == "post" else {404, 405}), (method, url)

    assert db_fingerprint() == before
    own = signed_in(owner)
    served = {url: own.get(url).status_code for url in urls}
    assert {url: status for url, status in served.items() if status == 404} == {}


def test_another_vendors_lists_and_dashboard_show_none_of_its_objects() -> None:
    owner, ids = estate()
    stranger, own = signed_in(make_member(role=Role.OWNER)), signed_in(owner)
    # A numeric id is looked for in its own kind of link (a stranger's page may well show its own
    # membership 57 beside nothing of ours); a uuid stands alone.
    links = {
        param: [f"{NUMERIC_LINKS.get(param, '/')}{value}/" for value in ids[param]] for param in OBJECT_PARAMS
    }
    for _, route, params in portal_routes():
        if params:
            continue  # pages naming an object: the test above
        theirs, mine = own.get("/" + route), stranger.get("/" + route)
        if theirs.status_code == mine.status_code == 405:
            continue  # a form's POST target (settings/sources/, ...): nothing to read
        assert theirs.status_code == mine.status_code == 200, route
        page = mine.content.decode()
        assert not [link for found in links.values() for link in found if link in page], route
    # The lists do show them to their own vendor: the check above would have seen them.
    for route, param in LISTED.items():
        assert links[param][0] in own.get(route).content.decode(), route


NUMERIC_LINKS = {"outcome_id": "/outcomes/", "invoice_id": "/invoices/", "dispute_id": "/disputes/"}
OBJECT_PARAMS = (
    "contract_id",
    "customer_id",
    "outcome_id",
    "invoice_id",
    "dispute_id",
    "source_id",
    "endpoint_id",
)
LISTED = {
    "/contracts/": "contract_id",
    "/outcomes/": "outcome_id",
    "/invoices/": "invoice_id",
    "/disputes/": "dispute_id",
    "/settings/": "source_id",
    "/customers/": "customer_id",
    "/settings/webhooks-out/": "endpoint_id",
}


def test_another_vendors_member_neither_sees_nor_changes_its_stripe_connection(settings: Any) -> None:
    """The Stripe pages name no object: whoever posts to them acts on their own vendor's connection."""
    settings.STRIPE_API_KEY = ""  # nothing below may reach Stripe: a connected account is refused first
    owner, _ = estate()
    StripeConnection.objects.create(
        vendor=owner.vendor,
        mode=StripeConnection.Mode.CONNECTED_ACCOUNT,
        account_id="acct_1Estate",
        connected_at=APRIL,
    )
    stranger = signed_in(make_member(role=Role.OWNER))
    routes = ["/" + route for _, route, _ in portal_routes() if route.startswith("settings/stripe/")]
    assert len(routes) == 6
    before = db_fingerprint()

    for url in routes:
        sent = {"mode": "connected_account", "account_id": "acct_1Estate", "tax_enabled": "true"}
        assert stranger.post(url, sent).status_code in (200, 302, 400), url

    assert db_fingerprint() == before
    assert "acct_1Estate" not in stranger.get("/settings/stripe/").content.decode()
    assert "acct_1Estate" in signed_in(owner).get("/settings/stripe/").content.decode()

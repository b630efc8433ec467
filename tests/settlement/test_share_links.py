"""Share links for an auditor: made and revoked by the vendor (portal, API) or the customer (API), an
expiry boundary, the same 404 for any link not live, the public page (lines → outcomes → raw events and
verdicts, nothing vendor-only), its headers, CSV and rate limit, and isolation between tenants."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from django.test import Client

from contracts.models import AuditEntry, Role
from core.errors import Conflict, NotFound, ValidationFailed
from outcomes.models import Outcome, Party, ReviewDecision
from outcomes.rules import reason_text
from outcomes.verdict_trail import verdicts_recorded
from settlement.invoicing.close import period_close
from settlement.models import Invoice, InvoiceShareLink
from settlement.services.share_links import (
    NOT_FOUND,
    share_link_create,
    share_link_resolve,
    share_link_revoke,
)
from tests.settlement.collection_scenes import credited, finalized
from tests.support.ingest import Ingest, make_ingest
from tests.support.portal import make_member, signed_in
from tests.support.settlement import APRIL, MARCH, billable
from tests.support.vendors import customer_api_client, make_vendor_api

pytestmark = pytest.mark.django_db

NOW = APRIL + dt.timedelta(days=1)
JUSTIFICATION = "Vendor-only note: checked the agent's logs by hand"


@pytest.fixture
def invoice(ingest: Ingest) -> Invoice:
    billable(ingest, 3, MARCH + dt.timedelta(days=2))
    return finalized(ingest, MARCH, APRIL)


def token_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


# --- the service ---------------------------------------------------------------------------


def test_a_link_is_stored_as_a_hash_audited_and_live_until_its_expiry(invoice: Invoice) -> None:
    expires = NOW + dt.timedelta(days=3)
    link, token = share_link_create(invoice=invoice, actor="user:a@v.test", expires_at=expires, now=NOW)

    secret = token.split("_", 2)[2]
    stored = InvoiceShareLink.objects.filter(pk=link.pk).values()[0]
    assert secret not in str(stored)
    assert token.startswith(f"vsl_{link.prefix}_")
    assert AuditEntry.objects.filter(action="invoice_share_link.created", object_id=str(link.pk)).count() == 1
    assert share_link_resolve(token=token, now=expires - dt.timedelta(microseconds=1)) == link
    for at in (expires, expires + dt.timedelta(seconds=1)):
        with pytest.raises(NotFound, match=NOT_FOUND):
            share_link_resolve(token=token, now=at)


def test_unknown_malformed_and_revoked_links_are_the_same_not_found(invoice: Invoice) -> None:
    link, token = share_link_create(invoice=invoice, actor="system", now=NOW)
    share_link_revoke(link=link, actor="user:a@v.test")
    share_link_revoke(link=link, actor="user:a@v.test")  # again: nothing more

    wrong_secret = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for presented in (token, wrong_secret, "vsl_000000000000_" + "x" * 43, "nonsense", "vsl_\x00_x"):
        with pytest.raises(NotFound) as refused:
            share_link_resolve(token=presented, now=NOW)
        assert refused.value.message == NOT_FOUND
    assert AuditEntry.objects.filter(action="invoice_share_link.revoked").count() == 1


def test_only_a_finalized_invoice_within_the_bounds_can_be_shared(ingest: Ingest) -> None:
    billable(ingest, 1, MARCH + dt.timedelta(days=2))
    draft = period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL)
    with pytest.raises(Conflict) as refused:
        share_link_create(invoice=draft, actor="system", now=NOW)
    assert refused.value.code == "invoice_not_shareable"

    shared = finalized(ingest, MARCH, APRIL)
    for too in (dt.timedelta(minutes=59), dt.timedelta(days=90, seconds=1)):
        with pytest.raises(ValidationFailed) as out_of_range:
            share_link_create(invoice=shared, actor="system", expires_at=NOW + too, now=NOW)
        assert out_of_range.value.field_errors["expires_at"][0]["code"] == "out_of_range"
    assert not InvoiceShareLink.objects.exists()
    for edge in (dt.timedelta(hours=1), dt.timedelta(days=90)):
        share_link_create(invoice=shared, actor="system", expires_at=NOW + edge, now=NOW)
    default, _ = share_link_create(invoice=shared, actor="system", now=NOW)
    assert default.expires_at == NOW + dt.timedelta(days=14)


# --- the public page -----------------------------------------------------------------------


def test_the_shared_page_shows_the_evidence_and_nothing_vendor_only(ingest: Ingest, invoice: Invoice) -> None:
    outcome = Outcome.objects.filter(line_links__line__invoice=invoice).order_by("id").first()
    assert outcome is not None
    ReviewDecision.objects.create(
        outcome=outcome,
        flag_reason="velocity_anomaly",
        verdict=ReviewDecision.Verdict.ACCEPT,
        party=Party.VENDOR_ADMIN,
        actor="user:admin@v.test",
        justification=JUSTIFICATION,
        at=NOW,
    )
    note = credited(ingest, invoice, ["T-2"], APRIL + dt.timedelta(days=2))
    reversed_id = note.outcome_links.get().outcome_id
    created = ingest.api.client.post(
        f"/api/v1/invoices/{invoice.pk}/share-links", {"label": "Auditor"}, format="json"
    )
    assert created.status_code == 201, created.content
    token = token_of(created.json()["url"])
    anonymous = Client(REMOTE_ADDR="198.51.100.7")

    page = anonymous.get(f"/shared/invoices/{token}/")

    assert page.status_code == 200
    assert page["Cache-Control"] == "no-store"
    assert page["Referrer-Policy"] == "no-referrer"
    assert page["X-Robots-Tag"] == "noindex"
    assert not page.cookies  # no session, no CSRF cookie
    assert "script-src 'self'" in page["Content-Security-Policy"]
    html = page.content.decode()
    assert invoice.vendor.name in html
    assert ingest.contract.customer.name in html
    assert f"Invoice #{invoice.number}" in html
    raw_event = outcome.event_links.get().raw_event
    assert f'id="outcome-{outcome.pk}"' in html
    assert raw_event.event_id in html
    texts = [
        reason_text(v.reason) for v in verdicts_recorded(outcome_ids=[outcome.pk]) if reason_text(v.reason)
    ]
    assert texts
    assert all(text in html for text in texts)
    credit_notes = html.split('id="shared-credit-notes"')[1]
    assert f"<td>{reversed_id}</td>" in credit_notes
    assert JUSTIFICATION not in html
    assert "user:admin@v.test" not in html
    assert "/invoices/" not in html.replace(f"/shared/invoices/{token}/", "")  # no link into the portal
    assert "<script" not in html.split("</main>")[0]

    rows = list(
        csv.reader(io.StringIO(b"".join(anonymous.get(f"/shared/invoices/{token}/lines.csv")).decode()))
    )
    billed = Outcome.objects.filter(line_links__line__invoice=invoice).count()
    assert rows[0][6] == "outcome_id"
    assert sorted(int(row[6]) for row in rows[1:] if row[6]) == sorted(
        Outcome.objects.filter(line_links__line__invoice=invoice).values_list("id", flat=True)
    )
    assert len([row for row in rows[1:] if row[6]]) == billed
    link = InvoiceShareLink.objects.get()
    assert link.view_count == 2
    assert link.last_viewed_at is not None

    revoked = ingest.api.client.post(f"/api/v1/invoices/{invoice.pk}/share-links/{link.pk}/revoke")
    assert revoked.status_code == 200
    assert revoked.json()["is_active"] is False
    gone, unknown = anonymous.get(f"/shared/invoices/{token}/"), anonymous.get("/shared/invoices/vsl_x_y/")
    assert gone.status_code == unknown.status_code == 404
    assert gone.content == unknown.content
    assert gone["Cache-Control"] == "no-store"
    assert gone["Referrer-Policy"] == "no-referrer"
    assert InvoiceShareLink.objects.get().view_count == 2


def test_the_shared_pages_are_rate_limited_per_address(settings: Any, invoice: Invoice) -> None:
    settings.SHARED_LINK_RATE_LIMIT = "2/m"
    _, token = share_link_create(invoice=invoice, actor="system")
    guesser, auditor = Client(REMOTE_ADDR="203.0.113.50"), Client(REMOTE_ADDR="203.0.113.51")

    statuses = [guesser.get(f"/shared/invoices/vsl_{n:012x}_{'a' * 43}/").status_code for n in range(3)]
    refused = guesser.get(f"/shared/invoices/{token}/")

    assert statuses == [404, 404, 429]
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert auditor.get(f"/shared/invoices/{token}/").status_code == 200
    assert InvoiceShareLink.objects.get().view_count == 1


# --- who makes and revokes, and isolation --------------------------------------------------------


def test_the_customer_shares_its_own_invoices_only(ingest: Ingest, invoice: Invoice) -> None:
    neighbour = make_ingest(ingest.api, reference="CTR-neighbour")  # same vendor, another customer
    mine, theirs = (
        customer_api_client(ingest.contract.customer),
        customer_api_client(neighbour.contract.customer),
    )
    path = f"/api/v1/customer/invoices/{invoice.pk}/share-links"
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).isoformat()

    created = mine.post(path, {"label": "Our auditor", "expires_at": expires}, format="json")
    assert created.status_code == 201, created.content
    link_id = created.json()["id"]
    assert [
        row["id"]
        for row in ingest.api.client.get(f"/api/v1/invoices/{invoice.pk}/share-links").json()["results"]
    ] == [link_id]
    for response in (
        theirs.get(path),
        theirs.post(path, {}, format="json"),
        theirs.post(f"{path}/{link_id}/revoke"),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert InvoiceShareLink.objects.count() == 1
    assert InvoiceShareLink.objects.get().revoked_at is None
    assert mine.post(f"{path}/{link_id}/revoke").json()["revoked_at"] is not None
    bad = mine.post(path, {"expires_at": "2026-01-01T00:00:00"}, format="json")
    assert bad.status_code == 400


def test_another_vendor_neither_lists_nor_makes_nor_revokes_links(ingest: Ingest, invoice: Invoice) -> None:
    link, _ = share_link_create(invoice=invoice, actor="system")
    other = make_vendor_api()
    other_invoice_of_same_vendor = f"/api/v1/invoices/{invoice.pk + 1000}/share-links"
    base = f"/api/v1/invoices/{invoice.pk}/share-links"

    for response in (
        other.client.get(base),
        other.client.post(base, {}, format="json"),
        other.client.post(f"{base}/{link.pk}/revoke"),
        ingest.api.client.post(f"{other_invoice_of_same_vendor}/{link.pk}/revoke"),
        ingest.api.client.post(f"{base}/not-a-uuid/revoke"),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert InvoiceShareLink.objects.count() == 1
    assert InvoiceShareLink.objects.get().revoked_at is None


def test_the_vendor_portal_shares_once_lists_and_revokes(ingest: Ingest, invoice: Invoice) -> None:
    owner = signed_in(make_member(role=Role.OWNER, vendor=ingest.api.vendor))
    viewer = signed_in(make_member(role=Role.VIEWER, vendor=ingest.api.vendor))
    create = f"/invoices/{invoice.pk}/share-links/"
    form = {"label": "Auditor Ann", "expires_in_days": "7", "form_token": "t-1"}

    shown = owner.post(create, form)
    assert shown.status_code == 200
    assert shown["Cache-Control"] == "no-store"
    link = InvoiceShareLink.objects.get()
    assert f"/shared/invoices/vsl_{link.prefix}_" in shown.content.decode()
    assert owner.post(create, form).status_code == 302  # the same form again makes nothing
    assert viewer.post(create, {**form, "form_token": "t-2"}).status_code == 403
    assert InvoiceShareLink.objects.count() == 1
    detail = owner.get(f"/invoices/{invoice.pk}/").content.decode()
    assert "Auditor Ann" in detail
    assert f"vsl_{link.prefix}_…" in detail

    assert owner.post(f"/invoices/{invoice.pk}/share-links/{link.pk}/revoke/").status_code == 302
    assert InvoiceShareLink.objects.get().revoked_at is not None

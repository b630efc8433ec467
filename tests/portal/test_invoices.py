"""Invoices in the portal: the list and its filters, the detail, a line's outcomes, the printable view,
and what owners may do (rebuild, finalize, send to Stripe) that viewers may not."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from contracts.models import AuditEntry, Role
from devtools.stripe_server import RunningServer, running_server
from outcomes.models import Outcome
from settlement import views
from settlement.models import Invoice, InvoiceStatus
from settlement.services.invoicing import invoice_finalize, period_close
from tests.factories import outcome_type_terms, version_terms
from tests.outcomes.conftest import Ingest, make_ingest
from tests.portal.conftest import Member, make_member, signed_in
from tests.settlement.conftest import APRIL, FAST, GRADUATED, MARCH, billable

pytestmark = pytest.mark.django_db

MAY = dt.datetime(2026, 5, 1, 4, 0, tzinfo=dt.UTC)  # local midnight in New York (EDT)


def contract_ingest(reference: str = "CTR-ingest", api: Any = None) -> Ingest:
    """A contract whose outcomes become billable at once: 1 free, then 1.00 x 2, then 0.505; fee 100.00."""
    terms = version_terms(
        platform_fee_minor=10_000,
        minimum_commitment_minor=0,
        outcome_types=[outcome_type_terms(pricing=GRADUATED, free_units=1, verification_policy=FAST)],
    )
    return make_ingest(api, reference=reference, terms=terms)


@pytest.fixture
def ingest() -> Ingest:
    return contract_ingest()


@pytest.fixture
def draft(ingest: Ingest) -> Invoice:
    """March's draft: 5 outcomes (1 free, 2 x 1.00, 2 x 0.505) and the platform fee: 103.01 USD."""
    billable(ingest, 5, MARCH + dt.timedelta(days=3))
    return period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL + dt.timedelta(hours=1))


@pytest.fixture
def owner_of(ingest: Ingest) -> Member:
    return make_member(role=Role.OWNER, vendor=ingest.api.vendor)


@pytest.fixture
def client_of(owner_of: Member) -> Client:
    return signed_in(owner_of)


@pytest.fixture
def viewer_of(ingest: Ingest) -> Client:
    return signed_in(make_member(role=Role.VIEWER, vendor=ingest.api.vendor))


def text(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return re.sub(r"\s+", " ", response.content.decode())


def rows(html: str, table_id: str) -> list[list[str]]:
    """The body rows of a table, each as its cells' text."""
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0].split("<tbody>", 1)[1]
    return [
        [
            " ".join(re.sub(r"<[^>]+>", " ", cell).split())
            for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row)
        ]
        for row in re.findall(r"<tr.*?</tr>", body.split("</tbody>", 1)[0])
    ]


def test_the_list_shows_each_invoice_with_status_and_total(client_of: Client, draft: Invoice) -> None:
    html = text(client_of.get("/invoices/"))

    assert f'href="/invoices/{draft.pk}/"' in html
    assert "103.01 USD" in html
    assert "CTR-ingest" in html
    assert "badge-status-draft" in html


def test_the_list_filters_by_status_contract_customer_and_month(
    client_of: Client, ingest: Ingest, draft: Invoice
) -> None:
    other = contract_ingest("CTR-other", api=ingest.api)
    billable(other, 1, MARCH + dt.timedelta(days=2), prefix="O")
    april = period_close(contract_id=other.contract.pk, period_start=APRIL, now=MAY + dt.timedelta(hours=1))
    finalized = invoice_finalize(invoice_id=april.pk, now=MAY + dt.timedelta(hours=2))

    def listed(query: str) -> set[int]:
        html = text(client_of.get(f"/invoices/?{query}"))
        return {int(pk) for pk in re.findall(r'href="/invoices/(\d+)/"', html)}

    assert listed("") == {draft.pk, finalized.pk}
    assert listed("status=draft") == {draft.pk}
    assert listed("status=finalized") == {finalized.pk}
    assert listed(f"contract={other.contract.pk}") == {finalized.pk}
    assert listed(f"customer={ingest.contract.customer_id}") == {draft.pk}
    assert listed("period=2026-03") == {draft.pk}  # March in New York: 05:00 UTC on the 1st to April
    assert listed("period=2026-04") == {finalized.pk}
    assert listed("period=2026-02") == set()


def test_a_bad_filter_is_a_field_error_not_a_500(client_of: Client, draft: Invoice) -> None:
    html = text(client_of.get("/invoices/?status=bogus&period=March"))

    assert 'class="errorlist"' in html
    assert "bogus is not one of the available choices" in html
    assert f'href="/invoices/{draft.pk}/"' in html  # the invalid filters are not applied


def test_the_list_pages_by_key(
    client_of: Client, ingest: Ingest, draft: Invoice, monkeypatch: pytest.MonkeyPatch
) -> None:
    one_per_page = views.keyset_page
    monkeypatch.setattr(
        views, "keyset_page", lambda request, queryset, **_: one_per_page(request, queryset, per_page=1)
    )
    later = period_close(contract_id=ingest.contract.pk, period_start=APRIL, now=MAY)

    first = text(client_of.get("/invoices/"))
    [next_query] = re.findall(r'href="\?([^"]+)" rel="next"', first)
    second = text(client_of.get(f"/invoices/?{next_query.replace('&amp;', '&')}"))

    assert f'href="/invoices/{later.pk}/"' in first
    assert f'href="/invoices/{draft.pk}/"' not in first
    assert f'href="/invoices/{draft.pk}/"' in second
    assert f'href="/invoices/{later.pk}/"' not in second


def test_the_detail_shows_the_header_lines_and_drill_down_links(client_of: Client, draft: Invoice) -> None:
    html = text(client_of.get(f"/invoices/{draft.pk}/"))

    assert "Draft invoice" in html
    assert "2026-03-01 05:00 → 2026-04-01 04:00 UTC" in html
    assert [row[:2] + row[3:6] for row in rows(html, "lines")] == [
        ["1", "Outcomes", "1", "0", "0.00 USD"],
        ["2", "Outcomes", "2", "1", "2.00 USD"],
        ["3", "Outcomes", "2", "0.505", "1.01 USD"],
        ["4", "Platform fee", "1", "—", "100.00 USD"],
    ]
    for position in (1, 2, 3):
        assert f'href="/invoices/{draft.pk}/lines/{position}/"' in html
    assert f'href="/invoices/{draft.pk}/lines/4/"' not in html  # a fee bills no outcome
    assert "103.01 USD" in html
    assert "Not sent to Stripe yet" in html
    assert "Nothing held" in html


def test_a_line_lists_its_outcomes_with_exact_shares_and_trail_links(
    client_of: Client, draft: Invoice
) -> None:
    html = text(client_of.get(f"/invoices/{draft.pk}/lines/3/"))

    billed = list(
        draft.lines.get(position=3).outcome_links.order_by("-outcome_id").values_list("outcome_id", flat=True)
    )
    assert len(billed) == 2
    assert re.findall(r'<a href="/outcomes/(\d+)/">', html) == [str(pk) for pk in billed]
    # each outcome's exact share, before the line's rounding
    assert [row[-1] for row in rows(html, "line-outcomes")] == ["0.505 USD", "0.505 USD"]
    assert "exact 1.01 USD" in html


def test_the_printable_view_is_the_api_template(client_of: Client, draft: Invoice) -> None:
    response = client_of.get(f"/invoices/{draft.pk}/print/")

    html = text(response)
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "<title>Invoice draft · CTR-ingest</title>" in html
    assert "103.01 USD" in html


def test_another_vendors_invoice_is_a_404_everywhere(draft: Invoice) -> None:
    stranger = signed_in(make_member(role=Role.OWNER))
    for url in (
        f"/invoices/{draft.pk}/",
        f"/invoices/{draft.pk}/lines/1/",
        f"/invoices/{draft.pk}/print/",
        "/invoices/not-a-number/",
    ):
        assert stranger.get(url).status_code == 404, url
    assert stranger.post(f"/invoices/{draft.pk}/actions/finalize/").status_code == 404
    assert f"/invoices/{draft.pk}/" not in text(stranger.get("/invoices/"))
    assert Invoice.objects.get(pk=draft.pk).status == InvoiceStatus.DRAFT


def test_a_missing_line_is_a_404(client_of: Client, draft: Invoice) -> None:
    assert client_of.get(f"/invoices/{draft.pk}/lines/99/").status_code == 404


def test_a_viewer_sees_no_actions_and_a_forged_post_is_refused(viewer_of: Client, draft: Invoice) -> None:
    html = text(viewer_of.get(f"/invoices/{draft.pk}/"))
    assert "Finalize now" not in html
    assert "Rebuild draft" not in html
    assert '<form method="post" action="/invoices' not in html

    for action in ("finalize", "rebuild", "push"):
        assert viewer_of.post(f"/invoices/{draft.pk}/actions/{action}/").status_code == 403

    draft.refresh_from_db()
    assert (draft.status, draft.number) == (InvoiceStatus.DRAFT, None)
    assert not AuditEntry.objects.filter(action__startswith="invoice.").exists()


def test_an_owner_sees_the_draft_actions(client_of: Client, draft: Invoice) -> None:
    html = text(client_of.get(f"/invoices/{draft.pk}/"))
    assert "Finalize now" in html
    assert "Rebuild draft" in html
    assert "Send to Stripe" not in html


def test_an_owner_rebuilds_a_draft_with_late_outcomes(
    client_of: Client, owner_of: Member, ingest: Ingest, draft: Invoice
) -> None:
    billable(ingest, 2, MARCH + dt.timedelta(days=9), prefix="LATE")

    response = client_of.post(f"/invoices/{draft.pk}/actions/rebuild/", follow=True)

    html = text(response)
    assert "Draft rebuilt" in html
    draft.refresh_from_db()
    assert draft.total_minor == 10_000 + 200 + round(4 * 50.5)  # 1 free, 2 x 1.00, 4 x 0.505 (2.02)
    entry = AuditEntry.objects.get(action="invoice.rebuilt")
    assert (entry.object_id, entry.actor) == (str(draft.pk), f"user:{owner_of.user.email}")


@pytest.fixture
def stripe_api(settings: SettingsWrapper) -> Iterator[RunningServer]:
    with running_server() as server:
        settings.STRIPE_API_KEY = "sk_test_verity"
        settings.STRIPE_API_BASE = server.base_url
        settings.STRIPE_MAX_NETWORK_RETRIES = 0
        yield server


def test_an_owner_finalizes_a_draft_and_it_is_settled_through_stripe(
    client_of: Client,
    draft: Invoice,
    stripe_api: RunningServer,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = client_of.post(f"/invoices/{draft.pk}/actions/finalize/")
    assert response.status_code == 302
    assert response["Location"] == f"/invoices/{draft.pk}/"

    html = text(client_of.get(response["Location"]))
    draft.refresh_from_db()
    assert draft.number == 1
    assert draft.status == InvoiceStatus.PAID
    assert "Invoice #1" in html
    assert "Invoice finalized" in html
    assert draft.stripe_invoice_id
    assert draft.stripe_invoice_id in html
    assert draft.stripe_hosted_url
    assert draft.stripe_hosted_url in html
    assert [row[0] for row in rows(html, "settlement-steps")] == [
        "customer",
        "invoice",
        *[f"item:line{n}" for n in (2, 3, 4)],
        "finalize",
        "pay",
    ]
    assert "Finalize now" not in html
    assert AuditEntry.objects.filter(action="invoice.finalized", object_id=str(draft.pk)).count() == 1
    assert Outcome.objects.filter(contract=draft.contract, state="billed").count() == 5


def test_finalizing_twice_is_refused_with_a_message(client_of: Client, draft: Invoice) -> None:
    invoice_finalize(invoice_id=draft.pk, now=APRIL + dt.timedelta(hours=2))

    html = text(client_of.post(f"/invoices/{draft.pk}/actions/finalize/", follow=True))

    assert "Only a draft invoice can be finalized; this one is finalized." in html
    assert not AuditEntry.objects.filter(action="invoice.finalized").exists()


def test_an_unknown_action_changes_nothing(client_of: Client, draft: Invoice) -> None:
    html = text(client_of.post(f"/invoices/{draft.pk}/actions/delete/", follow=True))
    assert "Unknown action" in html
    assert Invoice.objects.filter(pk=draft.pk, status=InvoiceStatus.DRAFT).exists()

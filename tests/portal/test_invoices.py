"""Invoices in the portal: the list and its filters, the detail, a line's outcomes, the printable view,
and what owners may do (rebuild, finalize, send to Stripe) that viewers may not; where collection
stands (payment failures, overdue, blocked settlements), credit notes, and what an owner does with
a settlement Stripe refused (retry the step, abandon it)."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from contracts.models import AuditEntry, Customer, Role, Vendor
from devtools.stripe_server import RunningServer, running_server
from outcomes.models import Outcome
from settlement import views
from settlement.invoicing.close import period_close
from settlement.invoicing.finalize import invoice_finalize
from settlement.models import (
    CreditEntry,
    CreditNote,
    CreditNoteStatus,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    SettlementStatus,
    SettlementStep,
)
from settlement.services import invoice_actions
from tests.factories import outcome_type_terms, version_terms
from tests.settlement.collection_scenes import blocked, credited, on_stripe, payment_failed, stripe_says
from tests.support.ingest import Ingest, make_ingest
from tests.support.portal import Member, make_member, signed_in
from tests.support.settlement import APRIL, FAST, GRADUATED, MARCH, billable
from tests.support.stripe import card_on_file

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
    # March in New York: local dates, the last day included (not 2026-03-01 to 2026-04-01 in UTC)
    assert '<td data-figure="period" title="America/New_York">1\N{EN DASH}31 March 2026</td>' in html


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
    # the period as its parties read it: local dates in the contract's zone, the last day included
    assert (
        '<dd data-figure="period">1\N{EN DASH}31 March 2026 <span class="muted">(America/New_York)</span></dd>'
        in html
    )
    assert [row[:2] + row[3:6] for row in rows(html, "lines")] == [
        ["1", "Outcomes", "1", "0.00 USD", "0.00 USD"],
        ["2", "Outcomes", "2", "1.00 USD", "2.00 USD"],
        ["3", "Outcomes", "2", "0.505 USD", "1.01 USD"],
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
    assert facts(html, "line-facts")["Period"] == "1\N{EN DASH}31 March 2026 (America/New_York)"
    assert facts(html, "line-facts")["Unit price"] == "0.505 USD"

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


def facts(page: str, dl_id: str) -> dict[str, str]:
    """A definition list's facts, label -> text."""
    block = page.split(f'id="{dl_id}"', 1)[1].split("</dl>", 1)[0]
    return {
        label: html_lib.unescape(" ".join(re.sub(r"<[^>]+>", " ", value).split()))
        for label, value in re.findall(r"<dt>(.*?)</dt>\s*<dd[^>]*>(.*?)</dd>", block)
    }


def test_the_printable_invoice_carries_what_an_invoice_carries(
    client_of: Client, ingest: Ingest, draft: Invoice
) -> None:
    customer = ingest.contract.customer
    Customer.objects.filter(pk=customer.pk).update(
        address={
            "country": "DE",
            "line1": "Hauptstraße 5",
            "line2": "",
            "city": "Berlin",
            "state": "",
            "postal_code": "10115",
        },
        tax_ids=[{"type": "eu_vat", "value": "DE123456789"}],
    )
    Vendor.objects.filter(pk=ingest.api.vendor.pk).update(
        address={"country": "FR", "line1": "1 rue de Rivoli", "city": "Paris", "postal_code": "75001"},
        tax_ids=[{"type": "eu_vat", "value": "FR40303265045"}],
    )
    invoice = on_stripe(invoice_finalize(invoice_id=draft.pk, now=APRIL + dt.timedelta(hours=2)))
    # What Stripe's webhooks leave: tax on top, a due date, then the payment (late on 30 April in New York).
    Invoice.objects.filter(pk=invoice.pk).update(
        tax_minor=1_957,
        due_at=dt.datetime(2026, 5, 1, 3, 59, tzinfo=dt.UTC),
        status=InvoiceStatus.PAID,
        paid_at=dt.datetime(2026, 5, 1, 2, 0, tzinfo=dt.UTC),
    )

    page = text(client_of.get(f"/invoices/{invoice.pk}/print/"))

    assert "<h1>Invoice #1</h1>" in page
    assert facts(page, "invoice-facts") == {
        "Invoice number": "1",
        "Issue date": "1 April 2026",  # finalized at 02:00 in New York
        "Due date": "30 April 2026",  # in the contract's zone, not UTC's 1 May
        "Service period": "1\N{EN DASH}31 March 2026 (America/New_York)",
        "Contract": "CTR-ingest",
        "Stripe invoice": f"in_test_{invoice.pk}",
        "Payment status": "Paid on 30 April 2026",
    }
    seller = " ".join(
        re.sub(r"<[^>]+>", " ", page.split('id="vendor">', 1)[1].split("</section>", 1)[0]).split()
    )
    assert (
        seller
        == f"From {ingest.api.vendor.name} 1 rue de Rivoli Paris 75001 FR Tax id FR40303265045 (eu_vat)"
    )
    billed = " ".join(
        re.sub(r"<[^>]+>", " ", page.split('id="customer">', 1)[1].split("</section>", 1)[0]).split()
    )
    assert billed == (
        f"Bill to {customer.name} Hauptstraße 5 Berlin 10115 DE {customer.billing_email}"
        " Tax id DE123456789 (eu_vat)"
    )
    assert rows(page, "print-lines") == [
        ["1", "ticket.resolved (v1): 1 free", "1", "0.00 USD", "0.00 USD"],
        ["2", "ticket.resolved (v1, tier 1): 2 units", "2", "1.00 USD", "2.00 USD"],
        ["3", "ticket.resolved (v1, tier 2): 2 units", "2", "0.505 USD", "1.01 USD"],
        ["4", "Platform fee", "1", "\N{EM DASH}", "100.00 USD"],
    ]
    assert rows(page, "print-totals") == [
        ["Subtotal", "103.01 USD"],
        ["Total before tax", "103.01 USD"],
        ["Tax", "19.57 USD"],
    ]
    assert '<tfoot><tr><th>Total</th><td class="num">122.58 USD</td></tr></tfoot>' in page
    assert "Credits" not in page  # no credit on this one
    assert "No tax applied" not in page


def test_a_printed_draft_says_it_is_not_issued_and_shows_its_credits(
    client_of: Client, ingest: Ingest, draft: Invoice
) -> None:
    # A credit balance applied (invoices built before credit notes carry such lines).
    InvoiceLine.objects.create(
        invoice=draft,
        position=5,
        kind=LineKind.CREDIT_APPLIED,
        description="Credit balance applied",
        amount_minor=-1_000,
    )
    Invoice.objects.filter(pk=draft.pk).update(total_minor=9_301)

    page = text(client_of.get(f"/invoices/{draft.pk}/print/"))

    assert "<h1>Draft invoice</h1>" in page
    printed = facts(page, "invoice-facts")
    assert (printed["Invoice number"], printed["Issue date"], printed["Payment status"]) == (
        "none yet (draft)",
        "not issued yet",
        "Not issued yet",
    )
    assert printed["Due date"] == "charged automatically to the payment method on file"
    assert rows(page, "print-totals") == [["Subtotal", "103.01 USD"], ["Credits", "-10.00 USD"]]
    assert '<tfoot><tr><th>Total</th><td class="num">93.01 USD</td></tr></tfoot>' in page
    assert "No tax applied." in page
    assert "9301" not in page  # no amount in minor units
    assert "10301" not in page


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
    card_on_file(draft.contract.customer, stripe_api.base_url)
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
    assert [row[0] for row in rows(html, "settlement-steps")] == ["invoice", "lines", "finalize", "pay"]
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


# --- collection, credit notes, blocked settlements ------------------------------------------

NEXT_ATTEMPT = dt.datetime(2026, 4, 6, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def collected(draft: Invoice) -> Invoice:
    """March's invoice (103.01 USD) finalized and handed to Stripe for collection."""
    return on_stripe(invoice_finalize(invoice_id=draft.pk, now=APRIL + dt.timedelta(hours=2)))


def header(page: str) -> dict[str, str]:
    """The invoice page's header facts, label -> text."""
    block = page.split('id="invoice-header"', 1)[1].split("</dl>", 1)[0]
    return {
        label: html_lib.unescape(" ".join(re.sub(r"<[^>]+>", " ", value).split()))
        for label, value in re.findall(r"<dt>(.*?)</dt>\s*<dd[^>]*>(.*?)</dd>", block)
    }


def list_row(page: str, invoice: Invoice) -> str:
    """The invoice list's row of one invoice, as HTML."""
    [row] = [row for row in re.findall(r"<tr>.*?</tr>", page) if f'href="/invoices/{invoice.pk}/"' in row]
    return row


def test_the_detail_says_where_collection_stands(client_of: Client, collected: Invoice) -> None:
    failed = payment_failed(collected, APRIL + dt.timedelta(days=2), next_attempt=NEXT_ATTEMPT)
    due = dt.datetime(2026, 4, 3, 4, 0, tzinfo=dt.UTC)
    stripe_says(failed, "invoice.overdue", APRIL + dt.timedelta(days=3), due_date=int(due.timestamp()))

    facts = header(text(client_of.get(f"/invoices/{collected.pk}/")))

    assert facts["Status"] == "Payment failed"
    assert facts["Settlement"] == "Handed to Stripe's collection"
    assert facts["Payment error"] == "Stripe could not collect the payment (attempt 2)."
    assert facts["Payment attempts"] == "2"
    assert facts["Next automatic attempt"] == "2026-04-06 12:00 UTC"
    assert facts["Due"] == "2026-04-03"
    assert facts["Overdue since"] == "2026-04-04 04:00 UTC"


def test_a_draft_shows_no_settlement_payment_or_credit_notes(client_of: Client, draft: Invoice) -> None:
    page = text(client_of.get(f"/invoices/{draft.pk}/"))

    assert not {"Settlement", "Payment error", "Payment attempts", "Overdue since"} & set(header(page))
    assert "Credit notes" not in page
    assert "carried forward" not in page


def test_the_list_shows_collection_problems_at_a_glance_and_filters_them(
    client_of: Client, ingest: Ingest, collected: Invoice
) -> None:
    payment_failed(collected, APRIL + dt.timedelta(days=2), next_attempt=NEXT_ATTEMPT)
    stripe_says(collected, "invoice.overdue", APRIL + dt.timedelta(days=3))
    stuck_contract = contract_ingest("CTR-stuck", api=ingest.api)
    billable(stuck_contract, 1, MARCH + dt.timedelta(days=2), prefix="S")
    stuck = invoice_finalize(
        invoice_id=period_close(contract_id=stuck_contract.contract.pk, period_start=MARCH, now=APRIL).pk,
        now=APRIL,
    )
    blocked(stuck, APRIL + dt.timedelta(hours=1))
    paid_contract = contract_ingest("CTR-paid", api=ingest.api)
    billable(paid_contract, 1, MARCH + dt.timedelta(days=2), prefix="P")
    late = on_stripe(
        invoice_finalize(
            invoice_id=period_close(contract_id=paid_contract.contract.pk, period_start=MARCH, now=APRIL).pk,
            now=APRIL,
        )
    )
    stripe_says(late, "invoice.overdue", APRIL + dt.timedelta(days=3))
    stripe_says(late, "invoice.paid", APRIL + dt.timedelta(days=4), status="paid")

    def listed(query: str) -> set[int]:
        page = text(client_of.get(f"/invoices/?{query}"))
        return {int(pk) for pk in re.findall(r'href="/invoices/(\d+)/"', page)}

    assert listed("") == {collected.pk, stuck.pk, late.pk}
    assert listed("collection=overdue") == {collected.pk}  # paid since: no longer to collect
    assert listed("collection=failed") == {collected.pk}
    assert listed("collection=blocked") == {stuck.pk}
    assert listed("collection=blocked&status=payment_failed") == set()
    page = text(client_of.get("/invoices/"))
    assert "badge-status-payment_failed" in list_row(page, collected)
    assert "badge-collection-overdue" in list_row(page, collected)
    assert "Stripe could not collect the payment (attempt 2)." in list_row(page, collected)
    assert "badge-collection-settlement_blocked" in list_row(page, stuck)
    assert "badge-collection" not in list_row(page, late)


def test_a_bad_collection_filter_is_a_field_error(client_of: Client, collected: Invoice) -> None:
    page = text(client_of.get("/invoices/?collection=late"))

    assert "late is not one of the available choices" in page
    assert f'href="/invoices/{collected.pk}/"' in page  # not applied


def test_the_detail_lists_credit_notes_with_their_re_rating_and_stripe_id(
    client_of: Client, ingest: Ingest, collected: Invoice
) -> None:
    note = credited(ingest, collected, ["T-3", "T-4"], APRIL + dt.timedelta(days=5))

    page = text(client_of.get(f"/invoices/{collected.pk}/"))

    assert rows(page, "credit-notes") == [
        [
            str(note.pk),
            "2026-04-06 04:05",
            "1.01 USD",  # 103.01 as billed; without 2 outcomes 1 free + 2 x 1.00 + the fee: 102.00
            "Pending",
            "—",
            "2 outcomes reversed after billing",
            "charged 103.01 USD, re-rated 102.00 USD, credited before 0.00 USD",
            "—",
            "2 outcomes credited",
        ]
    ]
    assert f'href="/invoices/{collected.pk}/credit-notes/{note.pk}/"' in page

    # What issuing it on Stripe leaves (settlement.stripe_gateway.credit_notes).
    CreditNote.objects.filter(pk=note.pk).update(
        status=CreditNoteStatus.ISSUED,
        method=CreditNote.Method.PRE_PAYMENT,
        stripe_credit_note_id="cn_test_1",
        issued_at=APRIL + dt.timedelta(days=6),
    )
    [row] = rows(text(client_of.get(f"/invoices/{collected.pk}/")), "credit-notes")
    assert row[3:5] == ["Issued 2026-04-07 04:00", "Lowers what is due"]
    assert row[7] == "cn_test_1"


def test_a_credit_note_links_to_the_outcomes_it_credits(
    client_of: Client, ingest: Ingest, collected: Invoice
) -> None:
    note = credited(ingest, collected, ["T-3", "T-4"], APRIL + dt.timedelta(days=5))
    reversed_ids = sorted(
        Outcome.objects.filter(contract=ingest.contract, natural_key__in=["T-3", "T-4"]).values_list(
            "pk", flat=True
        )
    )

    page = text(client_of.get(f"/invoices/{collected.pk}/credit-notes/{note.pk}/"))

    assert re.findall(r'<a href="/outcomes/(\d+)/">', page) == [str(pk) for pk in reversed(reversed_ids)]
    assert [row[3] for row in rows(page, "credited-outcomes")] == ["Reversed", "Reversed"]
    assert "2 outcomes reversed after billing" in page
    assert (
        facts(page, "credit-note-facts")["Invoice period"] == "1\N{EN DASH}31 March 2026 (America/New_York)"
    )
    assert client_of.get(f"/invoices/{collected.pk}/credit-notes/{note.pk + 1}/").status_code == 404
    assert client_of.get(f"/invoices/{collected.pk}/credit-notes/x/").status_code == 404


def test_the_old_credit_carried_forward_shows_only_on_an_invoice_that_has_one(
    client_of: Client, ingest: Ingest, collected: Invoice
) -> None:
    assert "carried forward" not in text(client_of.get(f"/invoices/{collected.pk}/"))

    # An invoice built before credit notes, whose credits exceeded its charges.
    CreditEntry.objects.create(contract=ingest.contract, invoice=collected, amount_minor=150, at=APRIL)
    facts = text(client_of.get(f"/invoices/{collected.pk}/")).split('id="credits"', 1)[1]

    assert "carried forward 1.50 USD" in facts
    assert "Contract balance now</dt><dd>1.50 USD" in facts


@pytest.fixture
def pushed(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    """What the retry enqueued after its commit (the tasks themselves would call Stripe)."""
    calls: dict[str, list[int]] = {"invoices": [], "credit_notes": []}
    monkeypatch.setattr(invoice_actions.push_invoice, "delay", calls["invoices"].append)
    monkeypatch.setattr(invoice_actions.push_credit_note, "delay", calls["credit_notes"].append)
    return calls


def test_an_owner_retries_a_refused_step_and_the_settlement_resumes(
    client_of: Client,
    owner_of: Member,
    collected: Invoice,
    pushed: dict[str, list[int]],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    step = blocked(collected, APRIL + dt.timedelta(hours=3))
    page = text(client_of.get(f"/invoices/{collected.pk}/"))
    assert header(page)["Settlement"] == "Blocked: Stripe refused a step (needs a person)"
    assert 'aria-label="Retry step invoice"' in page
    assert "Abandon settlement" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client_of.post(f"/invoices/{collected.pk}/settlement/retry-step/", {"step": "invoice"})

    assert (response.status_code, response["Location"]) == (302, f"/invoices/{collected.pk}/")
    step.refresh_from_db()
    assert (step.status, step.key_version, step.idempotency_key, step.error) == (
        SettlementStep.Status.STARTED,
        2,
        f"verity:v1:invoice:{collected.pk}:create:r2",
        "",
    )
    collected.refresh_from_db()
    assert (collected.settlement_status, collected.stripe_error) == (SettlementStatus.PENDING, "")
    assert pushed == {"invoices": [collected.pk], "credit_notes": []}
    entry = AuditEntry.objects.get(action="invoice.settlement_step_retried")
    assert (entry.object_id, entry.actor) == (str(collected.pk), f"user:{owner_of.user.email}")
    assert entry.details["step"] == "invoice"
    page = text(client_of.get(f"/invoices/{collected.pk}/"))
    assert "Step invoice will run again" in page
    assert "Retry step" not in page


def test_a_refused_credit_note_step_is_retried_without_touching_the_invoice(
    client_of: Client,
    ingest: Ingest,
    collected: Invoice,
    pushed: dict[str, list[int]],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    note = credited(ingest, collected, ["T-4"], APRIL + dt.timedelta(days=5))
    blocked(collected, APRIL + dt.timedelta(days=6), step=f"credit_note:{note.pk}")
    page = text(client_of.get(f"/invoices/{collected.pk}/"))
    assert f'aria-label="Retry step credit_note:{note.pk}"' in page
    assert "Abandon settlement" not in page  # the invoice's own settlement is done

    with django_capture_on_commit_callbacks(execute=True):
        client_of.post(f"/invoices/{collected.pk}/settlement/retry-step/", {"step": f"credit_note:{note.pk}"})

    assert pushed == {"invoices": [], "credit_notes": [note.pk]}
    collected.refresh_from_db()
    assert collected.settlement_status == SettlementStatus.DONE


def test_retrying_a_step_that_did_not_fail_changes_nothing(
    client_of: Client,
    collected: Invoice,
    pushed: dict[str, list[int]],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    blocked(collected, APRIL + dt.timedelta(hours=3))

    with django_capture_on_commit_callbacks(execute=True):
        response = client_of.post(
            f"/invoices/{collected.pk}/settlement/retry-step/", {"step": "finalize"}, follow=True
        )

    assert f"Invoice {collected.pk} has no failed step &#x27;finalize&#x27;." in text(response)
    collected.refresh_from_db()
    assert collected.settlement_status == SettlementStatus.BLOCKED
    assert SettlementStep.objects.get(invoice=collected).status == SettlementStep.Status.FAILED
    assert pushed == {"invoices": [], "credit_notes": []}
    assert not AuditEntry.objects.filter(action__startswith="invoice.").exists()


def test_an_owner_abandons_a_blocked_settlement_with_a_reason(
    client_of: Client, owner_of: Member, ingest: Ingest, collected: Invoice
) -> None:
    note = credited(ingest, collected, ["T-4"], APRIL + dt.timedelta(days=1))
    blocked(collected, APRIL + dt.timedelta(days=2))

    response = client_of.post(
        f"/invoices/{collected.pk}/settlement/abandon/", {"reason": "Paid by bank transfer."}, follow=True
    )

    page = text(response)
    assert "Settlement abandoned" in page
    assert header(page)["Settlement"] == "Abandoned by an operator"
    assert "Abandon settlement" not in page
    collected.refresh_from_db()
    assert collected.settlement_status == SettlementStatus.ABANDONED
    note.refresh_from_db()
    assert note.status == CreditNoteStatus.NOT_REQUIRED  # nothing more is issued on Stripe
    entry = AuditEntry.objects.get(action="invoice.settlement_abandoned")
    assert (entry.actor, entry.details) == (
        f"user:{owner_of.user.email}",
        {"reason": "Paid by bank transfer.", "was": "blocked"},
    )


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501])
def test_abandoning_without_a_usable_reason_changes_nothing(
    client_of: Client, collected: Invoice, reason: str
) -> None:
    blocked(collected, APRIL + dt.timedelta(days=2))

    page = text(
        client_of.post(f"/invoices/{collected.pk}/settlement/abandon/", {"reason": reason}, follow=True)
    )

    assert "Not abandoned. Reason:" in page
    collected.refresh_from_db()
    assert collected.settlement_status == SettlementStatus.BLOCKED
    assert not AuditEntry.objects.filter(action__startswith="invoice.").exists()


def test_abandoning_a_settlement_that_is_done_is_refused(client_of: Client, collected: Invoice) -> None:
    page = text(
        client_of.post(f"/invoices/{collected.pk}/settlement/abandon/", {"reason": "Oops."}, follow=True)
    )

    assert f"Invoice {collected.pk}&#x27;s settlement is done: nothing to abandon." in page
    collected.refresh_from_db()
    assert collected.settlement_status == SettlementStatus.DONE
    assert not AuditEntry.objects.filter(action__startswith="invoice.").exists()


def test_a_viewer_sees_a_blocked_settlement_but_cannot_retry_or_abandon_it(
    viewer_of: Client, collected: Invoice
) -> None:
    step = blocked(collected, APRIL + dt.timedelta(hours=3))

    page = text(viewer_of.get(f"/invoices/{collected.pk}/"))
    assert "An owner or admin can retry the failed step." in page
    assert "Retry step" not in page
    assert "Abandon settlement" not in page
    retry = viewer_of.post(f"/invoices/{collected.pk}/settlement/retry-step/", {"step": "invoice"})
    abandon = viewer_of.post(f"/invoices/{collected.pk}/settlement/abandon/", {"reason": "Mine now."})

    assert (retry.status_code, abandon.status_code) == (403, 403)
    step.refresh_from_db()
    collected.refresh_from_db()
    assert (step.status, collected.settlement_status) == (
        SettlementStep.Status.FAILED,
        SettlementStatus.BLOCKED,
    )
    assert not AuditEntry.objects.filter(action__startswith="invoice.").exists()


def test_another_vendors_owner_finds_no_credit_note_and_changes_no_settlement(
    ingest: Ingest, collected: Invoice
) -> None:
    note = credited(ingest, collected, ["T-4"], APRIL + dt.timedelta(days=1))
    step = blocked(collected, APRIL + dt.timedelta(days=2))
    stranger = signed_in(make_member(role=Role.OWNER))

    assert stranger.get(f"/invoices/{collected.pk}/credit-notes/{note.pk}/").status_code == 404
    assert (
        stranger.post(f"/invoices/{collected.pk}/settlement/retry-step/", {"step": "invoice"}).status_code
        == 404
    )
    assert (
        stranger.post(f"/invoices/{collected.pk}/settlement/abandon/", {"reason": "Mine."}).status_code == 404
    )
    assert f"/invoices/{collected.pk}/" not in text(stranger.get("/invoices/?collection=blocked"))
    step.refresh_from_db()
    collected.refresh_from_db()
    assert (step.status, collected.settlement_status) == (
        SettlementStep.Status.FAILED,
        SettlementStatus.BLOCKED,
    )
    assert not AuditEntry.objects.filter(action__startswith="invoice.").exists()

"""In a real browser: from the invoice list to an invoice, then into a line down to its outcomes; from
the dashboard's "To collect" to a blocked settlement, retried, and a credit note's outcomes."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from contracts.models import Role
from settlement.invoicing.close import period_close
from settlement.services import invoice_actions
from tests.portal.test_accessibility_browser import problems_on
from tests.portal.test_invoices import contract_ingest
from tests.settlement.collection_scenes import blocked, credited, finalized
from tests.support.portal import SignIn, make_member, screenshot
from tests.support.settlement import APRIL, MARCH, billable

pytestmark = pytest.mark.django_db(transaction=True)


def test_open_an_invoice_and_drill_into_a_line_down_to_its_outcomes(page: Any, sign_in: SignIn) -> None:
    ingest = contract_ingest("CTR-DRILL")
    billable(ingest, 5, MARCH + dt.timedelta(days=3))
    invoice = period_close(
        contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL + dt.timedelta(hours=1)
    )
    sign_in(make_member(role=Role.OWNER, vendor=ingest.api.vendor))

    page.get_by_role("link", name="Invoices").click()
    page.wait_for_url("**/invoices/")
    assert page.locator("#invoices tbody tr").count() == 1
    screenshot(page, "invoice-list")

    page.get_by_role("link", name=f"Draft {invoice.pk}").click()
    page.wait_for_url(f"**/invoices/{invoice.pk}/")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Draft invoice")
    assert page.locator("#lines tbody tr").count() == 4
    assert page.locator("#lines tfoot").inner_text().split()[-2:] == ["103.01", "USD"]
    assert page.get_by_role("button", name="Finalize now").is_visible()
    screenshot(page, "invoice-detail")

    # The printable view styles itself inline, allowed by the response's CSP nonce (the page fixture
    # fails the test on any refusal).
    page.goto(f"/invoices/{invoice.pk}/print/")
    assert page.locator("tfoot td").last.evaluate("td => getComputedStyle(td).fontWeight") == "600"
    page.goto(f"/invoices/{invoice.pk}/")

    page.get_by_role("link", name="Outcomes of line 3").click()
    page.wait_for_url(f"**/invoices/{invoice.pk}/lines/3/")
    outcome_links = page.locator("#line-outcomes tbody a")
    assert outcome_links.count() == 2
    assert all(
        re.fullmatch(r"/outcomes/\d+/", href)
        for href in outcome_links.evaluate_all("as => as.map(a => a.getAttribute('href'))")
    )
    assert page.locator("#line-outcomes tbody tr td.money").all_inner_texts() == ["0.505 USD", "0.505 USD"]
    screenshot(page, "invoice-line")

    first = outcome_links.first.inner_text()
    outcome_links.first.click()
    page.wait_for_url(f"**/outcomes/{first}/")  # the outcome's trail
    assert page.get_by_role("heading", level=1).is_visible()


def test_a_viewer_sees_no_invoice_actions(page: Any, sign_in: SignIn) -> None:
    ingest = contract_ingest("CTR-VIEW")
    billable(ingest, 1, MARCH + dt.timedelta(days=3))
    invoice = period_close(
        contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL + dt.timedelta(hours=1)
    )
    sign_in(make_member(role=Role.VIEWER, vendor=ingest.api.vendor))

    page.goto(f"/invoices/{invoice.pk}/")

    assert page.locator("a", has_text="Printable view").is_visible()
    assert page.locator("main button").count() == 0


def test_a_blocked_settlement_is_found_from_the_dashboard_and_retried(
    page: Any, sign_in: SignIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    pushed: list[int] = []
    monkeypatch.setattr(invoice_actions.push_invoice, "delay", pushed.append)  # the task would call Stripe
    ingest = contract_ingest("CTR-STUCK")
    billable(ingest, 5, MARCH + dt.timedelta(days=3))
    invoice = finalized(ingest, MARCH, APRIL)
    note = credited(ingest, invoice, ["T-4"], APRIL + dt.timedelta(days=1))
    blocked(invoice, APRIL + dt.timedelta(days=2))
    sign_in(make_member(role=Role.OWNER, vendor=ingest.api.vendor))

    page.get_by_role("link", name="Settlement blocked: 1").click()
    page.wait_for_url("**/invoices/?collection=blocked")
    assert page.locator("#invoices tbody tr").count() == 1
    page.get_by_role("link", name=f"#{invoice.number}").click()
    page.wait_for_url(f"**/invoices/{invoice.pk}/")
    assert page.get_by_label("Reason for abandoning").is_visible()
    assert problems_on(page) == []
    screenshot(page, "invoice-blocked")

    page.get_by_role("link", name="1 outcome credited").click()
    page.wait_for_url(f"**/invoices/{invoice.pk}/credit-notes/{note.pk}/")
    assert page.locator("#credited-outcomes tbody tr").count() == 1
    assert problems_on(page) == []
    page.go_back()

    page.get_by_role("button", name="Retry step invoice").click()
    page.get_by_text("Step invoice will run again").wait_for()  # back on the invoice, with the message
    assert page.locator('#invoice-header [data-figure="settlement"]').inner_text() == "To do on Stripe"
    assert page.get_by_role("button", name="Retry step invoice").count() == 0
    assert pushed == [invoice.pk]

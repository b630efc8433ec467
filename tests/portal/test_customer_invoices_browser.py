"""The customer's invoices in a real browser: an approver finds the draft waiting for them, is told a
contest needs a reason, contests it, opens the printable view, then approves it."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.models import CustomerRole
from settlement.models import ApprovalStatus
from tests.portal.test_customer_invoices import approving_draft
from tests.support.portal import SignIn, make_customer_member, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_approver_contests_then_approves_a_draft(page: Any, sign_in: SignIn) -> None:
    ingest, invoice = approving_draft()
    sign_in(make_customer_member(customer=ingest.contract.customer, role=CustomerRole.APPROVER))

    page.get_by_role("link", name="Invoices", exact=True).click()
    page.get_by_role("link", name=f"Draft {invoice.pk}").first.click()
    page.get_by_role("button", name="Contest").click()
    page.get_by_text("This field is required.").wait_for()
    page.get_by_label("Why you contest it").fill("Line 2 counts reopened tickets.")
    page.get_by_role("button", name="Contest").click()
    page.get_by_text("Contested: the vendor sees your reason").wait_for()
    screenshot(page, "customer-invoice-draft")

    page.goto(f"/customer/invoices/{invoice.pk}/print/")
    page.get_by_text(ingest.contract.customer.name).first.wait_for()
    page.go_back()
    page.get_by_role("button", name="Approve").click()
    page.get_by_text("Approved:").wait_for()
    invoice.refresh_from_db()
    assert invoice.approval_status == ApprovalStatus.APPROVED

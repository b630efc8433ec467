"""Issue 17's flow in a real browser: a customer's approver disputes a billed-to-be outcome from its
trail with a file, the vendor finds it in its disputes and accepts it, and the customer's trail shows the
outcome no longer billed, the vendor's answer and the file."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from contracts.models import CustomerRole
from outcomes.models import Dispute, Outcome, OutcomeState
from tests.factories import outcome_type_terms, version_terms
from tests.support.ingest import make_ingest
from tests.support.portal import SignIn, make_customer_member, make_member, screenshot
from tests.support.settlement import FAST, billable

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_customer_disputes_an_outcome_the_vendor_accepts_it_and_the_trail_shows_it_not_billed(
    page: Any, sign_in: SignIn
) -> None:
    terms = version_terms(outcome_types=[outcome_type_terms(verification_policy=FAST)])
    ingest = make_ingest(reference="CTR-buyer", terms=terms)
    billable(ingest, 1, dt.datetime.now(dt.UTC) - dt.timedelta(hours=1), prefix="TCK")
    outcome = Outcome.objects.get(natural_key="TCK-0")
    assert outcome.state == OutcomeState.BILLABLE
    approver = make_customer_member(customer=ingest.contract.customer, role=CustomerRole.APPROVER)
    vendor_owner = make_member(vendor=ingest.contract.vendor)

    # The customer disputes it from the trail, with a file.
    sign_in(approver)
    page.goto(f"/customer/outcomes/{outcome.pk}/")
    page.get_by_label("Why you dispute it").fill("Our own staff solved this ticket.")
    page.get_by_label("Evidence").fill("Our helpdesk log shows it.")
    page.get_by_label("Files (up to 5").set_input_files(
        [{"name": "helpdesk.csv", "mimeType": "text/csv", "buffer": b"ticket,solved_by\nTCK-0,our staff\n"}]
    )
    screenshot(page, "customer-outcome-dispute")
    page.get_by_role("button", name="Dispute", exact=True).click()
    page.get_by_text("disputed; the vendor answers before").wait_for()
    page.get_by_role("link", name="helpdesk.csv").wait_for()

    # The vendor sees it among its open disputes, with the file, and accepts it.
    page.context.clear_cookies()
    sign_in(vendor_owner)
    page.goto("/disputes/")
    page.get_by_role("button", name="Respond").click()
    page.get_by_text("Our own staff solved this ticket.").wait_for()
    page.get_by_role("link", name="helpdesk.csv").wait_for()
    page.get_by_label("Accept the dispute").check()
    page.get_by_label("Response to the customer").fill("Agreed: not ours.")
    page.get_by_role("button", name="Send the response").click()
    page.get_by_text("Accepted by the vendor").first.wait_for()
    assert Dispute.objects.get(outcome=outcome).status == Dispute.Status.ACCEPTED

    # The customer's trail shows the outcome not billed and the vendor's answer.
    page.context.clear_cookies()
    sign_in(approver)
    page.goto(f"/customer/outcomes/{outcome.pk}/")
    page.get_by_text("“Agreed: not ours.”").wait_for()
    outcome.refresh_from_db()
    assert outcome.state not in (OutcomeState.BILLABLE, OutcomeState.BILLED, OutcomeState.DISPUTED)
    page.locator(".page-head").get_by_text(outcome.get_state_display()).wait_for()
    screenshot(page, "customer-outcome-dispute-accepted")

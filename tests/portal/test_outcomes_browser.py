"""The outcomes pages in a real browser: events posted through the signed webhook endpoint appear in
the explorer; a trail opens; a flag is decided; a dispute is answered. Screenshots of each page."""

from __future__ import annotations

import datetime as dt
import urllib.request
from typing import Any

import orjson
import pytest
from django.utils import timezone

from outcomes.models import Dispute, Outcome, ReviewDecision
from tests.portal.outcome_scenes import Scene, at_t0, disputed, flagged_ingest, ingest_for
from tests.support.ingest import event, sign
from tests.support.portal import Member, SignIn, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def post_signed(live_server: Any, url: str, secret: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    body = orjson.dumps({"events": events})
    headers = {
        name.removeprefix("HTTP_").replace("_", "-").lower(): value
        for name, value in sign(secret, body).items()
    }
    request = urllib.request.Request(  # noqa: S310 - the test's own live server
        f"{live_server.url}{url}",
        data=body,
        headers={**headers, "content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:  # noqa: S310
        return dict(orjson.loads(response.read()))


def test_events_posted_to_the_webhook_appear_in_the_explorer_and_their_trail_opens(
    page: Any, live_server: Any, owner: Member, sign_in: SignIn
) -> None:
    ingest = ingest_for(owner.vendor, reference="CTR-browser")
    at = (timezone.now() - dt.timedelta(minutes=5)).isoformat()
    events = [event(contract="CTR-browser", natural_key=f"TCK-{n}", occurred_at=at) for n in range(3)]
    answer = post_signed(live_server, ingest.url, ingest.secret, events)
    assert answer["accepted"] == 3, answer

    sign_in(owner)
    page.get_by_role("link", name="Outcomes", exact=True).click()
    page.get_by_role("cell", name="TCK-2").wait_for()
    screenshot(page, "outcome-list")
    page.get_by_label("Search").fill("TCK-1")
    page.get_by_role("button", name="Filter").click()
    assert page.locator("tbody tr").count() == 1
    page.get_by_role("link", name="TCK-1").click()

    page.get_by_role("heading", name="Trail").wait_for()
    page.locator("code", has_text=events[1]["id"]).first.wait_for()
    page.get_by_text("Headers and body").first.click()
    page.get_by_text("webhook-signature").first.wait_for()
    screenshot(page, "outcome-trail")


def test_an_admin_decides_a_flagged_outcome_from_the_review_queue(
    page: Any, owner: Member, sign_in: SignIn, django_capture_on_commit_callbacks: Any
) -> None:
    with at_t0():
        ingest, flagged = flagged_ingest(Scene(django_capture_on_commit_callbacks), owner.vendor)
    first = Outcome.objects.get(pk=max(flagged))
    # The ten flags of one contract and day (1 June in its New York zone) are one group in the queue.
    group = f"#group-{ingest.contract.pk}-velocity_anomaly-2026-06-01"

    sign_in(owner)
    page.get_by_role("link", name="Review queue").click()
    page.get_by_text("10 outcomes of CTR-burst on 1 June 2026").wait_for()
    screenshot(page, "review-queue")
    page.locator(group).get_by_role(
        "button", name="Reject all 10 (do not bill)"
    ).click()  # no reason: refused
    page.get_by_text("needs a justification the customer can see").first.wait_for()
    page.locator(f"#flag-{first.pk}-velocity_anomaly").wait_for()  # the group's page lists its outcomes
    page.locator(group).get_by_label("Reason").fill("A planned migration week: the customer agreed by email.")
    page.locator(group).get_by_role("button", name="Reject all 10 (do not bill)").click()

    page.get_by_text("10 velocity anomaly flags of CTR-burst on 1 June 2026 rejected (not billed)").wait_for()
    page.get_by_text("Nothing to review: no outcome is flagged.").wait_for()
    decisions = ReviewDecision.objects.all()
    assert sorted(decisions.values_list("outcome_id", flat=True)) == sorted(flagged)
    assert set(decisions.values_list("verdict", "actor")) == {("reject", f"user:{owner.user.email}")}


def test_an_admin_answers_a_dispute_with_evidence(
    page: Any, owner: Member, sign_in: SignIn, django_capture_on_commit_callbacks: Any
) -> None:
    with at_t0():
        dispute = disputed(Scene(django_capture_on_commit_callbacks), owner.vendor)
    # Opened at T0; still open now, with a week to answer.
    Dispute.objects.filter(pk=dispute.pk).update(deadline=timezone.now() + dt.timedelta(days=7))

    sign_in(owner)
    page.get_by_role("link", name="Disputes").click()
    page.get_by_text("Our own staff solved it.").wait_for()
    screenshot(page, "disputes")
    page.get_by_role("button", name="Respond").click()
    page.get_by_label("Reject the dispute").check()
    page.get_by_label("Response to the customer").fill("Our agent closed it; the transcript shows it.")
    page.get_by_label("Evidence:", exact=True).fill("Transcript 2026-05-30, ticket T-disputed.")
    page.get_by_role("button", name="Send the response").click()

    page.get_by_text("Rejected by the vendor with evidence (billed)").first.wait_for()
    dispute.refresh_from_db()
    assert (dispute.status, dispute.resolved_by) == ("rejected", f"user:{owner.user.email}")

"""A customer's system of record speaks for the customer only once the customer approved it: a vendor
that creates one and signs as the customer confirms nothing; after the approval (which replaces the
secret the vendor saw) only the events received from then on confirm."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from contracts.models import WebhookSource
from contracts.selectors import WEBHOOK_SOURCE_CACHE_SECONDS
from tests.factories import webhook_source_create_for
from tests.support.ingest import event
from tests.support.portal import make_member, signed_in
from tests.support.rule_stories import DAY, HOUR, T0, make_story
from tests.support.vendors import customer_api_client

SETTLE = dt.timedelta(seconds=WEBHOOK_SOURCE_CACHE_SECONDS)
MICROSECOND = dt.timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("kind", "approved_at", "received_at", "speaks"),
    [
        ("customer_system", T0, T0, True),
        ("customer_system", T0, T0 - MICROSECOND, False),
        ("customer_system", None, T0, False),
        ("vendor_agent", None, T0, False),
    ],
    ids=["at-approval", "just-before-approval", "awaiting-approval", "vendor-agent"],
)
def test_an_event_speaks_for_the_customer_from_the_approval_on(
    kind: str, approved_at: dt.datetime | None, received_at: dt.datetime, speaks: bool
) -> None:
    source = WebhookSource(kind=kind, approved_at=approved_at)

    assert source.speaks_for_customer(received_at) is speaks


@pytest.mark.django_db
def test_the_vendor_signing_as_the_customer_confirms_nothing_until_the_customer_approves() -> None:
    story = make_story()
    customer = story.contract.customer
    # The vendor creates the customer's system of record itself and signs with the secret it saw.
    source, vendor_secret = webhook_source_create_for(customer, approved=False)
    story.ingest.source, story.ingest.secret = source, vendor_secret
    story.claim(T0, "T-before")
    story.confirm(T0 + HOUR, "T-before")  # accepted and stored, but not the customer's word

    approved_at = T0 + 2 * HOUR
    with time_machine.travel(approved_at, tick=False):
        approval = customer_api_client(customer).post(f"/api/v1/customer/webhook-sources/{source.pk}/approve")
    assert approval.status_code == 200

    late = T0 + 3 * HOUR
    with time_machine.travel(late, tick=False):
        refused = story.ingest.post(event(contract=story.contract.reference), secret=vendor_secret)
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_signature")
    story.ingest.secret = approval.json()["signing_secret"]
    story.claim(late, "T-after")
    story.confirm(late + HOUR, "T-after")

    story.evaluate(T0 + 4 * DAY)

    assert story.decided("T-before", "confirmation") == ("reject", "unconfirmed")
    assert story.decided("T-after", "confirmation") == ("accept", "confirmed")
    detail = story.ingest.api.client.get(f"/api/v1/outcomes/{story.outcome('T-before').pk}").json()
    assert [(e["kind"], e["from_customer"]) for e in detail["raw_events"]] == [
        ("outcome.claimed", False),
        ("outcome.confirmed", False),
    ]
    assert WebhookSource.objects.get(pk=source.pk).approved_at == approved_at + SETTLE
    trail = signed_in(make_member(vendor=story.ingest.api.vendor))
    page = trail.get(f"/outcomes/{story.outcome('T-before').pk}/").content.decode()
    assert page.count("does not speak for the customer:</strong> received before the customer approved") == 1

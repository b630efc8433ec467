"""The outcomes explorer and an outcome's trail: filters, keyset paging, counts per state, isolation."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from contracts.models import Role
from outcomes import views
from outcomes.models import Outcome, OutcomeState, RawEvent
from outcomes.rules import reason_text
from settlement.models import Invoice, InvoiceLine, LineOutcome
from tests.portal.outcome_scenes import T0, Scene, flagged_ingest, ingest_for
from tests.support.portal import Member, make_member, signed_in

pytestmark = pytest.mark.django_db


def listed_ids(response: Any) -> list[int]:
    assert response.status_code == 200
    return [
        int(n) for n in re.findall(r'<td class="num"><a href="/outcomes/(\d+)/">', response.content.decode())
    ]


def test_the_explorer_lists_the_vendors_outcomes_newest_first_and_filters_them(
    owner: Member, owner_client: Client, outcome_scene: Scene
) -> None:
    support = ingest_for(owner.vendor, reference="CTR-support")
    billable = outcome_scene.billable(support, "T-1", "T-2")
    rejected = outcome_scene.rejected(support, "T-3")
    _, flagged = flagged_ingest(outcome_scene, owner.vendor)
    other = ingest_for(make_member().vendor, reference="CTR-other")
    (foreign,) = outcome_scene.billable(other, "T-1")

    everything = listed_ids(owner_client.get("/outcomes/"))
    assert foreign not in everything
    assert (
        everything
        == sorted(Outcome.objects.filter(vendor=owner.vendor).values_list("id", flat=True))[::-1][:50]
    )

    assert listed_ids(owner_client.get("/outcomes/", {"state": "rejected"})) == [rejected]
    assert listed_ids(owner_client.get("/outcomes/", {"contract": str(support.contract.pk)})) == [
        rejected,
        *billable[::-1],
    ]
    by_agent = listed_ids(owner_client.get("/outcomes/", {"source": str(support.agent.pk)}))
    assert by_agent == [rejected]
    assert listed_ids(owner_client.get("/outcomes/", {"q": "T-2"})) == [billable[1]]  # natural key
    event_id = RawEvent.objects.get(natural_key="T-1", contract=support.contract).event_id
    assert listed_ids(owner_client.get("/outcomes/", {"q": event_id})) == [billable[0]]  # external event id
    assert listed_ids(owner_client.get("/outcomes/", {"q": str(flagged[0])})) == [flagged[0]]  # outcome id
    assert listed_ids(owner_client.get("/outcomes/", {"q": str(foreign)})) == []
    assert listed_ids(owner_client.get("/outcomes/", {"q": "T-1", "contract": str(support.contract.pk)})) == [
        billable[0]
    ]
    # Dates are whole UTC days: billable ones occurred two days before T0, the rejected one four.
    two_days_ago = (T0 - dt.timedelta(days=2)).date().isoformat()
    on_that_day = owner_client.get(
        "/outcomes/",
        {"occurred_from": two_days_ago, "occurred_to": two_days_ago, "contract": str(support.contract.pk)},
    )
    assert listed_ids(on_that_day) == billable[::-1]


def test_a_bad_filter_shows_its_error_and_the_others_still_apply(
    owner: Member, owner_client: Client, outcome_scene: Scene
) -> None:
    support = ingest_for(owner.vendor)
    (billable,) = outcome_scene.billable(support, "T-1")

    response = owner_client.get(
        "/outcomes/",
        {"state": "lost", "occurred_from": "2026-05-01", "occurred_to": "2026-04-01", "q": "T-1"},
    )

    page = response.content.decode()
    assert listed_ids(response) == [billable]
    assert 'aria-invalid="true"' in page
    assert "Select a valid choice. lost is not one of the available choices." in page
    assert "The end date is before the start date." in page


def test_the_explorer_pages_by_key_and_keeps_the_filters(owner: Member, owner_client: Client) -> None:
    contract = ingest_for(owner.vendor).contract
    now = timezone.now()
    Outcome.objects.bulk_create(
        Outcome(
            vendor=owner.vendor,
            contract=contract,
            outcome_type_key="ticket.resolved",
            natural_key=f"K-{n:03d}",
            state=OutcomeState.BILLABLE if n % 2 else OutcomeState.REJECTED,
            occurred_at=now - dt.timedelta(minutes=n),
            created_at=now,
            updated_at=now,
        )
        for n in range(130)
    )
    billable = list(
        Outcome.objects.filter(vendor=owner.vendor, state="billable")
        .order_by("-id")
        .values_list("id", flat=True)
    )

    first = owner_client.get("/outcomes/", {"state": "billable"})
    assert listed_ids(first) == billable[:50]
    older = re.search(r'href="\?([^"]+)" rel="next"', first.content.decode())
    assert older is not None
    assert "state=billable" in older[1]
    second = owner_client.get(f"/outcomes/?{older[1].replace('&amp;', '&')}")
    assert listed_ids(second) == billable[50:65]
    newer = re.search(r'href="\?([^"]+)" rel="prev"', second.content.decode())
    assert newer is not None
    assert listed_ids(owner_client.get(f"/outcomes/?{newer[1].replace('&amp;', '&')}")) == billable[:50]
    assert 'rel="next"' not in second.content.decode()


def test_counts_per_state_only_when_the_filter_is_narrow_enough(
    owner: Member, owner_client: Client, outcome_scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    support = ingest_for(owner.vendor)
    outcome_scene.billable(support, "T-1", "T-2")
    outcome_scene.rejected(support, "T-3")

    page = owner_client.get("/outcomes/").content.decode()
    assert re.search(r'title="billable">Billable</span> <span class="count">2</span>', page)
    assert re.search(r'title="rejected">Rejected</span> <span class="count">1</span>', page)

    monkeypatch.setattr(views, "STATE_COUNT_CAP", 2)
    page = owner_client.get("/outcomes/").content.decode()
    assert 'class="count"' not in page
    assert "More than 2 outcomes match" in page
    assert 'class="count">1<' in owner_client.get("/outcomes/", {"q": "T-3"}).content.decode()


def test_the_trail_shows_events_with_headers_verdicts_transitions_and_the_invoice_line(
    owner: Member, owner_client: Client, outcome_scene: Scene
) -> None:
    support = ingest_for(owner.vendor)
    (outcome_id,) = outcome_scene.billable(support, "T-1")
    outcome = Outcome.objects.get(pk=outcome_id)
    event = RawEvent.objects.get(outcome_link__outcome=outcome)
    invoice = Invoice.objects.create(
        vendor=owner.vendor,
        contract=support.contract,
        period_start=T0 - dt.timedelta(days=30),
        period_end=T0,
        currency="EUR",
        finalize_after=T0,
        built_at=T0 + dt.timedelta(hours=1),
        number=7,
    )
    line = InvoiceLine.objects.create(
        invoice=invoice, position=1, kind="usage", description="Resolved tickets: 1", amount_minor=500
    )
    LineOutcome.objects.create(line=line, outcome=outcome, share_minor="500")

    response = owner_client.get(f"/outcomes/{outcome_id}/")

    assert response.status_code == 200
    page = response.content.decode()
    assert event.event_id in page
    assert "<code>webhook-signature</code>" in page
    assert event.delivery.headers["webhook-id"] in page
    assert "&quot;natural_key&quot;: &quot;T-1&quot;" in page  # the body as the sender wrote it
    assert "Reported by system of record" in page
    assert "<code>reported_by_system_of_record</code>" in page
    # The verdict's reason in the words its rule declares (outcomes.rules.reason_text).
    meaning = reason_text("reported_by_system_of_record")
    assert meaning
    assert f'<span class="muted small reason-text">{html.escape(meaning)}</span>' in page
    assert "<code>all_rules_accept</code>" in page
    assert f'href="/invoices/{invoice.pk}/"' in page
    assert "Invoice #7" in page
    # Oldest first: the event, then verification, then the transitions that followed it.
    assert (
        page.index(event.event_id) < page.index("Verification:") < page.index("<code>all_rules_accept</code>")
    )


def test_another_vendors_outcome_is_a_404(owner_client: Client, outcome_scene: Scene) -> None:
    other = ingest_for(make_member().vendor)
    (foreign,) = outcome_scene.billable(other, "T-1")

    assert owner_client.get(f"/outcomes/{foreign}/").status_code == 404
    assert owner_client.get("/outcomes/not-a-number/").status_code == 404
    assert (
        owner_client.post(
            f"/outcomes/{foreign}/review/", {"flag_reason": "x", "verdict": "accept"}
        ).status_code
        == 404
    )


def test_a_viewer_reads_the_explorer_and_trails(owner: Member, outcome_scene: Scene) -> None:
    viewer = signed_in(make_member(role=Role.VIEWER, vendor=owner.vendor))
    (outcome_id,) = outcome_scene.billable(ingest_for(owner.vendor), "T-1")

    assert listed_ids(viewer.get("/outcomes/")) == [outcome_id]
    assert viewer.get(f"/outcomes/{outcome_id}/").status_code == 200

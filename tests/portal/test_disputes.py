"""Disputes: open first with the time left, answered with evidence by an owner or admin only."""

from __future__ import annotations

import pytest
from django.test import Client

from outcomes.models import Dispute
from tests.portal.outcome_scenes import Scene, disputed
from tests.support.portal import Member, make_member

pytestmark = pytest.mark.django_db


def test_open_disputes_come_first_with_their_deadline_and_time_left(
    owner: Member, owner_client: Client, outcome_scene: Scene
) -> None:
    answered = disputed(outcome_scene, owner.vendor, key="T-answered")
    Dispute.objects.filter(pk=answered.pk).update(status=Dispute.Status.ACCEPTED, resolved_by="user:someone")
    waiting = disputed(outcome_scene, owner.vendor, key="T-waiting")
    foreign = disputed(outcome_scene, make_member().vendor, key="T-foreign")

    page = owner_client.get("/disputes/").content.decode()

    assert page.index(f'href="/disputes/{waiting.pk}/"') < page.index(f'href="/disputes/{answered.pk}/"')
    assert waiting.deadline.strftime("%Y-%m-%d %H:%M") in page
    assert "<strong>2\xa0weeks</strong>" in page  # the default response time, from T0
    assert f'href="/disputes/{foreign.pk}/"' not in page
    assert owner_client.get(f"/disputes/{foreign.pk}/").status_code == 404


def test_rejecting_a_dispute_needs_evidence_and_records_who_answered(
    owner: Member, owner_client: Client, outcome_scene: Scene
) -> None:
    dispute = disputed(outcome_scene, owner.vendor)
    url = f"/disputes/{dispute.pk}/"

    refused = owner_client.post(url, {"accept": "false", "response": "It happened."})

    assert refused.status_code == 200
    assert "Rejecting a dispute needs evidence." in refused.content.decode()
    assert Dispute.objects.get(pk=dispute.pk).status == "open"

    answered = owner_client.post(
        url, {"accept": "false", "response": "It happened.", "evidence_note": "Call recording 42."}
    )

    assert answered.status_code == 302
    assert answered["Location"] == url
    dispute.refresh_from_db()
    assert (dispute.status, dispute.response, dispute.response_evidence, dispute.resolved_by) == (
        "rejected",
        "It happened.",
        {"note": "Call recording 42."},
        f"user:{owner.user.email}",
    )
    page = owner_client.get(url).content.decode()
    assert "Rejected by the vendor with evidence (billed)" in page
    assert 'name="response"' not in page


def test_a_viewer_reads_a_dispute_without_the_form_and_a_forged_answer_is_refused(
    viewer: Member, viewer_client: Client, outcome_scene: Scene
) -> None:
    dispute = disputed(outcome_scene, viewer.vendor)

    page = viewer_client.get(f"/disputes/{dispute.pk}/").content.decode()
    listed = viewer_client.get("/disputes/").content.decode()
    forged = viewer_client.post(f"/disputes/{dispute.pk}/", {"accept": "true", "response": "Fine."})

    assert 'name="response"' not in page
    assert "only the vendor's owners and admins respond" in page
    assert ">Respond<" not in listed
    assert ">View<" in listed
    assert forged.status_code == 403
    assert Dispute.objects.get(pk=dispute.pk).status == "open"

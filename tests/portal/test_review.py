"""The review queue: flagged outcomes with their facts, decided by the party allowed to, with a reason."""

from __future__ import annotations

import pytest
from django.test import Client

from outcomes.models import Outcome, ReviewDecision
from tests.portal.conftest import Member, make_member
from tests.portal.outcome_scenes import Scene, flagged_ingest, ingest_for

pytestmark = pytest.mark.django_db


def test_the_queue_shows_each_flag_with_its_facts_and_who_decides(
    owner: Member, owner_client: Client, outcome_scene: Scene
) -> None:
    _, flagged = flagged_ingest(outcome_scene, owner.vendor)
    _, foreign = flagged_ingest(outcome_scene, make_member().vendor, reference="CTR-other")

    page = owner_client.get("/review/").content.decode()

    assert all(f'href="/outcomes/{outcome_id}/"' in page for outcome_id in flagged)
    assert not any(f'href="/outcomes/{outcome_id}/"' in page for outcome_id in foreign)
    assert "Velocity anomaly" in page
    assert "<code>velocity_anomaly</code>" in page
    assert "<code>baseline_median</code>" in page
    assert "<code>z_threshold</code>" in page
    assert "the customer (through their own key or portal); or a vendor owner or admin" in page
    assert page.count('name="verdict" value="accept"') == len(flagged)


def test_a_viewer_sees_why_there_is_no_decide_button_and_a_forged_post_is_refused(
    viewer: Member, viewer_client: Client, outcome_scene: Scene
) -> None:
    _, flagged = flagged_ingest(outcome_scene, viewer.vendor)

    page = viewer_client.get("/review/").content.decode()
    forged = viewer_client.post(
        f"/outcomes/{flagged[0]}/review/",
        {"flag_reason": "velocity_anomaly", "verdict": "accept", "justification": "Sure."},
    )

    assert 'name="verdict"' not in page
    assert "<form" not in page.split('id="main"')[1]
    assert "You are a viewer: only the vendor&#x27;s owners and admins decide flags." in page
    assert forged.status_code == 403
    assert viewer_client.get(f"/outcomes/{flagged[0]}/review/").status_code == 403
    assert not ReviewDecision.objects.exists()
    assert Outcome.objects.get(pk=flagged[0]).state == "flagged"


def test_an_admin_decides_an_inflation_flag_only_with_a_reason_and_it_is_recorded(
    owner: Member, owner_client: Client, outcome_scene: Scene
) -> None:
    _, flagged = flagged_ingest(outcome_scene, owner.vendor)
    url = f"/outcomes/{flagged[0]}/review/"

    refused = owner_client.post(
        url, {"flag_reason": "velocity_anomaly", "verdict": "accept", "justification": " "}
    )

    assert refused.status_code == 200
    assert (
        "A vendor admin&#x27;s decision needs a justification the customer can see."
        in refused.content.decode()
    )
    assert 'id="id_justification_error"' in refused.content.decode()
    assert not ReviewDecision.objects.exists()

    decided = owner_client.post(
        url,
        {
            "flag_reason": "velocity_anomaly",
            "verdict": "reject",
            "justification": "A test burst.",
            "next": "/review/",
        },
    )

    assert decided.status_code == 302
    assert decided["Location"] == "/review/"
    decision = ReviewDecision.objects.get()
    assert (decision.outcome_id, decision.flag_reason, decision.verdict, decision.party) == (
        flagged[0],
        "velocity_anomaly",
        "reject",
        "vendor_admin",
    )
    assert (decision.actor, decision.justification) == (f"user:{owner.user.email}", "A test burst.")
    assert Outcome.objects.get(pk=flagged[0]).state == "rejected"
    queue = owner_client.get("/review/").content.decode()
    assert f'href="/outcomes/{flagged[0]}/"' not in queue
    assert "is decided; it is now rejected" in queue  # the message, after the redirect
    again = owner_client.post(
        url, {"flag_reason": "velocity_anomaly", "verdict": "accept", "justification": "x"}
    )
    assert again.status_code == 302
    assert ReviewDecision.objects.count() == 1


def test_a_suppression_flag_is_cleared_with_the_vendors_evidence(
    owner: Member, owner_client: Client, outcome_scene: Scene
) -> None:
    flagged = outcome_scene.suppression_flagged(ingest_for(owner.vendor))
    url = f"/outcomes/{flagged[0]}/review/"
    page = owner_client.get("/review/").content.decode()
    assert "the vendor, with its evidence" in page
    assert 'name="evidence_note"' in page

    refused = owner_client.post(url, {"flag_reason": "suppression_suspected", "verdict": "accept"})
    assert "Clearing a suppression flag needs the vendor&#x27;s evidence." in refused.content.decode()

    owner_client.post(
        url,
        {
            "flag_reason": "suppression_suspected",
            "verdict": "accept",
            "evidence_note": "Helpdesk export shows it solved.",
            "evidence_url": "https://helpdesk.example/T-1",
        },
    )

    decision = ReviewDecision.objects.get()
    assert (decision.party, decision.evidence) == (
        "vendor",
        {"note": "Helpdesk export shows it solved.", "url": "https://helpdesk.example/T-1"},
    )

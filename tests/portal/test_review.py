"""The review queue: flags grouped by contract, kind and day, with their facts, decided (a whole group
at once, or one outcome at a time) by the party allowed to, with a reason."""

from __future__ import annotations

import pytest
from django.test import Client

from contracts.models import AuditEntry
from outcomes.models import Outcome, ReviewDecision
from tests.outcomes.test_review_groups import VELOCITY_FLAG, contract_of, outcome_with, utc
from tests.portal.outcome_scenes import Scene, flagged_ingest, ingest_for
from tests.support.ingest import Ingest
from tests.support.portal import Member, make_member

pytestmark = pytest.mark.django_db

REASON = "A planned migration week: the customer agreed by email."


def group_url(ingest: Ingest) -> str:
    """The velocity group of a scene's burst: T0 - 5 min is 07:55 on 1 June in the contract's New York."""
    return f"/review/{ingest.contract.pk}/velocity_anomaly/2026-06-01/"


def test_the_queue_shows_one_group_per_contract_flag_and_day_which_opens_on_its_outcomes(
    owner: Member, owner_client: Client, outcome_scene: Scene
) -> None:
    ingest, flagged = flagged_ingest(outcome_scene, owner.vendor)
    foreign_ingest, foreign = flagged_ingest(outcome_scene, make_member().vendor, reference="CTR-other")

    page = owner_client.get("/review/").content.decode()
    group = owner_client.get(group_url(ingest)).content.decode()

    assert "Velocity anomaly: 10 outcomes of CTR-burst on 1 June 2026" in page
    assert "<code>velocity_anomaly</code>" in page
    assert "<code>baseline_median</code>" in page
    assert "<code>z_threshold</code>" in page
    assert (
        "accepted by the customer (through their own key or portal) or a neutral operator (Verity&#x27;s "
        "reviewer), with a reason both sides can see; or rejected by the customer" in page
    )
    # No one decides alone what pays them: the vendor may reject the group, never accept it.
    assert 'name="verdict" value="accept"' not in page
    assert page.count('name="verdict" value="reject"') == 1  # one decision for the group
    assert "Reject all 10 (do not bill)" in page
    assert "Accepting it is not the vendor&#x27;s to decide alone" in page
    assert f'href="{group_url(ingest)}"' in page
    assert "CTR-other" not in page
    assert f'href="{group_url(foreign_ingest)}"' not in page
    # The group's page: every outcome of the group, each with its own decision, and the group's.
    assert all(f'href="/outcomes/{outcome_id}/"' in group for outcome_id in flagged)
    assert group.count('name="verdict" value="reject"') == len(flagged) + 1
    assert not any(f'href="/outcomes/{outcome_id}/"' in group for outcome_id in foreign)


def test_a_viewer_sees_why_there_is_no_decide_button_and_a_forged_post_is_refused(
    viewer: Member, viewer_client: Client, outcome_scene: Scene
) -> None:
    ingest, flagged = flagged_ingest(outcome_scene, viewer.vendor)

    for url in ("/review/", group_url(ingest)):
        page = viewer_client.get(url).content.decode()
        assert 'name="verdict"' not in page
        assert "<form" not in page.split('id="main"')[1]
        assert "You are a viewer: only the vendor&#x27;s owners and admins decide flags." in page
    forged = viewer_client.post(
        f"/outcomes/{flagged[0]}/review/",
        {"flag_reason": "velocity_anomaly", "verdict": "accept", "justification": "Sure."},
    )
    forged_group = viewer_client.post(group_url(ingest), {"verdict": "accept", "justification": "Sure."})

    assert forged.status_code == 403
    assert forged_group.status_code == 403
    assert viewer_client.get(f"/outcomes/{flagged[0]}/review/").status_code == 403
    assert not ReviewDecision.objects.exists()
    assert not AuditEntry.objects.filter(action="outcome.flag_decided").exists()
    assert set(Outcome.objects.filter(pk__in=flagged).values_list("state", flat=True)) == {"flagged"}


def test_an_admin_decides_an_inflation_flag_only_with_a_reason_and_it_is_recorded(
    owner: Member, owner_client: Client, outcome_scene: Scene
) -> None:
    ingest, flagged = flagged_ingest(outcome_scene, owner.vendor)
    url = f"/outcomes/{flagged[0]}/review/"

    refused = owner_client.post(
        url, {"flag_reason": "velocity_anomaly", "verdict": "reject", "justification": " "}
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
            "next": group_url(ingest),
        },
    )

    assert decided.status_code == 302
    assert decided["Location"] == group_url(ingest)
    decision = ReviewDecision.objects.get()
    assert (decision.outcome_id, decision.flag_reason, decision.verdict, decision.party) == (
        flagged[0],
        "velocity_anomaly",
        "reject",
        "vendor_admin",
    )
    assert (decision.actor, decision.justification) == (f"user:{owner.user.email}", "A test burst.")
    assert Outcome.objects.get(pk=flagged[0]).state == "rejected"
    group = owner_client.get(group_url(ingest)).content.decode()
    assert f'href="/outcomes/{flagged[0]}/"' not in group
    assert f'href="/outcomes/{flagged[1]}/"' in group
    assert "Velocity anomaly: 9 outcomes of CTR-burst" in group
    assert "is decided; it is now rejected" in group  # the message, after the redirect
    again = owner_client.post(
        url, {"flag_reason": "velocity_anomaly", "verdict": "accept", "justification": "x"}
    )
    assert again.status_code == 302
    assert ReviewDecision.objects.count() == 1


def test_a_suppression_flag_is_never_accepted_by_the_vendor_alone_even_with_evidence(
    owner: Member, owner_client: Client, outcome_scene: Scene
) -> None:
    flagged = outcome_scene.suppression_flagged(ingest_for(owner.vendor))
    url = f"/outcomes/{flagged[0]}/review/"
    page = owner_client.get("/review/").content.decode()
    assert "rejected by the vendor, with its evidence" in page
    assert 'name="verdict" value="accept"' not in page
    assert 'name="evidence_note"' not in page  # evidence is for whoever may accept: not the vendor
    assert "Accepting it is not the vendor&#x27;s to decide alone" in page

    forged = owner_client.post(
        url,
        {
            "flag_reason": "suppression_suspected",
            "verdict": "accept",
            "evidence_note": "Helpdesk export shows it solved.",
            "evidence_url": "https://helpdesk.example/T-1",
            "next": "/review/",
        },
    )

    assert (forged.status_code, forged["Location"]) == (302, "/review/")
    assert not ReviewDecision.objects.exists()
    assert Outcome.objects.get(pk=flagged[0]).state == "flagged"
    after = owner_client.get("/review/").content.decode()
    assert "no one decides alone what pays them, so the vendor may not accept it" in after


def test_one_post_decides_a_60_flag_group_with_one_reason_recorded_and_audited_on_each_outcome(
    owner: Member, owner_client: Client, outcome_scene: Scene
) -> None:
    ingest, flagged = flagged_ingest(outcome_scene, owner.vendor, burst=60)
    queue = owner_client.get("/review/").content.decode()
    assert "Reject all 60 (do not bill)" in queue

    decided = owner_client.post(
        group_url(ingest),
        {
            "verdict": "reject",
            "justification": REASON,
            "newest_outcome_id": str(max(flagged)),
            "shown": "60",
            "next": "/review/",
        },
    )

    assert decided.status_code == 302
    assert decided["Location"] == "/review/"
    decisions = ReviewDecision.objects.filter(outcome_id__in=flagged)
    assert sorted(decisions.values_list("outcome_id", flat=True)) == sorted(flagged)
    assert set(decisions.values_list("verdict", "party", "actor", "justification")) == {
        ("reject", "vendor_admin", f"user:{owner.user.email}", REASON)
    }
    assert set(Outcome.objects.filter(pk__in=flagged).values_list("state", flat=True)) == {"rejected"}
    audit = AuditEntry.objects.filter(vendor=owner.vendor, action="outcome.flag_decided")
    assert sorted(int(pk) for pk in audit.values_list("object_id", flat=True)) == sorted(flagged)
    after = owner_client.get("/review/").content.decode()
    assert "60 velocity anomaly flags of CTR-burst on 1 June 2026 rejected (not billed)" in after
    assert "Nothing to review: no outcome is flagged." in after


def test_a_group_decision_needs_a_reason_and_skips_a_flag_decided_meanwhile(
    owner: Member, owner_client: Client, outcome_scene: Scene
) -> None:
    ingest, flagged = flagged_ingest(outcome_scene, owner.vendor)
    shown = {"newest_outcome_id": str(max(flagged)), "shown": "10"}

    refused = owner_client.post(group_url(ingest), {"verdict": "reject", "justification": " ", **shown})

    assert refused.status_code == 200
    assert "A vendor admin&#x27;s decision needs a justification" in refused.content.decode()
    assert not ReviewDecision.objects.exists()

    owner_client.post(
        f"/outcomes/{flagged[0]}/review/",
        {"flag_reason": "velocity_anomaly", "verdict": "reject", "justification": "Alone."},
    )
    decided = owner_client.post(group_url(ingest), {"verdict": "reject", "justification": REASON, **shown})

    assert decided.status_code == 302
    assert ReviewDecision.objects.get(outcome_id=flagged[0]).justification == "Alone."
    assert ReviewDecision.objects.filter(justification=REASON).count() == 9
    message = owner_client.get("/review/").content.decode()
    assert "9 velocity anomaly flags of CTR-burst on 1 June 2026 rejected (not billed)" in message
    assert "1 of the 10 shown were decided meanwhile or no longer open" in message


def test_another_vendors_group_is_not_found_and_nothing_changes(
    owner: Member, owner_client: Client, outcome_scene: Scene
) -> None:
    theirs, flagged = flagged_ingest(outcome_scene, make_member().vendor, reference="CTR-other")

    seen = owner_client.get(group_url(theirs))
    forged = owner_client.post(group_url(theirs), {"verdict": "reject", "justification": REASON})

    assert (seen.status_code, forged.status_code) == (404, 404)
    assert not ReviewDecision.objects.exists()
    assert not AuditEntry.objects.filter(action="outcome.flag_decided").exists()
    assert set(Outcome.objects.filter(pk__in=flagged).values_list("state", flat=True)) == {"flagged"}


def test_the_queue_pages_its_groups_and_takes_any_page_parameter(owner: Member, owner_client: Client) -> None:
    contract = contract_of(owner.vendor, "CTR-days", "UTC")
    for day in range(1, 22):  # 21 days with a flag each: 21 groups, one more than a page
        outcome_with(contract, utc(day, 12), VELOCITY_FLAG)

    first = owner_client.get("/review/").content.decode()
    second = owner_client.get("/review/?page=2").content.decode()

    assert first.count("1 outcome of CTR-days on") == 20
    assert "on 21 June 2026" in first
    assert 'href="?page=2" rel="next"' in first
    assert second.count("1 outcome of CTR-days on") == 1
    assert "on 1 June 2026" in second
    assert 'href="?page=1" rel="prev"' in second
    for junk in ("abc", "0", "-1", "²", "9" * 5000):
        response = owner_client.get("/review/", {"page": junk})
        assert response.status_code == 200, junk
        assert response.content.decode().count("1 outcome of CTR-days on") == 20, junk  # the first page
    beyond = owner_client.get("/review/?page=99999").content.decode()
    assert "No group on this page." in beyond

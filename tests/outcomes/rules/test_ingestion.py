"""Rules 1-3, enforced at ingestion and recorded by the pipeline: authenticity, idempotency and
natural-key uniqueness (the door's mechanics are in tests/outcomes/test_webhooks.py)."""

from __future__ import annotations

import pytest
import time_machine

from outcomes.models import Outcome, OutcomeState, RawEvent, TamperEvidence
from outcomes.verdict_trail import verdicts_recorded
from tests.factories import outcome_type_terms, version_terms
from tests.support.ingest import make_ingest
from tests.support.rule_stories import DAY, HOUR, SECOND, T0, Story, make_story

pytestmark = pytest.mark.django_db


# --- authenticity -------------------------------------------------------------------------------


def test_every_verified_source_and_delivery_is_recorded() -> None:
    story = make_story()
    story.claim(T0, "T-1")
    story.confirm(T0 + HOUR, "T-1")

    story.evaluate(T0 + DAY)

    verdict = story.verdict("T-1", "authenticity")
    assert (verdict.decision, verdict.reason, verdict.facts) == (
        "accept",
        "signature_verified",
        {"sources": sorted([str(story.ingest.agent.pk), str(story.ingest.source.pk)]), "deliveries": 2},
    )


@pytest.mark.parametrize(
    ("signed_ago", "status"),
    [(300, 200), (301, 401), (-300, 200), (-301, 401)],
    ids=["5-min-old", "5-min-1-s-old", "5-min-ahead", "5-min-1-s-ahead"],
)
def test_only_authentic_deliveries_within_the_timestamp_tolerance_become_outcomes(
    signed_ago: int, status: int
) -> None:
    story = make_story()
    with time_machine.travel(T0, tick=False):
        response = story.ingest.post(
            story.event(key="T-1", at=T0 - HOUR), at=T0 - signed_ago * SECOND, as_agent=True
        )
        forged = story.ingest.post(story.event(key="T-2", at=T0 - HOUR), secret="whsec_" + "A" * 32)
    story.last_arrival = T0
    assert response.status_code == status, response.content
    assert forged.status_code == 401

    story.evaluate(T0 + HOUR)

    assert not Outcome.objects.filter(natural_key="T-2").exists()
    if status == 200:
        assert story.decided("T-1", "authenticity") == ("accept", "signature_verified")
    else:
        assert not Outcome.objects.exists()
        assert not verdicts_recorded()


# --- idempotency --------------------------------------------------------------------------------


def test_resent_deliveries_and_event_ids_count_once() -> None:
    story = make_story()
    claim = story.event(key="T-1", at=T0)
    with time_machine.travel(T0, tick=False):
        for msg_id in ("msg_1", "msg_1", "msg_2"):  # a retry, then the same event in a new delivery
            assert story.ingest.post(claim, msg_id=msg_id, as_agent=True).status_code == 200
    story.last_arrival = T0

    story.evaluate(T0 + HOUR)

    assert RawEvent.objects.filter(contract=story.contract).count() == 1
    verdict = story.verdict("T-1", "idempotency")
    assert (verdict.decision, verdict.reason, verdict.facts) == (
        "accept",
        "events_counted_once",
        {"events": [claim["id"]]},
    )
    assert story.verdict("T-1", "authenticity").facts["deliveries"] == 1
    assert story.verdict("T-1", "natural_key").facts["claims"] == 1


def test_a_reused_event_id_with_another_body_is_refused_and_changes_nothing() -> None:
    story = make_story({"evidence": {"required_fields": {"ticket_status": "string"}}})
    claim = story.event(key="T-1", at=T0, evidence={"ticket_status": "solved"})
    story.send(T0, claim, as_agent=True)
    story.evaluate(T0 + HOUR)
    verdicts = len(verdicts_recorded())

    with time_machine.travel(T0 + 2 * HOUR, tick=False):
        response = story.ingest.post({**claim, "evidence": {"ticket_status": ""}}, as_agent=True)
    summary = story.evaluate(T0 + 2 * HOUR)

    assert (response.status_code, response.json()["code"]) == (409, "event_id_conflict")
    assert TamperEvidence.objects.filter(reused_id=claim["id"]).count() == 1
    assert (summary.verdicts, summary.transitions) == (0, 0)
    assert len(verdicts_recorded()) == verdicts
    assert story.decided("T-1", "evidence") == ("accept", "evidence_complete")
    assert story.verdict("T-1", "idempotency").facts == {"events": [claim["id"]]}


# --- natural-key uniqueness ---------------------------------------------------------------------


def test_repeated_claims_of_one_natural_key_merge_into_one_outcome() -> None:
    story = make_story()
    story.claim(T0, "T-1")
    story.claim(T0 + HOUR, "T-1")
    story.post(T0 + 2 * HOUR, "T-1")  # the customer's system claims it too
    story.claim(T0, "T-2")
    story.confirm(T0, "T-2")

    story.evaluate(T0 + 2 * DAY)

    assert story.outcomes().count() == 2
    verdict = story.verdict("T-1", "natural_key")
    assert (verdict.decision, verdict.reason, verdict.facts) == (
        "accept",
        "merged_repeated_claims",
        {"natural_key": "T-1", "claims": 3},
    )
    # A confirmation is not a claim.
    assert story.verdict("T-2", "natural_key").facts == {"natural_key": "T-2", "claims": 1}
    assert story.decided("T-2", "natural_key") == ("accept", "unique_natural_key")
    assert story.state("T-1") == OutcomeState.BILLABLE


def test_one_natural_key_under_two_outcome_types_is_two_outcomes() -> None:
    terms = version_terms(
        outcome_types=[
            outcome_type_terms(),
            outcome_type_terms(key="lead.qualified", natural_key_field="lead_id"),
        ]
    )
    story = Story(make_ingest(terms=terms))
    story.claim(T0, "K-1")
    story.claim(T0, "K-1", outcome_type="lead.qualified")

    story.evaluate(T0 + HOUR)

    outcomes = story.outcomes().order_by("outcome_type_key")
    assert [o.outcome_type_key for o in outcomes] == ["lead.qualified", "ticket.resolved"]
    for outcome in outcomes:
        (verdict,) = [v for v in verdicts_recorded(outcome_ids=[outcome.pk]) if v.rule == "natural_key"]
        assert (verdict.reason, verdict.facts) == ("unique_natural_key", {"natural_key": "K-1", "claims": 1})

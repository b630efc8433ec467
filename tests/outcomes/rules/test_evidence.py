"""Rule 6: the evidence fields an outcome type requires are present and well-formed, by kind; evidence
from every event of the outcome counts, the earliest event's value of a field standing."""

from __future__ import annotations

from typing import Any

import pytest

from outcomes.models import OutcomeState
from outcomes.rules.evidence import CHECKS
from tests.support.rule_stories import DAY, DIGEST, HOUR, T0, make_story

pytestmark = pytest.mark.django_db

REQUIRED = {"transcript_sha256": "sha256", "ticket_status": "string", "csat": "integer"}
POLICY = {"evidence": {"required_fields": REQUIRED}, "confirmation": {"required": False}}
COMPLETE = {"transcript_sha256": DIGEST, "ticket_status": "solved", "csat": 5}


def test_complete_evidence_is_accepted() -> None:
    story = make_story(POLICY)
    story.claim(T0, "T-1", evidence=COMPLETE)

    story.evaluate(T0 + DAY)

    verdict = story.verdict("T-1", "evidence")
    assert (verdict.decision, verdict.reason, verdict.facts) == (
        "accept",
        "evidence_complete",
        {"fields": ["csat", "ticket_status", "transcript_sha256"]},
    )
    assert story.state("T-1") == OutcomeState.BILLABLE


def test_missing_fields_are_named_and_the_outcome_rejected() -> None:
    story = make_story(POLICY)
    story.claim(T0, "T-1", evidence={"ticket_status": "solved"})

    story.evaluate(T0 + DAY)

    verdict = story.verdict("T-1", "evidence")
    assert (verdict.decision, verdict.reason, verdict.facts) == (
        "reject",
        "evidence_missing",
        {"missing": ["csat", "transcript_sha256"]},
    )
    assert story.state("T-1") == OutcomeState.REJECTED


def test_malformed_fields_are_named_with_their_kind() -> None:
    story = make_story(POLICY)
    story.claim(T0, "T-1", evidence={**COMPLETE, "transcript_sha256": DIGEST.upper(), "csat": "5"})

    story.evaluate(T0 + DAY)

    verdict = story.verdict("T-1", "evidence")
    assert (verdict.decision, verdict.reason, verdict.facts) == (
        "reject",
        "evidence_malformed",
        {"malformed": {"csat": "integer", "transcript_sha256": "sha256"}},
    )
    assert story.state("T-1") == OutcomeState.REJECTED


def test_the_customers_confirmation_may_complete_the_evidence() -> None:
    story = make_story({"evidence": {"required_fields": REQUIRED}})
    story.claim(T0, "T-1", evidence={"transcript_sha256": DIGEST})
    story.confirm(T0 + HOUR, "T-1", evidence={"ticket_status": "solved", "csat": 4})

    story.evaluate(T0 + 2 * DAY)

    assert story.decided("T-1", "evidence") == ("accept", "evidence_complete")
    assert story.state("T-1") == OutcomeState.BILLABLE


def test_a_later_event_cannot_repair_a_malformed_field() -> None:
    story = make_story({"evidence": {"required_fields": REQUIRED}})
    story.claim(T0, "T-1", evidence={**COMPLETE, "ticket_status": " "})
    story.confirm(T0 + HOUR, "T-1", evidence={"ticket_status": "solved"})

    story.evaluate(T0 + 2 * DAY)

    assert story.decided("T-1", "evidence") == ("reject", "evidence_malformed")
    assert story.verdict("T-1", "evidence").facts == {"malformed": {"ticket_status": "string"}}


def test_no_required_fields_records_nothing() -> None:
    story = make_story({"confirmation": {"required": False}})
    story.claim(T0, "T-1", evidence={})

    story.evaluate(T0 + DAY)

    assert "evidence" not in story.rules("T-1")
    assert story.state("T-1") == OutcomeState.BILLABLE


WELL_FORMED: list[tuple[str, Any]] = [
    ("string", "solved"),
    ("integer", 0),
    ("integer", -3),
    ("number", 4.5),
    ("number", 7),
    ("boolean", False),
    ("datetime", "2026-06-01T12:00:00Z"),
    ("datetime", "2026-06-01T12:00:00-05:00"),
    ("sha256", DIGEST),
    ("url", "https://calendar.example.com/events/123"),
    ("url", "http://hris.example.com"),
]
MALFORMED: list[tuple[str, Any]] = [
    ("string", ""),
    ("string", "   "),
    ("string", 12),
    ("integer", True),
    ("integer", 1.0),
    ("integer", "1"),
    ("number", False),
    ("number", "4.5"),
    ("number", None),
    ("boolean", 1),
    ("boolean", "true"),
    ("datetime", "2026-06-01T12:00:00"),
    ("datetime", "2026-06-01"),
    ("datetime", 1780311600),
    ("sha256", DIGEST[:-1]),
    ("sha256", DIGEST.upper()),
    ("sha256", DIGEST + "0"),
    ("url", "ftp://files.example.com/x"),
    ("url", "https://"),
    ("url", "calendar.example.com/events/123"),
    ("url", None),
]


@pytest.mark.parametrize(("kind", "value"), WELL_FORMED)
def test_well_formed_values_pass_their_kind(kind: str, value: Any) -> None:
    assert CHECKS[kind](value) is True


@pytest.mark.parametrize(("kind", "value"), MALFORMED)
def test_malformed_values_fail_their_kind(kind: str, value: Any) -> None:
    assert CHECKS[kind](value) is False

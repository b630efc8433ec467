"""Rule 14: the customer's confirmations fall (the last 7 days' confirmed share below a third of the
baseline's) against the vendor's steady activity. Then an unconfirmed claim whose match window has
closed is flagged for the vendor's evidence instead of rejected, so silence cannot avoid paying."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from outcomes.models import OutcomeState, Party, ReviewDecision
from outcomes.services.review import review_decide
from tests.support.rule_stories import DAY, HOUR, SECOND, T0, Story, make_story

pytestmark = pytest.mark.django_db

NOW = T0 + 35 * DAY
SUBJECT_AT = NOW - 72 * HOUR  # its match window closes exactly at NOW
FOUR_WEEKS = [NOW - 35 * DAY + 12 * HOUR + i * DAY for i in range(28)]
SUSPECTED = {
    "suspected": True,
    "recent_confirmation_ratio": 0.0,
    "baseline_confirmation_ratio": 1.0,
    "min_ratio_of_baseline": 0.3333,
}


def suppressed(
    policy: dict[str, Any] | None = None, *, baseline: list[dt.datetime] = FOUR_WEEKS, recent: int = 6
) -> Story:
    """A contract whose `baseline` claims were all confirmed, then `recent` daily claims in the last
    week and the subject's (T-subject, at SUBJECT_AT) that the customer's system left unconfirmed."""
    # A steady one-a-day history would make the subject's day a velocity anomaly: not under test here.
    story = make_story({"anomaly": {"velocity_enabled": False}, **(policy or {})})
    sent = max(baseline) + HOUR
    claims = [story.event(key=f"B-{i}", at=at) for i, at in enumerate(baseline)]
    confirmations = [
        story.event(key=f"B-{i}", at=at, kind="outcome.confirmed") for i, at in enumerate(baseline)
    ]
    story.send(sent, {"events": claims}, as_agent=True)
    story.send(sent, {"events": confirmations})
    last_week = [NOW - 7 * DAY + 12 * HOUR + i * DAY for i in range(recent)]
    recent_claims = [story.event(key=f"R-{i}", at=at) for i, at in enumerate(last_week)]
    story.send(
        NOW - 6 * HOUR,
        {"events": [*recent_claims, story.event(key="T-subject", at=SUBJECT_AT)]},
        as_agent=True,
    )
    story.build(sent)
    return story


def test_an_unconfirmed_claim_is_flagged_once_its_window_closes_during_a_drop() -> None:
    story = suppressed()

    story.evaluate(NOW - SECOND)
    verdict = story.verdict("T-subject", "suppression")
    assert (verdict.decision, verdict.reason, verdict.facts) == ("accept", "confirmations_steady", SUSPECTED)
    assert story.decided("T-subject", "confirmation") == ("hold", "awaiting_confirmation")
    assert story.state("T-subject") == OutcomeState.MATURING

    story.evaluate(NOW)
    verdict = story.verdict("T-subject", "suppression")
    assert (verdict.decision, verdict.reason, verdict.facts) == ("flag", "suppression_suspected", SUSPECTED)
    confirmation = story.verdict("T-subject", "confirmation")
    assert (confirmation.decision, confirmation.reason) == ("flag", "suppression_suspected")
    assert confirmation.facts == {
        "claimed_at": SUBJECT_AT.isoformat(),
        "match_window_hours": 72,
        **SUSPECTED,
    }
    outcome = story.outcome("T-subject")
    assert (outcome.state, outcome.hold_until) == (OutcomeState.FLAGGED, None)


def test_the_vendors_evidence_clears_the_flag() -> None:
    story = suppressed()
    story.evaluate(NOW)

    with time_machine.travel(NOW + HOUR, tick=False):
        review_decide(
            outcome=story.outcome("T-subject"),
            flag_reason="suppression_suspected",
            verdict=ReviewDecision.Verdict.ACCEPT,
            party=Party.VENDOR,
            actor="vendor:ops",
            evidence={"transcript_sha256": "ab" * 32},
        )

    assert story.decided("T-subject", "suppression") == ("accept", "suppression_suspected_cleared")
    assert story.decided("T-subject", "confirmation") == ("accept", "suppression_suspected_cleared")
    assert story.verdict("T-subject", "confirmation").facts["decided_by"] == "vendor:ops"
    assert story.state("T-subject") == OutcomeState.BILLABLE


def test_a_confirmed_claim_is_not_flagged() -> None:
    story = suppressed()
    story.confirm(NOW - HOUR, "R-5")

    story.evaluate(NOW + DAY)

    assert story.decided("R-5", "suppression") == ("accept", "confirmations_steady")
    assert story.verdict("R-5", "suppression").facts["suspected"] is True
    assert story.state("R-5") == OutcomeState.BILLABLE


@pytest.mark.parametrize(("late_start", "suspected"), [(-SECOND, True), (0 * SECOND, False)])
def test_suspicion_needs_min_history_days_of_history(late_start: dt.timedelta, suspected: bool) -> None:
    # UTC days: the first outcome on the day 14 days before NOW's day (at its last second) is enough
    # history; one on the day after (at its first second) is not. NOW is at noon.
    first = NOW - 13 * DAY - 12 * HOUR + late_start
    story = suppressed(baseline=[first + i * DAY for i in range(7)])

    story.evaluate(NOW)

    verdict = story.verdict("T-subject", "suppression")
    assert verdict.facts["suspected"] is suspected
    if suspected:
        assert story.state("T-subject") == OutcomeState.FLAGGED
    else:
        assert verdict.reason == "confirmations_steady"
        assert story.decided("T-subject", "confirmation") == ("reject", "unconfirmed")
        assert story.state("T-subject") == OutcomeState.REJECTED


def test_no_suspicion_when_the_vendor_slowed_down_too() -> None:
    story = suppressed(recent=2)  # 3 claims in the last week against one a day before

    story.evaluate(NOW)

    assert story.decided("T-subject", "suppression") == ("accept", "confirmations_steady")
    assert story.verdict("T-subject", "suppression").facts["suspected"] is False
    assert story.decided("T-subject", "confirmation") == ("reject", "unconfirmed")
    assert story.state("T-subject") == OutcomeState.REJECTED


def test_disabled_records_nothing_and_silence_rejects() -> None:
    story = suppressed({"suppression": {"enabled": False}})

    story.evaluate(NOW)

    assert "suppression" not in story.rules("T-subject")
    assert story.decided("T-subject", "confirmation") == ("reject", "unconfirmed")
    assert story.state("T-subject") == OutcomeState.REJECTED


@pytest.mark.parametrize(("min_ratio", "suspected"), [(1 / 3, False), (0.5, True)])
def test_the_drop_is_measured_against_the_policys_min_ratio_of_baseline(
    min_ratio: float, suspected: bool
) -> None:
    # Three of the week's seven claims confirmed: a drop to 3/7 of the baseline's share, which is
    # below half of it but not below a third (the default).
    story = suppressed({"suppression": {"min_ratio_of_baseline": min_ratio}})
    for key in ("R-0", "R-1", "R-2"):
        story.confirm(NOW - 2 * HOUR, key)

    story.evaluate(NOW)

    verdict = story.verdict("T-subject", "suppression")
    assert verdict.facts["suspected"] is suspected
    assert verdict.facts["min_ratio_of_baseline"] == round(min_ratio, 4)
    expected = OutcomeState.FLAGGED if suspected else OutcomeState.REJECTED
    assert story.state("T-subject") == expected

"""Rule 7, two-sided confirmation: the customer's system must confirm the vendor's claim within the
match window (72 h by default, either side of the claim); unmatched claims are held, then rejected,
billed as unverified, or accepted after a silence window."""

from __future__ import annotations

import datetime as dt

import pytest

from outcomes.models import OutcomeState
from tests.support.rule_stories import DAY, HOUR, SECOND, T0, make_story

pytestmark = pytest.mark.django_db

WINDOW = 72 * HOUR


@pytest.mark.parametrize(
    ("confirmed_after_claim", "matched"),
    [
        (WINDOW, True),
        (WINDOW + SECOND, False),
        (-WINDOW, True),
        (-WINDOW - SECOND, False),
    ],
    ids=["at-window", "one-second-after-window", "window-before-claim", "one-second-before-window"],
)
def test_confirmation_matches_only_within_the_window_either_side_of_the_claim(
    confirmed_after_claim: dt.timedelta, matched: bool
) -> None:
    story = make_story()
    claimed_at = T0
    confirmed_at = T0 + confirmed_after_claim
    for at, post in sorted([(claimed_at, story.claim), (confirmed_at, story.confirm)], key=lambda p: p[0]):
        post(at, "T-1")

    story.evaluate(max(claimed_at, confirmed_at) + 4 * DAY)

    verdict = story.verdict("T-1", "confirmation")
    details = {
        "claimed_at": claimed_at.isoformat(),
        "confirmed_at": confirmed_at.isoformat(),
        "match_window_hours": 72,
    }
    if matched:
        assert (verdict.decision, verdict.reason, verdict.facts) == ("accept", "confirmed", details)
        assert story.state("T-1") == OutcomeState.BILLABLE
    else:
        assert (verdict.decision, verdict.reason, verdict.facts) == ("reject", "unconfirmed", details)
        assert story.state("T-1") == OutcomeState.REJECTED


def test_unmatched_claim_is_held_until_the_window_closes_then_rejected() -> None:
    story = make_story()
    story.claim(T0, "T-1")

    story.evaluate(T0 + WINDOW - SECOND)
    outcome = story.outcome("T-1")
    assert story.decided("T-1", "confirmation") == ("hold", "awaiting_confirmation")
    assert story.verdict("T-1", "confirmation").hold_until == T0 + WINDOW
    assert (outcome.state, outcome.hold_until) == (OutcomeState.MATURING, T0 + WINDOW)

    story.evaluate(T0 + WINDOW)
    assert story.decided("T-1", "confirmation") == ("reject", "unconfirmed")
    assert story.verdict("T-1", "confirmation").facts == {
        "claimed_at": T0.isoformat(),
        "match_window_hours": 72,
    }
    outcome.refresh_from_db()
    assert (outcome.state, outcome.hold_until) == (OutcomeState.REJECTED, None)


def test_policy_match_window_is_honoured_to_the_second() -> None:
    story = make_story({"confirmation": {"match_window_hours": 2}})
    story.claim(T0, "T-in")
    story.confirm(T0 + 2 * HOUR, "T-in")
    story.claim(T0, "T-out")
    story.confirm(T0 + 2 * HOUR + SECOND, "T-out")

    story.evaluate(T0 + 2 * DAY)

    assert story.decided("T-in", "confirmation") == ("accept", "confirmed")
    assert story.decided("T-out", "confirmation") == ("reject", "unconfirmed")
    assert story.verdict("T-out", "confirmation").facts["match_window_hours"] == 2


def test_a_claim_by_the_system_of_record_itself_needs_no_confirmation() -> None:
    story = make_story()
    story.post(T0, "T-1")  # the customer's system claims it

    story.evaluate(T0 + HOUR)

    verdict = story.verdict("T-1", "confirmation")
    assert (verdict.decision, verdict.reason, verdict.facts) == (
        "accept",
        "reported_by_system_of_record",
        {"confirmed_at": T0.isoformat()},
    )


def test_bill_unverified_accepts_the_unmatched_claim_at_the_window_end_at_a_reduced_price() -> None:
    story = make_story({"confirmation": {"on_unmatched": "bill_unverified", "unverified_price_percent": 40}})
    story.claim(T0, "T-1")

    story.evaluate(T0 + WINDOW - SECOND)
    assert story.decided("T-1", "confirmation") == ("hold", "awaiting_confirmation")
    assert story.outcome("T-1").price_percent == 100

    story.evaluate(T0 + WINDOW)
    verdict = story.verdict("T-1", "confirmation")
    assert (verdict.decision, verdict.reason, verdict.facts) == (
        "accept",
        "billed_unverified",
        {"claimed_at": T0.isoformat(), "match_window_hours": 72, "price_percent": 40},
    )
    outcome = story.outcome("T-1")
    assert (outcome.state, outcome.price_percent, outcome.billable_at) == (
        OutcomeState.BILLABLE,
        40,
        T0 + WINDOW,
    )


def test_silence_is_consent_only_after_the_silence_window() -> None:
    story = make_story({"confirmation": {"on_unmatched": "silence_is_consent", "silence_window_hours": 168}})
    story.claim(T0, "T-1")
    silence_ends = T0 + 168 * HOUR

    story.evaluate(silence_ends - SECOND)
    verdict = story.verdict("T-1", "confirmation")
    assert (verdict.decision, verdict.reason, verdict.hold_until) == (
        "hold",
        "awaiting_silence",
        silence_ends,
    )
    assert story.outcome("T-1").hold_until == silence_ends
    assert story.state("T-1") == OutcomeState.MATURING

    story.evaluate(silence_ends)
    assert story.decided("T-1", "confirmation") == ("accept", "silence_is_consent")
    outcome = story.outcome("T-1")
    assert (outcome.state, outcome.price_percent) == (OutcomeState.BILLABLE, 100)


def test_confirmation_not_required_records_nothing() -> None:
    story = make_story({"confirmation": {"required": False}})
    story.claim(T0, "T-1")

    story.evaluate(T0 + DAY)

    assert "confirmation" not in story.rules("T-1")
    assert story.state("T-1") == OutcomeState.BILLABLE

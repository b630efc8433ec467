"""Rule 14: the customer's confirmations fall (the confirmed share below a third of the baseline's, over
the last 7 days or over the 1 or 3 days ending on the claim's own day) against the vendor's steady
activity. Then an unconfirmed claim whose match window has closed is flagged for the vendor's
evidence instead of rejected, so silence cannot avoid paying; an honest month flags nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from outcomes.models import OutcomeState, Party, ReviewDecision
from outcomes.services.review import review_decide
from outcomes.verdict_trail import verdicts_recorded
from tests.support.rule_stories import DAY, HOUR, SECOND, T0, Story, make_story

pytestmark = pytest.mark.django_db

NOW = T0 + 35 * DAY
SUBJECT_AT = NOW - 72 * HOUR  # its match window closes exactly at NOW
FOUR_WEEKS = [NOW - 35 * DAY + 12 * HOUR + i * DAY for i in range(28)]
SUBJECT_DAY = SUBJECT_AT.date()
SUSPECTED = {
    "suspected": True,
    "recent_confirmation_ratio": 0.0,
    "baseline_confirmation_ratio": 1.0,
    "min_ratio_of_baseline": 0.3333,
    # Too few claims on the subject's days for the short windows (5 and 10 by default): the week decides.
    "triggered_by": ["7_days"],
    "short_windows": {
        "1_day": {
            "first_day": SUBJECT_DAY.isoformat(),
            "last_day": SUBJECT_DAY.isoformat(),
            "outcomes": 2,
            "confirmed": 0,
            "confirmation_ratio": 0.0,
        },
        "3_days": {
            "first_day": (SUBJECT_DAY - 2 * DAY).isoformat(),
            "last_day": SUBJECT_DAY.isoformat(),
            "outcomes": 4,
            "confirmed": 0,
            "confirmation_ratio": 0.0,
        },
    },
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
    # Flagged until a person decides, or its deadline (outcomes.rules.flag_deadlines) passes.
    assert (outcome.state, outcome.hold_until) == (OutcomeState.FLAGGED, NOW + 14 * DAY)


def test_the_vendors_evidence_clears_the_flag() -> None:
    story = suppressed()
    story.evaluate(NOW)

    with time_machine.travel(NOW + HOUR, tick=False):
        review_decide(
            outcome=story.outcome("T-subject"),
            flag_reason="suppression_suspected",
            verdict=ReviewDecision.Verdict.ACCEPT,
            # Weighed by a neutral operator: the vendor never clears it alone (test_review_parties).
            party=Party.OPERATOR,
            actor="operator:ops",
            justification="The transcript shows the question answered.",
            evidence={"transcript_sha256": "ab" * 32},
        )

    assert story.decided("T-subject", "suppression") == ("accept", "suppression_suspected_cleared")
    assert story.decided("T-subject", "confirmation") == ("accept", "suppression_suspected_cleared")
    assert story.verdict("T-subject", "confirmation").facts["decided_by"] == "operator:ops"
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


# The short windows: the 1 and 3 UTC days ending on the claim's own day.
NOW_DAY = NOW - 12 * HOUR  # midnight UTC starting NOW's day


def daily(policy: dict[str, Any] | None = None, *, silent: range = range(0), per_day: int = 4) -> Story:
    """A contract whose vendor claims `per_day` outcomes a day over the 34 days before NOW's (in the
    first hours of each UTC day), all confirmed by the customer's system except on the `silent` days
    (offsets from NOW's day)."""
    story = make_story({"anomaly": {"velocity_enabled": False}, **(policy or {})})
    claims = [
        (f"D{-day:02d}-{n}", NOW_DAY + day * DAY + (n + 1) * HOUR)
        for day in range(-34, 0)
        for n in range(per_day)
    ]
    # All sent three days before NOW's day, when the last of them had happened.
    sent = NOW_DAY - 3 * DAY
    story.send(sent, {"events": [story.event(key=k, at=at) for k, at in claims if at < sent]}, as_agent=True)
    confirmations = [
        story.event(key=k, at=at, kind="outcome.confirmed")
        for k, at in claims
        if at < sent and (at - NOW_DAY).days not in silent
    ]
    story.send(sent, {"events": confirmations})
    later = [(k, at) for k, at in claims if at >= sent]
    story.send(NOW_DAY, {"events": [story.event(key=k, at=at) for k, at in later]}, as_agent=True)
    story.send(
        NOW_DAY,
        {
            "events": [
                story.event(key=k, at=at, kind="outcome.confirmed")
                for k, at in later
                if (at - NOW_DAY).days not in silent
            ]
        },
    )
    return story


def claimed_at(story: Story, at: dt.datetime) -> None:
    """The subject: a claim at `at` the customer's system never confirms; evaluated once its match
    window closed."""
    story.claim(at, "T-subject")
    story.evaluate(at + 72 * HOUR)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # The last second of the silent day: with it, five claims that day and none confirmed.
        (NOW_DAY - 2 * DAY - SECOND, ("flag", "suppression_suspected")),
        # The first second of the day after, when the customer confirmed again.
        (NOW_DAY - 2 * DAY, ("reject", "unconfirmed")),
    ],
)
def test_a_one_day_stop_is_judged_on_the_claims_own_utc_day(
    at: dt.datetime, expected: tuple[str, str]
) -> None:
    story = daily(silent=range(-3, -2))

    claimed_at(story, at)

    assert story.decided("T-subject", "confirmation") == expected
    verdict = story.verdict("T-subject", "suppression")
    flagged = expected[0] == "flag"
    assert (verdict.facts["suspected"], verdict.facts["triggered_by"]) == (
        flagged,
        ["1_day"] if flagged else [],
    )
    assert verdict.facts["recent_confirmation_ratio"] > 0.5  # the week alone would not have caught it
    assert story.state("T-subject") == (OutcomeState.FLAGGED if flagged else OutcomeState.REJECTED)
    if flagged:
        assert verdict.facts["short_windows"]["1_day"] == {
            "first_day": (NOW_DAY - 3 * DAY).date().isoformat(),
            "last_day": (NOW_DAY - 3 * DAY).date().isoformat(),
            "outcomes": 5,
            "confirmed": 0,
            "confirmation_ratio": 0.0,
        }


@pytest.mark.parametrize(("minimum", "suspected"), [(5, True), (6, False)])
def test_the_1_day_window_needs_min_outcomes_1_day_claims(minimum: int, suspected: bool) -> None:
    story = daily({"suppression": {"min_outcomes_1_day": minimum}}, silent=range(-3, -2))

    claimed_at(story, NOW_DAY - 3 * DAY + 12 * HOUR)  # five claims on the silent day, with it

    verdict = story.verdict("T-subject", "suppression")
    assert verdict.facts["triggered_by"] == (["1_day"] if suspected else [])
    assert story.state("T-subject") == (OutcomeState.FLAGGED if suspected else OutcomeState.REJECTED)


@pytest.mark.parametrize(("minimum", "suspected"), [(13, True), (14, False)])
def test_the_3_day_window_needs_min_outcomes_3_days_claims(minimum: int, suspected: bool) -> None:
    # Three silent days of four claims, and the subject's: 13 claims, none confirmed. The 1-day window
    # is kept out (at least 6 claims a day), and the week's share stays above a third.
    policy = {"suppression": {"min_outcomes_1_day": 6, "min_outcomes_3_days": minimum}}
    story = daily(policy, silent=range(-5, -2))

    claimed_at(story, NOW_DAY - 3 * DAY + 12 * HOUR)

    verdict = story.verdict("T-subject", "suppression")
    assert verdict.facts["triggered_by"] == (["3_days"] if suspected else [])
    assert verdict.facts["short_windows"]["3_days"]["outcomes"] == 13
    assert story.decided("T-subject", "confirmation") == (
        ("flag", "suppression_suspected") if suspected else ("reject", "unconfirmed")
    )


def test_an_honest_month_flags_nothing_as_suppression() -> None:
    # 30 days of steady traffic at the default policy: five to nine claims on weekdays, one on
    # weekend days (both sides quiet), every tenth claim one the customer rightly never confirms. The
    # customer's system syncs once a day: each day's confirmations arrive the next morning, so at
    # every evaluation today's claims are still unconfirmed.
    story = make_story({"anomaly": {"velocity_enabled": False}})
    start = NOW_DAY - 33 * DAY  # a Friday
    weekday_counts = [5, 8, 6, 9, 7]
    unconfirmed: list[str] = []
    n = 0
    for day in range(30):
        midnight = start + day * DAY
        weekend = midnight.weekday() >= 5
        count = 1 if weekend else weekday_counts[day % 5]
        claims, confirmations = [], []
        for i in range(count):
            key, at = f"H{day:02d}-{i}", midnight + (i + 1) * HOUR
            claims.append(story.event(key=key, at=at))
            n += 1
            if n % 10 == 0:
                unconfirmed.append(key)
            else:
                confirmations.append(story.event(key=key, at=at, kind="outcome.confirmed"))
        story.send(midnight + 11 * HOUR, {"events": claims}, as_agent=True)
        story.evaluate(midnight + 12 * HOUR)
        if confirmations:
            story.send(midnight + DAY + 11 * HOUR, {"events": confirmations})
    for day in range(30, 34):
        story.evaluate(start + day * DAY + 12 * HOUR)

    assert not story.outcomes().filter(state=OutcomeState.FLAGGED).exists()
    recorded = verdicts_recorded(outcome_ids=story.outcomes().values_list("id", flat=True))
    verdicts = [v for v in recorded if v.rule == "suppression"]
    assert len([v for v in verdicts if v.decision == "accept"]) == len(verdicts) > 0
    # While a day's claims wait for the morning sync, its own window reads low; by the time their
    # match windows close it is complete, and every outcome's standing verdict suspects nothing.
    standing = {
        story.verdict(key, "suppression").facts["suspected"]
        for key in story.outcomes().values_list("natural_key", flat=True)
    }
    assert standing == {False}
    rejected = story.outcomes().filter(state=OutcomeState.REJECTED)
    assert sorted(rejected.values_list("natural_key", flat=True)) == sorted(unconfirmed)
    assert {story.decided(key, "confirmation") for key in unconfirmed} == {("reject", "unconfirmed")}
    assert story.outcomes().exclude(state__in=[OutcomeState.REJECTED, OutcomeState.BILLABLE]).count() == 0

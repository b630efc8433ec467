"""Rule 9a through signed webhooks: a customer reversing a large share of last month's billed outcomes
just before their lock date has the reversals held (flagged, still billed, no credit) until the vendor
decides; an honest month's few reversals void or claw back as before, nothing flagged."""

from __future__ import annotations

import datetime as dt

import pytest

from core.errors import DomainError
from outcomes.models import OutcomeState, OutcomeVerdict, Party, ReviewDecision
from outcomes.services.review import review_decide
from settlement.services.credit_notes import invoices_to_credit
from tests.support.rule_stories import DAY, HOUR, T0, Story, make_story

pytestmark = pytest.mark.django_db

# Outcomes billable as soon as claimed: the story is about reversals, not maturation or confirmation.
POLICY = {"maturation": {"hold_hours": 0}, "confirmation": {"required": False}}


def claim_many(story: Story, at: dt.datetime, keys: list[str]) -> None:
    """The vendor's agent claims `keys`, one delivery."""
    story.send(at, {"events": [story.event(key=key, at=at) for key in keys]}, as_agent=True)


def reverse_many(story: Story, at: dt.datetime, keys: list[str]) -> None:
    """The customer's system reopens `keys`, one delivery."""
    events = [
        story.event(key=key, at=at, kind="outcome.reversed", evidence={"reason": "reopened"}) for key in keys
    ]
    story.send(at, {"events": events})


def bill_all(story: Story, at: dt.datetime) -> None:
    story.evaluate(at)
    for outcome in story.outcomes():
        story.mark_billed(outcome.natural_key, at)


def test_a_burst_of_reversals_just_before_the_lock_date_is_held_and_flagged_with_no_credit() -> None:
    story = make_story(POLICY)
    keys = [f"T-{n}" for n in range(50)]
    claim_many(story, T0, keys)
    billed_at = T0 + 2 * DAY
    bill_all(story, billed_at)
    lock_date = billed_at + 30 * DAY

    # 40 % of last month's billed outcomes reopened over the two days before the lock date.
    reverse_many(story, lock_date - 2 * DAY, keys[:10])
    reverse_many(story, lock_date - DAY, keys[10:20])
    story.evaluate(lock_date - DAY + HOUR)

    states = dict(story.outcomes().values_list("natural_key", "state"))
    assert {k for k, s in states.items() if s == OutcomeState.FLAGGED} == set(keys[:20])
    assert {k for k, s in states.items() if s == OutcomeState.BILLED} == set(keys[20:])
    assert not story.outcomes().filter(state=OutcomeState.REVERSED).exists()
    assert invoices_to_credit() == []
    # The clawback is still what rule 9 says; only its effect waits.
    assert story.decided("T-0", "reversal") == ("reject", "clawed_back")
    verdict = story.verdict("T-15", "reversal_anomaly")
    assert (verdict.decision, verdict.reason) == ("flag", "reversal_anomaly")
    assert verdict.facts["anomalous"] == ["contract", "source"]
    assert verdict.facts["near_lock"] is True
    assert verdict.facts["days_to_lock"] == 1.0
    assert verdict.facts["lock_date"] == lock_date.isoformat()
    # 20 reversals in the window against 50 outcomes over the 32 days since the first: 10.94 expected.
    assert verdict.facts["contract"] == {
        "reversals": 20,
        "expected_outcomes": 10.94,
        "rate": 1.8286,
        "baseline_reversals": 0,
        "baseline_rate": 0.0,
        "threshold": 0.1,
    }
    assert story.outcome("T-15").billed_at == billed_at

    # The vendor concedes one (the reversal stands as a credit, even though the lock date has passed
    # meanwhile); the customer withdraws another (the outcome stays billed).
    review_decide(
        outcome=story.outcome("T-1"),
        flag_reason="reversal_anomaly",
        verdict=ReviewDecision.Verdict.REJECT,
        party=Party.VENDOR,
        actor="vendor:ops",
    )
    review_decide(
        outcome=story.outcome("T-0"),
        flag_reason="reversal_anomaly",
        verdict=ReviewDecision.Verdict.ACCEPT,
        party=Party.CUSTOMER,
        actor="customer:ops",
    )
    assert story.state("T-0") == OutcomeState.BILLED
    assert story.decided("T-0", "reversal_anomaly") == ("accept", "reversal_anomaly_cleared")
    assert story.state("T-1") == OutcomeState.REVERSED
    assert story.decided("T-1", "reversal_anomaly") == ("reject", "reversal_anomaly_rejected_on_review")
    assert story.state("T-2") == OutcomeState.FLAGGED


def test_neither_side_decides_alone_in_its_own_favour() -> None:
    story = make_story(POLICY)
    keys = [f"T-{n}" for n in range(30)]
    claim_many(story, T0, keys)
    bill_all(story, T0 + DAY)
    reverse_many(story, T0 + 30 * DAY, keys[:12])
    story.evaluate(T0 + 30 * DAY + HOUR)

    for party, verdict in (
        (Party.CUSTOMER, ReviewDecision.Verdict.REJECT),  # the credit it asked for
        (Party.VENDOR, ReviewDecision.Verdict.ACCEPT),  # the bill it wants kept
    ):
        with pytest.raises(DomainError) as refused:
            review_decide(
                outcome=story.outcome("T-0"),
                flag_reason="reversal_anomaly",
                verdict=verdict,
                party=party,
                actor=f"{party}:ops",
                evidence={"transcript_sha256": "ab" * 32},
            )
        assert refused.value.code in {"not_your_decision", "decision_needs_other_party"}
    assert story.state("T-0") == OutcomeState.FLAGGED
    assert not ReviewDecision.objects.exists()


def test_an_honest_month_flags_nothing_and_each_reversal_voids_or_claws_back_as_before() -> None:
    story = make_story(POLICY)
    # Forty days of ten outcomes a day, billed on day 40 (lock date day 70).
    keys = {day: [f"T-{day}-{n}" for n in range(10)] for day in range(40)}
    for day, day_keys in keys.items():
        claim_many(story, T0 + day * DAY, day_keys)
    billed_at = T0 + 40 * DAY
    bill_all(story, billed_at)
    lock_date = billed_at + 30 * DAY
    # Twelve reopened over the month (3 %), some of them in the last two days before the lock date.
    reversed_keys = [keys[day][0] for day in range(0, 36, 3)]
    for n, key in enumerate(reversed_keys):
        story.reverse(billed_at + (n * 2 + 5) * DAY, key, "reopened")
        story.evaluate(billed_at + (n * 2 + 5) * DAY + HOUR)
    # And one not yet billed, voided at once.
    claim_many(story, lock_date - DAY, ["T-late"])
    story.reverse(lock_date - DAY + HOUR, "T-late", "reopened")
    story.evaluate(lock_date - DAY + 2 * HOUR)

    assert not story.outcomes().filter(state=OutcomeState.FLAGGED).exists()
    assert not OutcomeVerdict.objects.filter(reason="reversal_anomaly").exists()
    assert set(
        story.outcomes().filter(state=OutcomeState.REVERSED).values_list("natural_key", flat=True)
    ) == {
        *reversed_keys,
        "T-late",
    }
    assert story.decided(reversed_keys[-1], "reversal") == ("reject", "clawed_back")
    assert story.decided(reversed_keys[-1], "reversal_anomaly") == ("accept", "reversal_rate_normal")
    assert story.verdict(reversed_keys[-1], "reversal_anomaly").facts["near_lock"] is True
    assert story.decided("T-late", "reversal") == ("reject", "reversed")
    assert story.outcomes().filter(state=OutcomeState.BILLED).count() == 400 - 12

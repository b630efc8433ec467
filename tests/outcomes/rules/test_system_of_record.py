"""Rule 4a through signed webhooks: the vendor's agent claims a ticket later (on the pricier version), with a
larger value and under a pricier outcome type; the customer's helpdesk records it otherwise. Whichever
arrives first, the customer's facts are billed and the disagreements flagged with both values. A billed
outcome is never moved by a late record; a billable one is moved with a verdict saying so; an honest month
(both sides agreeing within the tolerance) flags nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from contracts.services.contracts import contract_amend
from contracts.terms import Amendment, parse
from outcomes.models import Outcome, OutcomeState, OutcomeVerdict, Party, ReviewDecision
from outcomes.services.review import review_decide
from outcomes.verdict_trail import verdicts_recorded
from tests.factories import amendment_payload, outcome_type_terms, version_terms
from tests.support.ingest import make_ingest
from tests.support.rule_stories import DAY, HOUR, T0, Story

pytestmark = pytest.mark.django_db

POLICY = {"maturation": {"hold_hours": 0}, "system_of_record": {"occurred_at_tolerance_hours": 24}}
PRICIER = T0 + 10 * DAY  # version 2, from which a resolution costs 1.50 instead of 0.90


def outcome_types(policy: dict[str, Any], resolved_price: str) -> list[dict[str, Any]]:
    price = {"model": "per_unit", "unit_price": resolved_price}
    return [
        outcome_type_terms(verification_policy=policy, pricing=price),
        outcome_type_terms(
            key="ticket.escalated",
            verification_policy=policy,
            pricing={"model": "per_unit", "unit_price": "4.00"},
        ),
    ]


def make_two_version_story(policy: dict[str, Any]) -> Story:
    """A contract whose ticket.resolved costs 0.90 until PRICIER and 1.50 from then; ticket.escalated 4.00."""
    story = Story(make_ingest(terms=version_terms(outcome_types=outcome_types(policy, "0.90"))))
    with time_machine.travel(T0, tick=False):
        contract_amend(
            contract=story.contract,
            amendment=parse(
                Amendment,
                amendment_payload(PRICIER.isoformat(), outcome_types=outcome_types(policy, "1.50")),
            ),
            actor="test",
        )
    return story


def version_number(outcome: Outcome) -> int:
    """The number of the contract version the outcome is priced by (in force when it occurred)."""
    assert outcome.version is not None
    return outcome.version.number


def vendor_claims(story: Story, at: dt.datetime) -> None:
    """T-1 on the pricier version with a larger value; T-2 as the pricier escalated type."""
    story.send(
        at,
        {
            "events": [
                story.event(key="T-1", at=PRICIER + HOUR, value={"amount_minor": 120_000, "currency": "USD"}),
                story.event(key="T-2", at=PRICIER + HOUR, outcome_type="ticket.escalated"),
            ]
        },
        as_agent=True,
    )


def helpdesk_records(story: Story, at: dt.datetime) -> None:
    """The customer's system of record: T-1 confirmed 30 hours before the vendor says it was resolved, for
    less; T-2 a plain resolution, by its own record."""
    resolved_at = PRICIER - 30 * HOUR
    story.send(
        at,
        {
            "events": [
                story.event(
                    key="T-1",
                    at=resolved_at,
                    kind="outcome.confirmed",
                    value={"amount_minor": 100_000, "currency": "USD"},
                ),
                story.event(key="T-2", at=PRICIER + HOUR, kind="outcome.claimed"),
            ]
        },
    )


@pytest.mark.parametrize("customer_first", [False, True], ids=["vendor_first", "customer_first"])
def test_the_customers_record_is_billed_and_the_disagreements_flagged_whichever_arrives_first(
    customer_first: bool,
) -> None:
    story = make_two_version_story(POLICY)
    first, second = (helpdesk_records, vendor_claims) if customer_first else (vendor_claims, helpdesk_records)
    first(story, PRICIER + 2 * HOUR)
    story.evaluate(PRICIER + 3 * HOUR)
    second(story, PRICIER + 4 * HOUR)
    # Only what the second delivery touched is built and judged again (its natural keys, every type).
    story.build(PRICIER + 5 * HOUR)

    resolved = story.outcomes().get(natural_key="T-1")
    assert (resolved.state, resolved.occurred_at, resolved.value_minor) == (
        OutcomeState.FLAGGED,
        PRICIER - 30 * HOUR,
        100_000,
    )
    assert version_number(resolved) == 1  # the cheaper price, in force when the customer says it happened
    flagged = story.verdict("T-1", "system_of_record")
    assert (flagged.decision, flagged.reason) == ("flag", "facts_disagree")
    assert flagged.facts["disagree"] == ["occurred_at", "value_minor"]
    assert flagged.facts["occurred_at"] == {
        "vendor": (PRICIER + HOUR).isoformat(),
        "system_of_record": (PRICIER - 30 * HOUR).isoformat(),
        "system_of_record_says": "happened_by",
        "tolerance_hours": 24,
    }
    assert flagged.facts["value_minor"] == {
        "vendor": 120_000,
        "system_of_record": 100_000,
        "tolerance_minor": 1000,
    }

    escalated = story.outcomes().get(natural_key="T-2", outcome_type_key="ticket.escalated")
    plain = story.outcomes().get(natural_key="T-2", outcome_type_key="ticket.resolved")
    assert (escalated.state, plain.state) == (OutcomeState.FLAGGED, OutcomeState.BILLABLE)
    typed = [v for v in verdicts_recorded(outcome_ids=[escalated.pk]) if v.rule == "system_of_record"][-1]
    assert typed is not None
    assert (typed.reason, typed.facts["outcome_type"]) == (
        "facts_disagree",
        {"vendor": "ticket.escalated", "system_of_record": ["ticket.resolved"]},
    )

    # The customer accepts its own facts: billable on them, nothing moved.
    review_decide(
        outcome=resolved,
        flag_reason="facts_disagree",
        verdict=ReviewDecision.Verdict.ACCEPT,
        party=Party.CUSTOMER,
        actor="customer:ops",
    )
    resolved.refresh_from_db()
    assert (resolved.state, resolved.occurred_at, resolved.value_minor, version_number(resolved)) == (
        OutcomeState.BILLABLE,
        PRICIER - 30 * HOUR,
        100_000,
        1,
    )


def test_a_late_record_never_moves_a_billed_outcome_and_moves_a_billable_one_with_a_verdict() -> None:
    story = make_two_version_story({**POLICY, "confirmation": {"required": False}})
    story.claim(PRICIER - 2 * DAY, "T-3")
    story.claim(PRICIER - HOUR, "T-4")
    story.evaluate(PRICIER)
    story.mark_billed("T-3", PRICIER)

    # The helpdesk's records: T-3 confirmed two days before the agent said (the previous period); T-4
    # resolved, by its own record, two hours after the agent said (version 2).
    story.confirm(PRICIER + 2 * HOUR, "T-3", occurred_at=PRICIER - 4 * DAY)
    story.post(PRICIER + 2 * HOUR, "T-4", occurred_at=PRICIER + HOUR)
    story.build(PRICIER + 3 * HOUR)

    billed = story.outcome("T-3")
    assert (billed.state, billed.occurred_at, version_number(billed)) == (
        OutcomeState.BILLED,
        PRICIER - 2 * DAY,
        1,
    )
    kept = story.verdict("T-3", "system_of_record")
    assert (kept.decision, kept.reason) == ("accept", "billed_facts_kept")
    assert kept.facts["kept"] == {
        "occurred_at": {
            "billed": (PRICIER - 2 * DAY).isoformat(),
            "reported": (PRICIER - 4 * DAY).isoformat(),
        }
    }

    moved = story.outcome("T-4")
    assert (moved.state, moved.occurred_at, version_number(moved)) == (
        OutcomeState.BILLABLE,
        PRICIER + HOUR,
        2,
    )
    verdict = story.verdict("T-4", "system_of_record")
    assert (verdict.decision, verdict.reason) == ("accept", "billed_facts_moved")
    assert verdict.facts["moved"] == {
        "occurred_at": {"from": (PRICIER - HOUR).isoformat(), "to": (PRICIER + HOUR).isoformat()}
    }
    assert story.decided("T-4", "event_time") == ("accept", "in_force")
    assert story.verdict("T-4", "event_time").facts["version"] == 2


def test_an_honest_month_flags_nothing_and_bills_what_both_sides_reported() -> None:
    story = make_two_version_story({"maturation": {"hold_hours": 0}})
    days = range(0, 30, 3)
    value = {"amount_minor": 50_000, "currency": "USD"}
    start = T0 + 12 * DAY
    claims = [story.event(key=f"T-{d}", at=start + d * DAY, value=value) for d in days]
    # The helpdesk records each resolution minutes to hours after the agent, with the same value.
    records = [
        story.event(
            key=f"T-{d}",
            at=start + d * DAY + (d + 1) * 20 * dt.timedelta(minutes=1),
            kind="outcome.confirmed",
            value=value,
        )
        for d in days
    ]
    story.send(start + 28 * DAY, {"events": claims}, as_agent=True)
    story.send(start + 28 * DAY, {"events": records})
    story.evaluate(start + 29 * DAY)

    outcomes = list(story.outcomes())
    assert {o.state for o in outcomes} == {OutcomeState.BILLABLE}
    assert not OutcomeVerdict.objects.filter(decision="flag").exists()
    assert {v.reason for v in verdicts_recorded() if v.rule == "system_of_record"} == {"facts_agree"}
    assert sum(o.value_minor or 0 for o in outcomes) == 10 * 50_000
    assert all(o.occurred_at.date() == (start + int(o.natural_key[2:]) * DAY).date() for o in outcomes)
    assert {version_number(o) for o in outcomes} == {2}

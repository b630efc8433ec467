"""The domain events outcomes publishes: the outbox rows its changes write (type, object, audience ids,
data), in the transaction of the change, once for once-only events, and nothing when nothing changes."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import fastjsonschema
import pytest
import time_machine
from django.db import transaction

from core.errors import Conflict
from notifications.models import Event
from outcomes.domain_events import EVENT_TYPES
from outcomes.models import AuditSample, Dispute, Outcome, OutcomeState, Party, ReviewDecision
from outcomes.rules import REASONS
from outcomes.services.deadlines import DEADLINE_NOTICE, deadlines_announce
from outcomes.services.review import dispute_open, dispute_respond, review_decide, review_decide_group
from outcomes.tasks import announce_deadlines
from tests.outcomes.rules.test_anomaly import DAY0, busy_day
from tests.support.rule_stories import DAY, HOUR, SECOND, T0, Story, make_story

pytestmark = pytest.mark.django_db

TYPES = {t.name: t for t in EVENT_TYPES}
VALIDATORS = {t.name: fastjsonschema.compile(t.data_schema) for t in EVENT_TYPES}
# The keys the envelope's `data` holds beside the type-specific ones (notifications builds them).
ENVELOPE_KEYS = {"object", "id", "vendor_id", "customer_id", "contract_id", "updated_at", "links"}

# Billable as soon as claimed: nothing to wait for.
IMMEDIATE = {"confirmation": {"required": False}, "maturation": {"hold_hours": 0}}


def published(**filters: Any) -> list[Event]:
    """The outbox's rows of outcomes' types (other apps publish theirs), oldest first; each one's data
    valid for its type, as the vendor and as a customer's endpoint receive it."""
    rows = list(Event.objects.filter(type__in=TYPES, **filters).order_by("id"))
    for row in rows:
        VALIDATORS[row.type](row.data)
        VALIDATORS[row.type]({k: v for k, v in row.data.items() if k not in TYPES[row.type].vendor_only})
    return rows


def summary(rows: list[Event]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(row.type, row.object_id, row.data) for row in rows]


def expected_text(reason: str) -> str:
    """A rule's words for its code; the pipeline's own for an outcome every rule accepts or a flag decided."""
    if reason in REASONS:
        return REASONS[reason].text
    if reason == "all_rules_accept":
        return "Every rule that applies accepts it."
    for suffix, lead in (("_cleared", "Cleared on review"), ("_rejected_on_review", "Rejected on review")):
        if reason.endswith(suffix):
            text = REASONS[reason.removesuffix(suffix)].text
            return f"{lead}: {text[0].lower()}{text[1:]}"
    return ""


def outcome_data(outcome: Outcome, previous_state: str, reason: str, **more: Any) -> dict[str, Any]:
    return {
        "outcome_type": "ticket.resolved",
        "natural_key": outcome.natural_key,
        "state": outcome.state,
        "previous_state": previous_state,
        "reason": reason,
        "reason_text": expected_text(reason),
        "occurred_at": outcome.occurred_at.isoformat(),
        **more,
    }


def billable_story(policy: dict[str, Any] | None = None) -> Story:
    """T-1 claimed and confirmed at T0, billable at T0 + 1 day."""
    story = make_story(policy)
    story.claim(T0, "T-1")
    story.confirm(T0, "T-1")
    story.evaluate(T0 + DAY)
    assert story.state("T-1") == OutcomeState.BILLABLE
    return story


# --- the catalogue ------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=lambda t: t.name)
def test_each_example_is_valid_data_of_its_type_for_either_audience(event_type: Any) -> None:
    validate = VALIDATORS[event_type.name]
    customer_view = {k: v for k, v in event_type.example.items() if k not in event_type.vendor_only}

    assert validate(event_type.example) == event_type.example
    assert validate(customer_view) == customer_view
    assert event_type.data_schema["additionalProperties"] is False
    assert event_type.vendor_only <= set(event_type.data_schema["properties"])
    assert not set(event_type.data_schema["properties"]) & ENVELOPE_KEYS
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        validate({**event_type.example, "unexpected": 1})


def test_the_catalogue_names_each_type_once() -> None:
    assert sorted(TYPES) == [
        "audit_sample.deadline_approaching",
        "audit_sample.requested",
        "cap.reached",
        "customer_cap.amount_threshold_reached",
        "customer_cap.threshold_reached",
        "dispute.deadline_approaching",
        "dispute.opened",
        "dispute.resolved",
        "disqualifier_contest.deadline_approaching",
        "disqualifier_contest.opened",
        "disqualifier_contest.upheld",
        "outcome.billable",
        "outcome.clawed_back",
        "outcome.flagged",
        "outcome.rejected",
        "outcome.reversed",
        "review.decided",
    ]
    assert len(EVENT_TYPES) == len(TYPES)
    # A reminder for the vendor to answer is the vendor's alone.
    assert TYPES["dispute.deadline_approaching"].audiences == frozenset({"vendor"})


# --- outcome state changes ------------------------------------------------------------------------


def test_an_outcome_becoming_billable_publishes_it_once() -> None:
    story = billable_story()
    outcome = story.outcome("T-1")

    (row,) = published()

    assert (row.type, row.object_id, row.vendor_id, row.customer_id, row.contract_id) == (
        "outcome.billable",
        str(outcome.pk),
        story.contract.vendor_id,
        story.contract.customer_id,
        story.contract.pk,
    )
    assert row.occurred_at == T0 + DAY
    assert row.dedup_key is None
    assert row.data == outcome_data(outcome, "pending", "all_rules_accept")

    # Evaluated again, at the same instant or later, with nothing new: nothing is announced.
    story.evaluate(T0 + DAY)
    story.evaluate(T0 + 3 * DAY)
    assert len(published()) == 1


def test_maturing_is_not_announced_and_billable_says_it_came_from_maturing() -> None:
    story = make_story()
    story.claim(T0, "T-1")
    story.confirm(T0, "T-1")

    story.evaluate(T0 + HOUR)
    assert story.state("T-1") == OutcomeState.MATURING
    assert published() == []

    story.evaluate(T0 + DAY)
    assert summary(published()) == [
        (
            "outcome.billable",
            str(story.outcome("T-1").pk),
            outcome_data(story.outcome("T-1"), "maturing", "all_rules_accept"),
        )
    ]


def test_an_unconfirmed_claim_rejected_says_why_in_plain_words() -> None:
    story = make_story()
    story.claim(T0, "T-1")

    story.evaluate(T0 + 72 * HOUR)

    outcome = story.outcome("T-1")
    assert outcome.state == OutcomeState.REJECTED
    assert summary(published()) == [
        ("outcome.rejected", str(outcome.pk), outcome_data(outcome, "pending", "unconfirmed"))
    ]
    assert published()[0].data["reason_text"] == (
        "The customer's system of record did not confirm it within the match window."
    )


def test_a_reversal_before_billing_is_reversed_and_after_billing_clawed_back() -> None:
    story = billable_story()
    story.claim(T0, "T-2")
    story.confirm(T0, "T-2")
    story.evaluate(T0 + DAY)
    billed_at = T0 + 2 * DAY
    story.mark_billed("T-2", billed_at)
    Event.objects.filter(type__in=TYPES).delete()

    story.reverse(T0 + 3 * DAY, "T-1", "reopened")
    story.reverse(T0 + 3 * DAY, "T-2", "reopened")
    story.evaluate(T0 + 3 * DAY + HOUR)

    one, two = story.outcome("T-1"), story.outcome("T-2")
    assert summary(published()) == [
        ("outcome.reversed", str(one.pk), outcome_data(one, "billable", "reversed")),
        (
            "outcome.clawed_back",
            str(two.pk),
            outcome_data(two, "billed", "clawed_back", billed_at=billed_at.isoformat()),
        ),
    ]


def test_a_rolled_back_evaluation_leaves_no_event() -> None:
    story = make_story()
    story.claim(T0, "T-1")
    story.confirm(T0, "T-1")
    story.evaluate(T0 + HOUR)

    def evaluate_then_fail() -> None:
        with transaction.atomic():
            story.evaluate(T0 + DAY)
            assert [row.type for row in published()] == ["outcome.billable"]
            raise RuntimeError("after the publication, before the commit")

    with pytest.raises(RuntimeError):
        evaluate_then_fail()

    assert published() == []
    assert story.state("T-1") == OutcomeState.MATURING


# --- flags and review -----------------------------------------------------------------------------

FLAG_DAY = DAY0 + 2 * DAY


def flagged_story() -> Story:
    """Two claims on a day after a fortnight of one a day: T-0 and T-1 are flagged for velocity."""
    story = busy_day(2, history=[1] * 14)
    story.evaluate(FLAG_DAY)
    assert (story.state("T-0"), story.state("T-1")) == (OutcomeState.FLAGGED, OutcomeState.FLAGGED)
    return story


def test_a_flag_is_announced_with_its_reason_and_its_facts_for_the_vendor_only() -> None:
    story = flagged_story()

    flags = published(type="outcome.flagged")

    facts = {"day": "2026-06-20", "count": 2, "baseline_median": 1, "z": None, "z_threshold": 3.5}
    assert summary(flags) == [
        (
            "outcome.flagged",
            str(story.outcome(key).pk),
            outcome_data(story.outcome(key), "pending", "velocity_anomaly", flag_facts=facts),
        )
        for key in ("T-0", "T-1")
    ]
    assert TYPES["outcome.flagged"].vendor_only == frozenset({"flag_facts"})
    # The history's fourteen outcomes became billable; nothing else was announced.
    assert sorted({row.type for row in published()}) == ["outcome.billable", "outcome.flagged"]
    assert len(published(type="outcome.billable")) == 14


def test_a_review_decision_is_announced_then_the_outcome_it_moves() -> None:
    story = flagged_story()
    Event.objects.filter(type__in=TYPES).delete()
    decided_at = FLAG_DAY + HOUR
    outcome = story.outcome("T-1")

    with time_machine.travel(decided_at, tick=False):
        review_decide(
            outcome=outcome,
            flag_reason="velocity_anomaly",
            verdict=ReviewDecision.Verdict.REJECT,
            party=Party.CUSTOMER,
            actor="customer:finance",
            justification="no such tickets",
        )

    outcome.refresh_from_db()
    assert summary(published()) == [
        (
            "review.decided",
            str(outcome.pk),
            {
                "outcome_type": "ticket.resolved",
                "natural_key": "T-1",
                "flag_reason": "velocity_anomaly",
                "verdict": "reject",
                "party": "customer",
                "decided_at": decided_at.isoformat(),
                "actor": "customer:finance",
                "justification": "no such tickets",
                "evidence": {},
            },
        ),
        (
            "outcome.rejected",
            str(outcome.pk),
            outcome_data(outcome, "flagged", "velocity_anomaly_rejected_on_review"),
        ),
    ]
    assert TYPES["review.decided"].vendor_only == frozenset({"actor", "justification", "evidence"})
    assert published()[0].customer_id == story.contract.customer_id

    # Deciding it again is refused, and announces nothing.
    with pytest.raises(Conflict, match="already decided"):
        review_decide(
            outcome=outcome,
            flag_reason="velocity_anomaly",
            verdict=ReviewDecision.Verdict.ACCEPT,
            party=Party.CUSTOMER,
            actor="customer:finance",
        )
    assert len(published()) == 2


def test_a_group_decision_announces_one_decision_per_outcome() -> None:
    story = flagged_story()
    Event.objects.filter(type__in=TYPES).delete()
    decided_at = FLAG_DAY + HOUR

    with time_machine.travel(decided_at, tick=False):
        decisions = review_decide_group(
            vendor=story.contract.vendor,
            contract_id=story.contract.pk,
            flag_reason="velocity_anomaly",
            day=story.outcome("T-0").occurred_at.astimezone(ZoneInfo(story.contract.timezone)).date(),
            verdict=ReviewDecision.Verdict.ACCEPT,
            party=Party.CUSTOMER,
            actor="customer:finance",
        )

    assert len(decisions) == 2
    ids = sorted(str(story.outcome(key).pk) for key in ("T-0", "T-1"))
    decided = published(type="review.decided")
    assert sorted(row.object_id for row in decided) == ids
    assert {(row.data["verdict"], row.data["party"]) for row in decided} == {("accept", "customer")}
    # Accepted by the customer: confirmed, so maturing (not announced) rather than billable yet.
    assert len(published()) == len(decided)


# --- caps ---------------------------------------------------------------------------------------


def test_a_cap_reached_is_announced_once_per_period() -> None:
    story = make_story(IMMEDIATE, cap_units=1)
    for key in ("T-1", "T-2", "T-3"):
        story.claim(T0, key)

    story.evaluate(T0 + HOUR)
    story.evaluate(T0 + 2 * HOUR)
    story.claim(T0 + 3 * HOUR, "T-4")
    story.evaluate(T0 + 4 * HOUR)

    (row,) = published(type="cap.reached")
    assert (row.object_id, row.customer_id, row.contract_id, row.occurred_at) == (
        str(story.contract.pk),
        story.contract.customer_id,
        story.contract.pk,
        T0 + HOUR,
    )
    period_start = "2026-06-01T04:00:00+00:00"  # the 1st, midnight in the contract's zone (New York)
    assert row.data == {"outcome_type": "ticket.resolved", "cap_units": 1, "period_start": period_start}
    assert row.dedup_key == f"cap.reached:{story.contract.pk}:ticket.resolved:{period_start}"
    assert [r.data["natural_key"] for r in published(type="outcome.billable")] == ["T-1"]


# --- disputes -----------------------------------------------------------------------------------


def test_a_dispute_from_the_customers_system_opens_once_and_resolves_at_its_deadline() -> None:
    story = billable_story()
    Event.objects.filter(type__in=TYPES).delete()
    opened_at = T0 + 2 * DAY
    story.post(opened_at, "T-1", kind="outcome.disputed", evidence={"reason": "reopened"})
    story.evaluate(opened_at)
    story.evaluate(opened_at + HOUR)
    dispute = Dispute.objects.get()
    deadline = opened_at + 14 * DAY
    outcome = story.outcome("T-1")
    common = {"outcome_id": outcome.pk, "outcome_type": "ticket.resolved", "natural_key": "T-1"}

    assert summary(published()) == [
        (
            "dispute.opened",
            str(dispute.pk),
            {
                **common,
                "opened_at": opened_at.isoformat(),
                "deadline": deadline.isoformat(),
                "reason": "reopened",
            },
        )
    ]
    assert published()[0].dedup_key == f"dispute.opened:{dispute.pk}"

    story.evaluate(deadline)

    outcome.refresh_from_db()
    rows = published()[1:]
    assert summary(rows) == [
        (
            "dispute.resolved",
            str(dispute.pk),
            {
                **common,
                "status": "expired_credited",
                "previous_status": "open",
                "response": "",
                "resolved_at": deadline.isoformat(),
                "resolved_by": "system:deadline",
            },
        ),
        ("outcome.rejected", str(outcome.pk), outcome_data(outcome, "disputed", "dispute_upheld")),
    ]
    assert rows[0].occurred_at == deadline


def test_a_dispute_opened_and_answered_through_the_services() -> None:
    story = billable_story()
    Event.objects.filter(type__in=TYPES).delete()
    opened_at, answered_at = T0 + 2 * DAY, T0 + 3 * DAY
    outcome = story.outcome("T-1")

    dispute = dispute_open(outcome=outcome, reason="duplicate", actor="customer:ops", now=opened_at)
    with time_machine.travel(answered_at, tick=False):
        dispute_respond(
            dispute=dispute,
            accept=False,
            response="resolved on the first contact",
            evidence={"transcript": "t-1"},
            actor="vendor:ops",
        )
        # Answering a closed dispute is refused and announces nothing.
        with pytest.raises(Conflict, match="can no longer be answered"):
            dispute_respond(dispute=dispute, accept=True, response="again", evidence=None, actor="vendor:ops")

    outcome.refresh_from_db()
    common = {"outcome_id": outcome.pk, "outcome_type": "ticket.resolved", "natural_key": "T-1"}
    assert summary(published()[:2]) == [
        (
            "dispute.opened",
            str(dispute.pk),
            {
                **common,
                "opened_at": opened_at.isoformat(),
                "deadline": (opened_at + 14 * DAY).isoformat(),
                "reason": "duplicate",
            },
        ),
        (
            "dispute.resolved",
            str(dispute.pk),
            {
                **common,
                "status": "rejected",
                "previous_status": "open",
                "response": "resolved on the first contact",
                "resolved_at": answered_at.isoformat(),
                "resolved_by": "vendor:ops",
            },
        ),
    ]
    # Held as disputed (not announced), then billable again once the dispute is rejected.
    assert outcome.state == OutcomeState.BILLABLE
    assert summary(published()[2:]) == [
        ("outcome.billable", str(outcome.pk), outcome_data(outcome, "disputed", "all_rules_accept"))
    ]
    assert TYPES["dispute.resolved"].vendor_only == frozenset({"resolved_by"})


# --- audit samples and deadlines -----------------------------------------------------------------

SAMPLED = {"audit_sampling": {"enabled": True, "rate": 1.0, "attestation_days": 14}, **IMMEDIATE}


def test_a_sampled_outcome_is_requested_once() -> None:
    story = make_story(SAMPLED)
    story.claim(T0, "T-1")

    story.evaluate(T0 + HOUR)
    story.evaluate(T0 + 2 * HOUR)

    outcome = story.outcome("T-1")
    (row,) = published(type="audit_sample.requested")
    assert (row.object_id, row.dedup_key, row.customer_id) == (
        str(outcome.pk),
        f"audit_sample.requested:{outcome.pk}",
        story.contract.customer_id,
    )
    assert row.data == {
        "outcome_id": outcome.pk,
        "outcome_type": "ticket.resolved",
        "natural_key": "T-1",
        "selected_at": (T0 + HOUR).isoformat(),
        "deadline": (T0 + HOUR + 14 * DAY).isoformat(),
    }
    # Waiting for the customer: not billable yet, and nothing else announced.
    assert [r.type for r in published()] == ["audit_sample.requested"]


def test_deadlines_within_a_day_are_announced_once_each() -> None:
    story = make_story(SAMPLED)
    story.claim(T0, "T-1")
    story.evaluate(T0 + HOUR)
    sample = AuditSample.objects.get()
    disputed = billable_story()
    dispute = dispute_open(
        outcome=disputed.outcome("T-1"), reason="duplicate", actor="customer:ops", now=T0 + 2 * DAY
    )
    Event.objects.filter(type__in=TYPES).delete()
    assert dispute.deadline == T0 + 16 * DAY
    assert sample.deadline == T0 + HOUR + 14 * DAY

    assert deadlines_announce(now=sample.deadline - DEADLINE_NOTICE - SECOND) == 0
    assert deadlines_announce(now=sample.deadline - DEADLINE_NOTICE) == 1
    assert deadlines_announce(now=sample.deadline - HOUR) == 1  # repeated: recorded once
    with time_machine.travel(dispute.deadline - HOUR, tick=False):
        assert announce_deadlines() == 1  # the sample's deadline has passed: only the dispute's
    assert deadlines_announce(now=dispute.deadline) == 0

    rows = published()
    assert [(r.type, r.object_id, r.dedup_key) for r in rows] == [
        (
            "audit_sample.deadline_approaching",
            str(sample.outcome_id),
            f"audit_sample.deadline_approaching:{sample.outcome_id}:{sample.deadline.isoformat()}",
        ),
        (
            "dispute.deadline_approaching",
            str(dispute.pk),
            f"dispute.deadline_approaching:{dispute.pk}:{dispute.deadline.isoformat()}",
        ),
    ]
    assert rows[0].data == {
        "outcome_id": sample.outcome_id,
        "outcome_type": "ticket.resolved",
        "natural_key": "T-1",
        "selected_at": sample.selected_at.isoformat(),
        "deadline": sample.deadline.isoformat(),
    }
    assert rows[1].data == {
        "outcome_id": dispute.outcome_id,
        "outcome_type": "ticket.resolved",
        "natural_key": "T-1",
        "opened_at": dispute.opened_at.isoformat(),
        "deadline": dispute.deadline.isoformat(),
    }
    assert (rows[1].vendor_id, rows[1].customer_id) == (
        disputed.contract.vendor_id,
        disputed.contract.customer_id,
    )


def test_an_answered_sample_or_dispute_is_not_reminded() -> None:
    story = make_story(SAMPLED)
    story.claim(T0, "T-1")
    story.evaluate(T0 + HOUR)
    AuditSample.objects.update(answer=AuditSample.Answer.ATTESTED)
    Event.objects.filter(type__in=TYPES).delete()

    assert deadlines_announce(now=T0 + 14 * DAY) == 0
    assert published() == []

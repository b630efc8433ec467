"""Rule 15: the customer may dispute an outcome until `window_days` after it became billable; a disputed
outcome is held while the vendor answers (accept: no bill or a credit; reject with evidence: billed);
an unanswered dispute resolves at its deadline as the policy says."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from core.errors import Conflict
from outcomes.models import Dispute, OutcomeState, OutcomeTransition
from outcomes.services.review import dispute_open, dispute_respond
from tests.support.rule_stories import DAY, HOUR, SECOND, T0, Story, make_story

pytestmark = pytest.mark.django_db

BILLABLE_AT = T0 + DAY
WINDOW_CLOSES = BILLABLE_AT + 30 * DAY


def billable(policy: dict[str, object] | None = None) -> Story:
    """T-1, claimed and confirmed at T0, billable from T0 + 24 h."""
    story = make_story(policy)
    story.claim(T0, "T-1")
    story.confirm(T0, "T-1")
    story.evaluate(BILLABLE_AT)
    outcome = story.outcome("T-1")
    assert (outcome.state, outcome.billable_at) == (OutcomeState.BILLABLE, BILLABLE_AT)
    return story


def disputed(story: Story, at: dt.datetime) -> None:
    """The customer's system disputes T-1 at `at`, and the worker evaluates it then."""
    story.post(at, "T-1", kind="outcome.disputed", evidence={"reason": "the customer wrote back"})
    story.evaluate(at)


def respond(story: Story, at: dt.datetime, *, accept: bool) -> None:
    with time_machine.travel(at, tick=False):
        dispute_respond(
            dispute=Dispute.objects.get(outcome=story.outcome("T-1")),
            accept=accept,
            response="checked the transcript",
            evidence=None if accept else {"transcript_sha256": "ab" * 32},
            actor="vendor:ops",
        )


def test_a_dispute_at_the_window_end_opens_and_holds_the_outcome() -> None:
    story = billable()

    disputed(story, WINDOW_CLOSES)

    dispute = Dispute.objects.get(outcome=story.outcome("T-1"))
    deadline = WINDOW_CLOSES + 14 * DAY
    assert (dispute.status, dispute.opened_at, dispute.deadline, dispute.reason, dispute.opened_by) == (
        Dispute.Status.OPEN,
        WINDOW_CLOSES,
        deadline,
        "the customer wrote back",
        f"source:{story.ingest.source.pk}",
    )
    verdict = story.verdict("T-1", "disputes")
    assert (verdict.decision, verdict.reason, verdict.hold_until, verdict.facts) == (
        "hold",
        "dispute_open",
        deadline,
        {"dispute_id": dispute.pk, "opened_at": WINDOW_CLOSES.isoformat(), "deadline": deadline.isoformat()},
    )
    outcome = story.outcome("T-1")
    assert (outcome.state, outcome.hold_until) == (OutcomeState.DISPUTED, deadline)
    last = OutcomeTransition.objects.filter(outcome=outcome).order_by("id").last()
    assert last is not None
    assert (last.from_state, last.to_state, last.reason) == ("billable", "disputed", "dispute_open")


def test_a_dispute_one_second_after_the_window_changes_nothing() -> None:
    story = billable()

    disputed(story, WINDOW_CLOSES + SECOND)

    verdict = story.verdict("T-1", "disputes")
    assert (verdict.decision, verdict.reason, verdict.facts) == (
        "accept",
        "dispute_out_of_window",
        {"window_days": 30},
    )
    assert not Dispute.objects.exists()
    assert story.state("T-1") == OutcomeState.BILLABLE


def test_policy_window_days() -> None:
    story = billable({"disputes": {"window_days": 2}})

    disputed(story, BILLABLE_AT + 2 * DAY + SECOND)

    assert story.decided("T-1", "disputes") == ("accept", "dispute_out_of_window")
    assert story.verdict("T-1", "disputes").facts == {"window_days": 2}


def test_an_outcome_still_in_verification_can_be_disputed() -> None:
    story = make_story()
    story.claim(T0, "T-1")
    story.confirm(T0, "T-1")
    disputed(story, T0 + HOUR)

    assert Dispute.objects.filter(outcome=story.outcome("T-1"), status=Dispute.Status.OPEN).exists()
    assert story.decided("T-1", "disputes") == ("hold", "dispute_open")
    assert story.state("T-1") == OutcomeState.DISPUTED


def test_a_dispute_from_the_vendors_agent_is_not_a_dispute() -> None:
    story = billable()

    story.post(T0 + 2 * DAY, "T-1", kind="outcome.disputed", as_agent=True)
    story.evaluate(T0 + 2 * DAY)

    assert "disputes" not in story.rules("T-1")
    assert not Dispute.objects.exists()
    assert story.state("T-1") == OutcomeState.BILLABLE


@pytest.mark.parametrize(
    ("unanswered", "status", "decision", "reason", "state"),
    [
        (
            "credit_customer",
            Dispute.Status.EXPIRED_CREDITED,
            "reject",
            "dispute_upheld",
            OutcomeState.REJECTED,
        ),
        ("bill", Dispute.Status.EXPIRED_BILLED, "accept", "dispute_rejected", OutcomeState.BILLABLE),
    ],
)
def test_an_unanswered_dispute_resolves_at_its_deadline(
    unanswered: str, status: str, decision: str, reason: str, state: str
) -> None:
    story = billable({"disputes": {"response_days": 14, "unanswered": unanswered}})
    opened_at = T0 + 2 * DAY
    deadline = opened_at + 14 * DAY
    disputed(story, opened_at)

    story.evaluate(deadline - SECOND)
    assert Dispute.objects.get().status == Dispute.Status.OPEN
    assert story.state("T-1") == OutcomeState.DISPUTED

    story.evaluate(deadline)
    dispute = Dispute.objects.get()
    assert (dispute.status, dispute.resolved_at, dispute.resolved_by) == (status, deadline, "system:deadline")
    verdict = story.verdict("T-1", "disputes")
    assert (verdict.decision, verdict.reason, verdict.facts) == (
        decision,
        reason,
        {
            "dispute_id": dispute.pk,
            "opened_at": opened_at.isoformat(),
            "deadline": deadline.isoformat(),
            "status": status,
            "resolved_by": "system:deadline",
        },
    )
    outcome = story.outcome("T-1")
    assert (outcome.state, outcome.hold_until) == (state, None)


@pytest.mark.parametrize(
    ("accept", "reason", "state"),
    [(True, "dispute_upheld", OutcomeState.REJECTED), (False, "dispute_rejected", OutcomeState.BILLABLE)],
    ids=["vendor-accepts", "vendor-rejects-with-evidence"],
)
def test_the_vendors_answer_decides(accept: bool, reason: str, state: str) -> None:
    story = billable()
    disputed(story, T0 + 2 * DAY)

    respond(story, T0 + 3 * DAY, accept=accept)

    assert story.verdict("T-1", "disputes").reason == reason
    assert story.verdict("T-1", "disputes").facts["resolved_by"] == "vendor:ops"
    assert story.state("T-1") == state


def test_the_vendor_cannot_answer_at_the_deadline() -> None:
    story = billable()
    disputed(story, T0 + 2 * DAY)

    with pytest.raises(Conflict) as refused:
        respond(story, T0 + 16 * DAY, accept=False)

    assert refused.value.code == "dispute_closed"
    assert Dispute.objects.get().status == Dispute.Status.OPEN


@pytest.mark.parametrize(
    ("accept", "state", "reason"),
    [(True, OutcomeState.REVERSED, "dispute_upheld"), (False, OutcomeState.BILLED, "billed")],
    ids=["upheld-is-a-credit", "rejected-stays-billed"],
)
def test_a_billed_outcome_is_disputed_then_credited_or_kept(accept: bool, state: str, reason: str) -> None:
    story = billable()
    story.mark_billed("T-1", T0 + 2 * DAY)
    disputed(story, T0 + 3 * DAY)
    assert story.state("T-1") == OutcomeState.DISPUTED

    respond(story, T0 + 4 * DAY, accept=accept)

    assert story.state("T-1") == state
    last = OutcomeTransition.objects.filter(outcome=story.outcome("T-1")).order_by("id").last()
    assert last is not None
    assert (last.from_state, last.to_state, last.reason) == ("disputed", state, reason)


@pytest.mark.parametrize(("after_close", "opens"), [(0 * SECOND, True), (SECOND, False)])
def test_the_customers_dispute_through_the_api_has_the_same_window(
    after_close: dt.timedelta, opens: bool
) -> None:
    story = billable()
    outcome = story.outcome("T-1")
    at = WINDOW_CLOSES + after_close

    if opens:
        dispute = dispute_open(outcome=outcome, reason="not solved", actor="customer:finance", now=at)
        assert (dispute.opened_at, dispute.deadline) == (at, at + 14 * DAY)
        assert story.decided("T-1", "disputes") == ("hold", "dispute_open")
        assert story.state("T-1") == OutcomeState.DISPUTED
    else:
        with pytest.raises(Conflict) as refused:
            dispute_open(outcome=outcome, reason="not solved", actor="customer:finance", now=at)
        assert refused.value.code == "dispute_window_closed"
        assert not Dispute.objects.exists()


def test_no_dispute_records_nothing() -> None:
    story = billable()

    assert "disputes" not in story.rules("T-1")

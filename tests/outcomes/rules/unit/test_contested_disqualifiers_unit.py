"""Rule 9b on in-memory facts: which disqualifiers the vendor's evidence contests (its fields, its side,
its window), what the contest holds while open, and how silence, the customer's answer and people's
decisions resolve it; the lifecycle through the pipeline's `_target`, each boundary on both sides."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.forms.policy import policy_specs
from core.forms import FIELD_KINDS, coerce, display
from outcomes.models import (
    Decision,
    DisqualifierContest,
    EventKind,
    OutcomeState,
    Party,
    ReviewDecision,
)
from outcomes.rules import FLAGS
from outcomes.rules.base import EventFact, OutcomeFacts, Verdict
from outcomes.rules.contested_disqualifiers import (
    ContestedDisqualifierParams,
    ContestedDisqualifiers,
    contest_of,
)
from outcomes.rules.flag_deadlines import FlagDeadlines
from outcomes.rules.maturation import Maturation, Reversal
from outcomes.services.verification import _target
from tests.support.facts import DAY, HOUR, SECOND, T0, fact, outcome_facts, policy

RULE = ContestedDisqualifiers()
REPORTED = T0 + 2 * HOUR  # the customer's no-show, received two hours after the meeting
CONTEST = {
    "contradicting_evidence": {"no_show": "attendance_record,recording_url"},
    "vendor_window_hours": 12,
}


def rules(unanswered: str = "keep_billed", **contest: Any) -> Any:
    return policy(
        maturation={
            "hold_hours": 0,
            "disqualifiers": ["no_show"],
            "reporting_windows_hours": {"no_show": 24},
        },
        disqualifier_contest={**CONTEST, "unanswered": unanswered, **contest},
    )


def no_show(at: dt.datetime = REPORTED, **kwargs: Any) -> EventFact:
    return fact(EventKind.OUTCOME_REVERSED, at, from_customer=True, evidence={"reason": "no_show"}, **kwargs)


def attended(received_at: dt.datetime = T0, **evidence: Any) -> EventFact:
    """The vendor's event carrying its attendance record (by default, its claim at T0)."""
    return fact(at=T0, received_at=received_at, evidence=evidence or {"attendance_record": "att_42"})


def meeting(*events: EventFact, billed: bool = False, rules_: Any = None, **kwargs: Any) -> OutcomeFacts:
    outcome = {"billed_at": T0 + HOUR, "state": OutcomeState.BILLED} if billed else {}
    return outcome_facts(*events, rules=rules_ or rules(), outcome=outcome, **kwargs)


def row(facts: OutcomeFacts, status: str = DisqualifierContest.Status.OPEN, **fields: Any) -> Any:
    """The contest row `prepare` keeps, as the rule reads it."""
    contest = contest_of(facts)
    assert contest is not None
    opened = contest.opened_at
    contest_row = DisqualifierContest(
        pk=7, event_id=contest.disqualifier.event_id, disqualifier="no_show", opened_at=opened,
        deadline=opened + 7 * DAY, status=status, **fields,
    )  # fmt: skip
    return {RULE.name: {facts.outcome.pk: contest_row}}


def lifecycle(facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> tuple[str, Any, str]:
    """The state, next look and deciding reason the maturation, reversal and contest verdicts call for."""
    verdicts: list[tuple[str, Verdict]] = []
    for rule in (Maturation(), Reversal(), RULE):
        verdict = rule.evaluate(facts, prepared, now)
        if verdict is not None:
            decided = FlagDeadlines().flag_decided(verdict, FLAGS.get(verdict.reason), facts, None, now)
            verdicts.append((rule.name, decided))
    return _target(facts, verdicts)


def test_by_default_nothing_is_contestable_and_a_disqualifier_voids_as_before() -> None:
    facts = meeting(attended(), no_show(), rules_=policy(maturation={"disqualifiers": ["no_show"]}))
    assert contest_of(facts) is None
    assert RULE.evaluate(facts, {}, REPORTED + HOUR) is None
    assert lifecycle(facts, {}, REPORTED + HOUR) == (OutcomeState.REVERSED, None, "reversed")


@pytest.mark.parametrize(
    ("vendor_event", "contested"),
    [
        (attended(), True),
        (attended(recording_url="https://rec/1"), True),  # any of the listed fields
        (attended(attendance_record=""), False),  # an empty value says nothing
        (attended(transcript_sha256="ab" * 32), False),  # a field not listed for a no-show
        (fact(evidence={"attendance_record": "att_42"}, from_customer=True), False),  # the customer's own
        # The vendor's own reversal (for a reason that does not disqualify) is no evidence.
        (fact(EventKind.OUTCOME_REVERSED, T0, evidence={"reason": "moved", "attendance_record": "a"}), False),
    ],
)
def test_only_the_vendors_listed_evidence_contests(vendor_event: EventFact, contested: bool) -> None:
    contest = contest_of(meeting(fact(at=T0), vendor_event, no_show()))
    assert contest is not None
    assert bool(contest.evidence) is contested


def test_a_late_a_vendors_or_an_unlisted_disqualifier_is_not_contestable() -> None:
    late = no_show(T0 + 24 * HOUR + SECOND)
    assert contest_of(meeting(attended(), late)) is None
    vendors = fact(EventKind.OUTCOME_REVERSED, REPORTED, evidence={"reason": "no_show"})
    assert contest_of(meeting(attended(), vendors)) is None  # the vendor concedes
    assert contest_of(meeting(attended(), no_show(), rules_=rules(contradicting_evidence={}))) is None


@pytest.mark.parametrize(
    ("evidence_after", "contested"),
    [(-5 * DAY, True), (12 * HOUR - SECOND, True), (12 * HOUR, True), (12 * HOUR + SECOND, False)],
)
def test_the_vendors_evidence_counts_until_its_window_after_the_disqualifier_closes(
    evidence_after: dt.timedelta, contested: bool
) -> None:
    facts = meeting(fact(at=T0), attended(received_at=REPORTED + evidence_after), no_show())
    contest = contest_of(facts)
    assert contest is not None
    assert bool(contest.evidence) is contested


@pytest.mark.parametrize("billed", [False, True])
def test_without_evidence_the_disqualifier_waits_for_the_vendors_window_then_applies(billed: bool) -> None:
    facts = meeting(fact(at=T0), no_show(), billed=billed)
    until = REPORTED + 12 * HOUR
    waiting = RULE.evaluate(facts, {}, until - SECOND)
    assert waiting is not None
    assert (waiting.decision, waiting.reason, waiting.hold_until) == (
        Decision.HOLD,
        "disqualifier_answerable",
        until,
    )
    held_state = OutcomeState.BILLED if billed else OutcomeState.MATURING
    assert lifecycle(facts, {}, until - SECOND)[:2] == (held_state, until)  # no void, no credit yet
    applied = RULE.evaluate(facts, {}, until)
    assert applied is not None
    assert (applied.decision, applied.reason) == (Decision.ACCEPT, "disqualifier_uncontested")
    assert lifecycle(facts, {}, until) == (
        OutcomeState.REVERSED,
        None,
        "clawed_back" if billed else "reversed",
    )


@pytest.mark.parametrize("billed", [False, True])
def test_an_open_contest_is_flagged_with_both_sides_evidence_and_moves_no_money(billed: bool) -> None:
    facts = meeting(attended(attendance_record="x" * 500), no_show(event_id="evt_noshow"), billed=billed)
    prepared = row(facts)
    deadline = REPORTED + 7 * DAY
    verdict = RULE.evaluate(facts, prepared, REPORTED)
    assert verdict is not None
    assert (verdict.decision, verdict.reason, verdict.hold_until) == (
        Decision.FLAG,
        "disqualifier_contested",
        deadline,
    )
    assert verdict.facts["disqualifier"]["event_id"] == "evt_noshow"
    assert verdict.facts["disqualifier"]["reason"] == "no_show"
    assert verdict.facts["vendor"]["evidence"] == {"attendance_record": "x" * 200 + "…"}
    assert (verdict.facts["deadline"], verdict.facts["status"]) == (deadline.isoformat(), "open")
    # Flagged, looked at again at the deadline; a billed outcome keeps its billed_at (no credit).
    assert lifecycle(facts, prepared, REPORTED) == (OutcomeState.FLAGGED, deadline, "disqualifier_contested")


def test_an_upheld_contest_waits_for_a_person_with_the_customers_evidence_and_no_deadline() -> None:
    facts = meeting(attended(), no_show())
    prepared = row(
        facts, DisqualifierContest.Status.UPHELD, answer="No one came.", answer_evidence={"log": "l1"}
    )
    verdict = RULE.evaluate(facts, prepared, REPORTED + 30 * DAY)
    assert verdict is not None
    assert (verdict.decision, verdict.hold_until) == (Decision.FLAG, None)
    assert verdict.facts["customer"]["evidence"] == {"log": "l1"}
    assert lifecycle(facts, prepared, REPORTED + 30 * DAY) == (
        OutcomeState.FLAGGED,
        None,
        "disqualifier_contested",
    )


@pytest.mark.parametrize(
    ("status", "billed", "expected"),
    [
        ("expired_billed", False, (OutcomeState.BILLABLE, None, "all_rules_accept")),
        ("expired_billed", True, (OutcomeState.BILLED, None, "billed")),
        ("expired_reversed", False, (OutcomeState.REVERSED, None, "reversed")),
        ("expired_reversed", True, (OutcomeState.REVERSED, None, "clawed_back")),
    ],
)
def test_silence_resolves_as_the_policy_said(
    status: str, billed: bool, expected: tuple[str, Any, str]
) -> None:
    facts = meeting(attended(), no_show(), billed=billed)
    verdict = RULE.evaluate(facts, row(facts, status), REPORTED + 8 * DAY)
    assert verdict is not None
    assert (verdict.decision, verdict.reason) == (Decision.ACCEPT, f"disqualifier_unanswered_{status[8:]}")
    assert lifecycle(facts, row(facts, status), REPORTED + 8 * DAY) == expected


@pytest.mark.parametrize(
    ("verdict", "party", "expected"),
    [
        (ReviewDecision.Verdict.ACCEPT, Party.CUSTOMER, OutcomeState.BILLABLE),  # withdrawn
        (ReviewDecision.Verdict.REJECT, Party.VENDOR, OutcomeState.REVERSED),  # conceded
    ],
)
def test_a_decision_replaces_the_flag(verdict: str, party: str, expected: str) -> None:
    decision = ReviewDecision(flag_reason="disqualifier_contested", verdict=verdict, party=party, at=T0)
    facts = meeting(attended(), no_show(), decisions={"disqualifier_contested": decision})
    assert lifecycle(facts, row(facts), REPORTED + HOUR)[0] == expected


@settings(max_examples=30, deadline=None)
@given(
    evidence_at=st.integers(min_value=-48 * 3600, max_value=12 * 3600),
    first=st.booleans(),
    billed=st.booleans(),
)
def test_the_vendors_evidence_before_or_after_the_disqualifier_gives_the_same_result(
    evidence_at: int, first: bool, billed: bool
) -> None:
    """Received any time from two days before the no-show to the end of the vendor's window after it,
    listed in either order: the same contest, the same state; only the deadline follows the later one."""
    received = REPORTED + dt.timedelta(seconds=evidence_at)
    events = [attended(received_at=received), no_show()]
    facts = meeting(fact(at=T0), *(events if first else events[::-1]), billed=billed)
    later = REPORTED + 13 * HOUR  # after the vendor's window, before any deadline
    prepared = row(facts)
    verdict = RULE.evaluate(facts, prepared, later)
    assert verdict is not None
    assert (verdict.decision, verdict.reason) == (Decision.FLAG, "disqualifier_contested")
    assert verdict.hold_until == max(received, REPORTED) + 7 * DAY
    assert lifecycle(facts, prepared, later)[0] == OutcomeState.FLAGGED


def test_the_parameters_validate_and_say_what_they_do() -> None:
    params = ContestedDisqualifierParams.model_validate(CONTEST)
    assert params.fields_for("no_show") == ("attendance_record", "recording_url")
    assert params.fields_for("reopened") == ()
    assert params.describe() == (
        "A disqualifier the vendor's evidence contradicts (a no show by the vendor's attendance record or "
        "recording url, "
        "sent up to 12 h after it) is held; the customer answers within 7 days, else it is billed."
    )
    assert ContestedDisqualifierParams().describe() is None
    for bad in (
        {"contradicting_evidence": {"no_show": "attendance record"}},
        {"answer_window_days": 0},
        {"vendor_window_hours": 721},
        {"unanswered": "credit"},
    ):
        with pytest.raises(ValidationError):
            ContestedDisqualifierParams.model_validate(bad)


def test_the_portal_form_renders_the_parameters_and_reads_them_back() -> None:
    specs = policy_specs()
    evidence = specs["verification_policy.disqualifier_contest.contradicting_evidence"]
    assert (evidence.widget, evidence.kind) == ("textarea", FIELD_KINDS)
    assert (
        specs["verification_policy.disqualifier_contest.vendor_window_hours"].label == "Vendor window (hours)"
    )
    assert specs["verification_policy.disqualifier_contest.unanswered"].choices == (
        ("keep_billed", "Keep billed"),
        ("reverse", "Reverse"),
    )
    typed = "no_show: attendance_record,recording_url\nreopened: transcript_sha256"
    params = ContestedDisqualifierParams(contradicting_evidence=coerce(typed, FIELD_KINDS))
    assert params.fields_for("reopened") == ("transcript_sha256",)
    assert display(params.contradicting_evidence, FIELD_KINDS) == typed

"""Rule 9b through signed webhooks: a no-show reported on time while the vendor's attendance record says
the meeting happened is not reversed but contested, until the customer answers (its key), a person
decides, or the deadline passes and silence resolves as the policy says; an honest month's no-shows,
with no such record, void as before."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from contracts.models import AuditEntry
from notifications.models import Event
from outcomes.models import DisqualifierContest, OutcomeState
from outcomes.services.deadlines import deadlines_announce
from outcomes.services.verification import outcomes_evaluate_due
from tests.support.rule_stories import DAY, HOUR, SECOND, T0, Story, make_story

pytestmark = pytest.mark.django_db

# Meetings, billable 48 h after the claim unless a no-show is received within 24 h of the meeting; a
# no-show the vendor's attendance record contradicts is contested (the customer has 7 days to answer).
POLICY: dict[str, Any] = {
    "confirmation": {"required": False},
    "maturation": {
        "hold_hours": 48,
        "disqualifiers": ["no_show"],
        "reporting_windows_hours": {"no_show": 24},
    },
    "reversal_anomaly": {"enabled": False},
    "disqualifier_contest": {
        "contradicting_evidence": {"no_show": "attendance_record"},
        "vendor_window_hours": 12,
    },
}
REPORTED = T0 + 2 * HOUR
DEADLINE = REPORTED + 7 * DAY


def attended(story: Story, key: str, at: dt.datetime = T0) -> None:
    story.claim(at, key, occurred_at=T0, evidence={"attendance_record": f"att-{key}"})


def customer_key(story: Story) -> APIClient:
    response = story.ingest.api.client.post(
        f"/api/v1/customers/{story.contract.customer_id}/api-keys",
        {"name": "CRM", "scope": "write"},
        format="json",
    )
    assert response.status_code == 201, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['key']}")
    return client


def contest_answer(client: APIClient, story: Story, key: str, at: dt.datetime, **body: Any) -> Any:
    with time_machine.travel(at, tick=False):
        return client.post(
            f"/api/v1/customer/outcomes/{story.outcome(key).pk}/contest",
            {"response": "Our receptionist logged no visitor.", **body},
            format="json",
        )


def test_a_contradicted_no_show_is_contested_not_reversed_and_silence_bills_it_at_the_deadline() -> None:
    story = make_story(POLICY)
    attended(story, "M-1")  # the attendance record comes with the claim
    story.claim(T0, "M-2", evidence={"booking": "b-2"})
    story.reverse(REPORTED, "M-1", "no_show")
    story.reverse(REPORTED, "M-2", "no_show")
    story.reverse(REPORTED, "M-3", "no_show")
    attended(story, "M-3", at=REPORTED + 12 * HOUR)  # the record sent up to 12 h after the no-show counts
    story.evaluate(REPORTED + 12 * HOUR - SECOND)

    assert story.state("M-1") == OutcomeState.FLAGGED
    assert story.decided("M-1", "reversal") == ("reject", "reversed")  # what rule 9 says; it waits
    verdict = story.verdict("M-1", "contested_disqualifier")
    assert (verdict.decision, verdict.reason) == ("flag", "disqualifier_contested")
    assert verdict.facts["disqualifier"]["reason"] == "no_show"
    assert verdict.facts["vendor"]["evidence"] == {"attendance_record": "att-M-1"}
    assert (verdict.facts["deadline"], verdict.facts["status"]) == (DEADLINE.isoformat(), "open")
    assert story.outcome("M-1").hold_until == T0 + 48 * HOUR  # maturation looks first, then the deadline
    # No record for M-2 yet: its no-show waits for the vendor's window, then voids it.
    assert story.decided("M-2", "contested_disqualifier") == ("hold", "disqualifier_answerable")
    assert story.state("M-2") == OutcomeState.MATURING
    story.evaluate(REPORTED + 12 * HOUR)
    assert story.state("M-2") == OutcomeState.REVERSED
    assert story.decided("M-2", "contested_disqualifier") == ("accept", "disqualifier_uncontested")
    assert story.state("M-3") == OutcomeState.FLAGGED
    assert story.outcome("M-3").disqualifier_contest.deadline == REPORTED + 12 * HOUR + 7 * DAY

    # Both parties are told, the customer with the vendor's evidence, and reminded a day before.
    opened = Event.objects.get(type="disqualifier_contest.opened", object_id=str(story.outcome("M-1").pk))
    assert (opened.data["deadline"], opened.data["vendor_evidence"]) == (
        DEADLINE.isoformat(),
        {"attendance_record": "att-M-1"},
    )
    assert deadlines_announce(now=DEADLINE - HOUR) == 2  # M-1's and M-3's
    assert deadlines_announce(now=DEADLINE - HOUR) == 2  # a repeat records nothing new
    reminded = Event.objects.filter(type="disqualifier_contest.deadline_approaching")
    assert sorted(e.data["natural_key"] for e in reminded) == ["M-1", "M-3"]

    # One second before the deadline the customer may still answer; at it, silence bills M-1.
    story.evaluate(DEADLINE - SECOND)
    assert story.state("M-1") == OutcomeState.FLAGGED
    assert story.outcome("M-1").hold_until == DEADLINE
    outcomes_evaluate_due(now=DEADLINE)
    contest = DisqualifierContest.objects.get(outcome=story.outcome("M-1"))
    assert (contest.status, contest.resolved_at) == ("expired_billed", DEADLINE)
    assert story.state("M-1") == OutcomeState.BILLABLE
    assert story.decided("M-1", "contested_disqualifier") == ("accept", "disqualifier_unanswered_billed")
    assert (
        customer_key(story)
        .post(  # too late to answer now
            f"/api/v1/customer/outcomes/{story.outcome('M-1').pk}/contest",
            {"uphold": True, "response": "late", "evidence": {"a": 1}},
            format="json",
        )
        .json()["code"]
        == "contest_closed"
    )


def test_silence_may_let_the_disqualifier_stand_instead() -> None:
    story = make_story(
        {**POLICY, "disqualifier_contest": {**POLICY["disqualifier_contest"], "unanswered": "reverse"}}
    )
    attended(story, "M-1")
    story.reverse(REPORTED, "M-1", "no_show")
    story.evaluate(REPORTED + HOUR)
    assert story.state("M-1") == OutcomeState.FLAGGED
    story.evaluate(DEADLINE)
    assert story.state("M-1") == OutcomeState.REVERSED
    assert story.decided("M-1", "contested_disqualifier") == ("accept", "disqualifier_unanswered_reversed")


def test_the_customer_answers_with_its_key_and_neither_side_keeps_its_own_way_alone() -> None:
    story = make_story(POLICY)
    for key in ("M-1", "M-2"):
        attended(story, key)
        story.reverse(REPORTED, key, "no_show")
    story.claim(T0, "M-4")
    story.evaluate(REPORTED + HOUR)
    customer, vendor = customer_key(story), story.ingest.api.client
    answered_at = REPORTED + 2 * HOUR

    # Upholding needs evidence; then the clock stops and a person decides: silence no longer bills it.
    missing = contest_answer(customer, story, "M-1", answered_at, uphold=True)
    assert (missing.status_code, missing.json()["code"]) == (400, "validation_error")
    upheld = contest_answer(customer, story, "M-1", answered_at, uphold=True, evidence={"visitor_log": "v-9"})
    assert upheld.status_code == 200, upheld.content
    assert upheld.json()["status"] == "upheld"
    told = Event.objects.get(type="disqualifier_contest.upheld")
    assert (told.data["natural_key"], told.data["evidence"]) == ("M-1", {"visitor_log": "v-9"})
    assert story.verdict("M-1", "contested_disqualifier").facts["customer"]["evidence"] == {
        "visitor_log": "v-9"
    }
    # The customer withdraws another (billed once matured); it never rejects the flag alone.
    with time_machine.travel(answered_at, tick=False):
        keep = customer.post(
            f"/api/v1/customer/outcomes/{story.outcome('M-2').pk}/review",
            {"flag_reason": "disqualifier_contested", "verdict": "reject"},
            format="json",
        )
    assert (keep.status_code, keep.json()["code"]) == (403, "decision_needs_other_party")
    withdrawn = contest_answer(customer, story, "M-2", answered_at, uphold=False)
    assert withdrawn.status_code == 200, withdrawn.content
    assert story.decided("M-2", "contested_disqualifier") == ("accept", "disqualifier_contested_cleared")
    assert story.state("M-2") == OutcomeState.MATURING

    story.evaluate(DEADLINE + DAY)
    assert story.state("M-1") == OutcomeState.FLAGGED
    again = contest_answer(customer, story, "M-1", answered_at, uphold=True, evidence={"x": 1})
    assert (again.status_code, again.json()["code"]) == (409, "contest_closed")
    # The vendor never clears it; it may concede.
    with time_machine.travel(DEADLINE + DAY, tick=False):
        review = f"/api/v1/outcomes/{story.outcome('M-1').pk}/review"
        refused = vendor.post(
            review, {"flag_reason": "disqualifier_contested", "verdict": "accept"}, format="json"
        )
        assert (refused.status_code, refused.json()["code"]) == (403, "decision_needs_other_party")
        conceded = vendor.post(
            review, {"flag_reason": "disqualifier_contested", "verdict": "reject"}, format="json"
        )
        assert conceded.status_code == 201, conceded.content
    assert story.state("M-1") == OutcomeState.REVERSED

    # No contest on M-4: 404.
    none = contest_answer(customer, story, "M-4", answered_at, uphold=False)
    assert (none.status_code, none.json()["code"]) == (404, "no_contest")
    # Each answer given is in the vendor's audit log (the refused ones are not), as the customer's key.
    entries = AuditEntry.objects.filter(action__startswith="disqualifier_contest.").order_by("pk")
    contests = {c.outcome_id: c for c in DisqualifierContest.objects.all()}
    assert [(e.action, e.object_id, e.details) for e in entries] == [
        (
            "disqualifier_contest.upheld",
            str(contests[story.outcome("M-1").pk].pk),
            {"outcome_id": story.outcome("M-1").pk, "disqualifier": "no_show"},
        ),
        (
            "disqualifier_contest.withdrawn",
            str(contests[story.outcome("M-2").pk].pk),
            {"outcome_id": story.outcome("M-2").pk, "disqualifier": "no_show"},
        ),
    ]
    assert {e.actor for e in entries} == {contests[story.outcome("M-1").pk].answered_by}


def test_an_honest_month_contests_nothing_and_each_no_show_voids_as_before() -> None:
    story = make_story(POLICY)
    no_shows = {f"M-{day}-0" for day in range(0, 20, 4)}
    for day in range(20):
        at = T0 + day * DAY
        keys = [f"M-{day}-{n}" for n in range(3)]
        # Attended meetings come with their record; a no-show was booked, and nobody came.
        claims = [
            story.event(key=k, at=at, evidence={"booking": k} if k in no_shows else {"attendance_record": k})
            for k in keys
        ]
        story.send(at, {"events": claims}, as_agent=True)
        for key in no_shows.intersection(keys):
            story.reverse(at + 3 * HOUR, key, "no_show")
    story.evaluate(T0 + 30 * DAY)

    states = dict(story.outcomes().values_list("natural_key", "state"))
    assert {k for k, s in states.items() if s == OutcomeState.REVERSED} == no_shows
    assert {s for k, s in states.items() if k not in no_shows} == {OutcomeState.BILLABLE}
    assert not DisqualifierContest.objects.exists()
    assert all(story.decided(k, "reversal") == ("reject", "reversed") for k in no_shows)

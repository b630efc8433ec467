"""Rule 6a through signed webhooks: a helpdesk "resolved" whose transcript is a greeting is rejected, a real
one is billable; an honest month of real conversations rejects and flags nothing; a bad check line is the
policy's 400, naming the line."""

from __future__ import annotations

from typing import Any

import pytest

from outcomes.models import OutcomeState, OutcomeVerdict
from tests.factories import CustomerFactory, contract_payload, field_error_codes
from tests.support.rule_stories import DAY, HOUR, SECOND, T0, Story, make_story, policy_terms
from tests.support.vendors import VendorApi

pytestmark = pytest.mark.django_db

POLICY = {
    "maturation": {"hold_hours": 0},
    "confirmation": {"required": False},
    "evidence_content": {
        "checks": ["ticket_status one_of solved|closed", "csat min 1", "csat max 5"],
        "conversation_enabled": True,
        "min_message_chars": 25,
    },
}
QUESTIONS = [
    "My March invoice charged me twice, please refund one of them.",
    "I cannot log in since the password reset this morning, error 403.",
    "The export to CSV drops every row after the 1000th one.",
]
ANSWERS = [
    "I refunded the duplicate charge of $49; it shows within 5 days.",
    "Your account was locked after the reset; I unlocked it, please try again now.",
    "That is a known limit of the old exporter; I switched you to the new one, which has none.",
]


def transcript(at: Any, *messages: tuple[str, int, str]) -> list[dict[str, Any]]:
    return [{"role": role, "at": (at + s * SECOND).isoformat(), "text": text} for role, s, text in messages]


def resolve(
    story: Story, at: Any, key: str, conversation: list[dict[str, Any]], csat: int = 5
) -> dict[str, Any]:
    evidence = {"ticket_status": "solved", "csat": csat, "transcript": conversation}
    return story.event(key=key, at=at, evidence=evidence)


def test_a_greeting_only_resolution_is_rejected_and_a_real_one_is_billable() -> None:
    story = make_story(POLICY)
    greeting = transcript(T0, ("customer", 0, "hi"), ("agent", 10, "Hello! How can I help you today?"))
    real = transcript(T0, ("customer", 0, "hi"), ("customer", 5, QUESTIONS[0]), ("agent", 60, ANSWERS[0]))
    story.send(T0, {"events": [resolve(story, T0, "T-1", greeting), resolve(story, T0, "T-2", real)]})

    story.evaluate(T0 + HOUR)

    assert story.state("T-1") == OutcomeState.REJECTED
    verdict = story.verdict("T-1", "evidence_content")
    assert (verdict.decision, verdict.reason, verdict.facts) == (
        "reject",
        "conversation_too_short",
        {"field": "transcript", "messages": 2, "substantive": 1, "min_substantive_messages": 2},
    )
    assert story.state("T-2") == OutcomeState.BILLABLE
    assert story.decided("T-2", "evidence_content") == ("accept", "evidence_content_ok")


def test_an_honest_month_rejects_and_flags_nothing() -> None:
    story = make_story(POLICY)
    for day in range(30):
        at = T0 + day * DAY
        events = []
        for n in range(3):
            question, answer = QUESTIONS[(day + n) % 3], ANSWERS[(day + n) % 3]
            conversation = transcript(
                at,
                # An automatic greeting first, small talk, the customer's thanks after the answer.
                ("agent", 0, "Hi, I am the support assistant."),
                ("customer", 20, "hello"),
                ("customer", 30 + n, question),
                ("agent", 300, answer),
                ("customer", 400, "thanks!"),
            )
            events.append(resolve(story, at, f"T-{day}-{n}", conversation, csat=1 + (day + n) % 5))
        story.send(at, {"events": events}, as_agent=True)

    story.evaluate(T0 + 30 * DAY)

    assert story.outcomes().count() == 90
    assert set(story.outcomes().values_list("state", flat=True)) == {OutcomeState.BILLABLE}
    assert not OutcomeVerdict.objects.filter(rule="evidence_content").exclude(decision="accept").exists()


def test_a_bad_check_line_is_the_policys_400(vendor_api: VendorApi) -> None:
    customer = CustomerFactory.create(vendor=vendor_api.vendor)
    terms = policy_terms({"evidence_content": {"checks": ["summary min_length 40", "summary pattern ([a-z"]}})

    response = vendor_api.client.post(
        "/api/v1/contracts", contract_payload(customer, terms=terms), format="json"
    )

    assert response.status_code == 400
    assert field_error_codes(response.json()) == {
        "terms.outcome_types[0].verification_policy.evidence_content.checks": ["value_error"]
    }
    [error] = response.json()["field_errors"][
        "terms.outcome_types[0].verification_policy.evidence_content.checks"
    ]
    assert "'summary pattern ([a-z': the pattern is not a valid regular expression" in error["message"]

"""Rule 6a on in-memory facts: each content check on both sides of its threshold, the conversation check,
and the check lines refused when the policy is validated (a clear error, never one at evaluation)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from outcomes.rules.base import Verdict, accept
from outcomes.rules.evidence_content import PATTERN_MAX_CHARS, PATTERN_PREFIX_CHARS, EvidenceContent
from tests.support.facts import SECOND, T0, fact, outcome_facts, policy

RULE = EvidenceContent()


def judge(evidence: dict[str, Any], *checks: str, **conversation: Any) -> Verdict | None:
    rules = policy(evidence_content={"checks": list(checks), **conversation})
    return RULE.evaluate(outcome_facts(fact(evidence=evidence), rules=rules), {}, T0)


def failed(verdict: Verdict | None) -> tuple[str, Any] | None:
    """The reject's reason and what it found, or None for an accept."""
    assert verdict is not None
    if verdict.decision == "accept":
        return None
    return verdict.reason, verdict.facts.get("got")


def test_with_no_check_and_no_conversation_it_records_nothing() -> None:
    assert RULE.evaluate(outcome_facts(fact(evidence={"summary": "x"})), {}, T0) is None


@pytest.mark.parametrize(
    ("check", "passing", "failing", "reason", "got"),
    [
        ("summary min_length 40", "x" * 40, "x" * 39, "evidence_too_short", 39),
        ("summary max_length 10", "x" * 10, "x" * 11, "evidence_too_long", 11),
        ("steps min_items 3", [1, 2, 3], [1, 2], "evidence_too_short", 2),
        ("steps max_items 2", [1, 2], [1, 2, 3], "evidence_too_long", 3),
        ("refund min 10.50", 10.5, 10.49, "evidence_out_of_range", "10.49"),
        ("refund max 500", 500, 500.01, "evidence_out_of_range", "500.01"),
        ("status one_of resolved|closed", "closed", "open", "evidence_value_not_allowed", "open"),
        ("csat one_of 4|5", 4, 3, "evidence_value_not_allowed", 3),
        ("ticket pattern ^T-[0-9]+$", "T-1042", "T-10a", "evidence_pattern_mismatch", "T-10a"),
    ],
)
def test_each_check_passes_at_its_threshold_and_rejects_just_past_it(
    check: str, passing: Any, failing: Any, reason: str, got: Any
) -> None:
    field = check.split()[0]

    assert judge({field: passing}, check) == accept("evidence_content_ok", checks=1, conversation=None)
    verdict = judge({field: failing}, check)
    assert failed(verdict) == (reason, got)
    assert verdict is not None
    assert verdict.facts["field"] == field
    assert verdict.facts["check"] == check.split()[1]


def test_a_pattern_is_searched_only_in_the_values_bounded_prefix() -> None:
    inside = "x" * (PATTERN_PREFIX_CHARS - 4) + "DONE"
    beyond = "x" * (PATTERN_PREFIX_CHARS - 3) + "DONE"

    assert failed(judge({"note": inside}, "note pattern DONE")) is None
    assert failed(judge({"note": beyond}, "note pattern DONE")) == (
        "evidence_pattern_mismatch",
        "x" * 80 + "…",  # a long value is never copied whole into the verdict
    )


def test_wrong_types_and_missing_fields_are_named() -> None:
    assert failed(judge({"summary": 42}, "summary min_length 2")) == ("evidence_wrong_type", 42)
    assert failed(judge({"refund": True}, "refund min 0")) == ("evidence_wrong_type", True)
    assert failed(judge({"refund": "12"}, "refund max 20")) == ("evidence_wrong_type", "12")
    assert failed(judge({"steps": "a,b"}, "steps min_items 1")) == ("evidence_wrong_type", "a,b")
    assert judge({}, "summary min_length 2") == Verdict(
        "reject", "evidence_content_missing", {"field": "summary", "check": "min_length"}
    )


def test_every_check_must_pass() -> None:
    evidence = {"summary": "x" * 50, "status": "open"}
    verdict = judge(evidence, "summary min_length 40", "status one_of resolved")
    assert failed(verdict) == ("evidence_value_not_allowed", "open")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("summary min_length", "write <field> <check> <argument>"),
        ("summary longer_than 4", "unknown check 'longer_than'"),
        ("summary min_length -1", "min_length takes a whole number"),
        ("refund min 1e", "min takes a number"),
        ("refund max NaN", "max takes a number"),
        ("note pattern ([a-z]", "not a valid regular expression"),
        ("note pattern " + "a" * (PATTERN_MAX_CHARS + 1), f"at most {PATTERN_MAX_CHARS} characters"),
        ("status one_of |", "one_of takes 1 to 100 values"),
        ("bad/field min 1", "a field name is"),
    ],
)
def test_a_bad_check_line_is_refused_when_the_policy_is_validated(line: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace("[", r"\[")):
        policy(evidence_content={"checks": [line]})


def test_a_pattern_of_the_longest_allowed_length_is_accepted() -> None:
    policy(evidence_content={"checks": ["note pattern " + "a" * PATTERN_MAX_CHARS]})


def message(role: str, seconds: int, text: str) -> dict[str, Any]:
    return {"role": role, "at": (T0 + seconds * SECOND).isoformat(), "text": text}


QUESTION = "My March invoice charged me twice, please refund one of them."
ANSWER = "I refunded the duplicate charge of $49; it shows within 5 days."
CONVERSATION = {"conversation_enabled": True}


def talk(*messages: dict[str, Any], **params: Any) -> Verdict | None:
    return judge({"transcript": list(messages)}, **CONVERSATION, **params)


def test_a_greeting_only_conversation_is_too_short() -> None:
    verdict = talk(message("customer", 0, "hi"), message("agent", 5, "Hello! How can I help?"))

    assert verdict == Verdict(
        "reject",
        "conversation_too_short",
        {"field": "transcript", "messages": 2, "substantive": 1, "min_substantive_messages": 2},
    )


def test_a_real_answer_after_the_question_is_accepted() -> None:
    verdict = talk(message("customer", 0, QUESTION), message("agent", 60, ANSWER))

    assert verdict == accept("evidence_content_ok", checks=0, conversation="transcript")


def test_the_reply_must_come_strictly_after_the_question() -> None:
    same_instant = talk(message("agent", 0, ANSWER), message("customer", 0, QUESTION))
    one_second_later = talk(message("agent", 1, ANSWER), message("customer", 0, QUESTION))
    before = talk(message("agent", 0, ANSWER), message("customer", 1, QUESTION))

    assert failed(same_instant) == ("conversation_unanswered", None)
    assert same_instant is not None
    assert same_instant.facts["question_at"] == T0.isoformat()
    assert failed(one_second_later) is None
    assert failed(before) == ("conversation_unanswered", None)


def test_a_message_is_substantive_from_min_message_chars() -> None:
    at_threshold = talk(message("customer", 0, "q" * 20), message("agent", 1, "a" * 20))
    one_short = talk(message("customer", 0, "q" * 20), message("agent", 1, " " + "a" * 19 + " "))

    assert failed(at_threshold) is None
    assert failed(one_short) == ("conversation_too_short", None)


def test_min_substantive_messages_on_both_sides() -> None:
    three = (message("customer", 0, QUESTION), message("agent", 1, ANSWER), message("customer", 2, QUESTION))

    assert failed(talk(*three, min_substantive_messages=3)) is None
    assert failed(talk(*three, min_substantive_messages=4)) == ("conversation_too_short", None)


def test_a_malformed_conversation_is_rejected_without_copying_it() -> None:
    no_time = talk(message("customer", 0, QUESTION), {"role": "agent", "text": ANSWER})
    not_a_list = judge({"transcript": "x" * 500}, **CONVERSATION)

    assert no_time is not None
    assert no_time.reason == "conversation_malformed"
    assert no_time.facts["problem"] == "message 1 needs 'role' and 'at' (an RFC 3339 time)"
    assert failed(not_a_list) == ("conversation_malformed", "x" * 80 + "…")


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False), st.booleans())
def test_the_order_messages_are_listed_in_does_not_matter(rng: random.Random, answered: bool) -> None:
    messages = [
        message("customer", 0, "hello"),
        message("customer", 10, QUESTION),
        message("agent", 20 if answered else 5, ANSWER),
        message("agent", 30, "Anything else?"),
    ]
    shuffled = messages[:]
    rng.shuffle(shuffled)

    assert talk(*shuffled) == talk(*messages)
    assert (failed(talk(*messages)) is None) is answered

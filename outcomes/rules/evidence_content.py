"""Rule 6a: evidence content. Present is not enough: a greeting-only conversation marked "resolved" is not a
resolution. Per field, checks on what the evidence says (lengths, counts, a pattern, allowed values, a
numeric range), and for a conversation (a list of messages with a role and a time) that a substantive
question got a substantive reply from the other side after it.

Checks are lines `<field> <check> <argument>` (one per line in the portal's form), parsed and validated
when the policy is saved, so a bad line (an unknown check, a regex that does not compile) is the
policy's 400, never a 500 later. A failed check rejects with a reason naming the check's family and
facts naming the field, the check, what was expected and what was found, truncated: a transcript is
never copied into a verdict.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Annotated, Any

from pydantic import Field, field_validator

from contracts.policy import RuleParams
from outcomes.rules.base import OutcomeFacts, Reason, Rule, Verdict, accept, iso, reject
from outcomes.rules.time_to_outcome import parse_instant

# A pattern is at most this long and is searched in at most this many leading characters of the value:
# Python's regexes have no time limit, so both are bounded.
PATTERN_MAX_CHARS = 200
PATTERN_PREFIX_CHARS = 4000
# What a verdict's facts show of a value.
EXCERPT_CHARS = 80
# Messages of a conversation read at most.
MESSAGES_MAX = 1000

LENGTH_CHECKS = ("min_length", "max_length", "min_items", "max_items")
NUMBER_CHECKS = ("min", "max")
CHECK_NAMES = (*LENGTH_CHECKS, *NUMBER_CHECKS, "pattern", "one_of")
FIELD_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class ContentCheck:
    """One parsed check line."""

    field: str
    check: str
    argument: Any  # int for lengths and counts, Decimal for min/max, a compiled regex, a tuple of values

    @property
    def expected(self) -> Any:
        if isinstance(self.argument, re.Pattern):
            return self.argument.pattern
        if isinstance(self.argument, tuple):
            return list(self.argument)
        return str(self.argument) if isinstance(self.argument, Decimal) else self.argument


@lru_cache(maxsize=4096)
def check_parse(line: str) -> ContentCheck:
    """A check line as a ContentCheck; ValueError (a message naming the fault) for a bad line."""
    parts = line.strip().split(None, 2)
    if len(parts) != 3:
        raise ValueError(f"{line!r}: write <field> <check> <argument>, e.g. 'summary min_length 40'.")
    name, check, argument = parts
    if not FIELD_NAME.match(name):
        raise ValueError(f"{line!r}: a field name is 1 to 64 letters, digits, '_', '.' or '-'.")
    if check not in CHECK_NAMES:
        raise ValueError(f"{line!r}: unknown check {check!r} (checks: {', '.join(CHECK_NAMES)}).")
    if check in LENGTH_CHECKS:
        if not re.fullmatch(r"\d{1,7}", argument):
            raise ValueError(f"{line!r}: {check} takes a whole number from 0 to 9999999.")
        return ContentCheck(name, check, int(argument))
    if check in NUMBER_CHECKS:
        try:
            number = Decimal(argument)
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite() or len(argument) > 40:
            raise ValueError(f"{line!r}: {check} takes a number, e.g. 0 or 12.50.")
        return ContentCheck(name, check, number)
    if check == "pattern":
        if len(argument) > PATTERN_MAX_CHARS:
            raise ValueError(f"{line!r}: a pattern is at most {PATTERN_MAX_CHARS} characters.")
        try:
            return ContentCheck(name, check, re.compile(argument))
        except re.error as error:
            raise ValueError(f"{line!r}: the pattern is not a valid regular expression ({error}).") from None
    values = tuple(value.strip() for value in argument.split("|") if value.strip())
    if not values or len(values) > 100:
        raise ValueError(f"{line!r}: one_of takes 1 to 100 values separated by '|', e.g. 'resolved|closed'.")
    return ContentCheck(name, check, values)


class EvidenceContentParams(RuleParams):
    """Rule 6a: what the evidence must say, not only that it is there."""

    title = "Evidence content"
    checks: Annotated[
        list[str],
        Field(
            max_length=50,
            json_schema_extra={"x-one-per-line": True},
            description="Checks on evidence fields, one per line as <field> <check> <argument>. Checks: "
            "min_length / max_length (characters of a text), min_items / max_items (entries of a list), "
            "min / max (a number), pattern (a regular expression found in the text), one_of (allowed "
            "values separated by |). E.g. summary min_length 40, ticket_status one_of resolved|closed.",
        ),
    ] = Field(default_factory=list)
    conversation_enabled: Annotated[
        bool,
        Field(
            description="Check the conversation: a substantive question answered, after it, by the other side."
        ),
    ] = False
    conversation_field: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            description="Evidence field holding the conversation, a list of messages (each with a role, a "
            "time and a text).",
        ),
    ] = "transcript"
    role_key: Annotated[
        str, Field(min_length=1, max_length=64, description="Key of a message's author role.")
    ] = "role"
    time_key: Annotated[
        str, Field(min_length=1, max_length=64, description="Key of a message's time (RFC 3339).")
    ] = "at"
    text_key: Annotated[str, Field(min_length=1, max_length=64, description="Key of a message's text.")] = (
        "text"
    )
    question_role: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            description="Role that asks (e.g. customer): its first substantive message is the question.",
        ),
    ] = "customer"
    reply_role: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            description="Role that must answer after the question (e.g. agent), in a substantive message.",
        ),
    ] = "agent"
    min_substantive_messages: Annotated[
        int,
        Field(ge=1, le=1000, description="Substantive messages the conversation must hold, all roles."),
    ] = 2
    min_message_chars: Annotated[
        int,
        Field(
            ge=1,
            le=10_000,
            description="Characters a message needs to count as substantive (a greeting is short).",
        ),
    ] = 20

    @field_validator("checks")
    @classmethod
    def _checks_parse(cls, lines: list[str]) -> list[str]:
        for line in lines:
            check_parse(line)
        return lines

    @field_validator("conversation_field")
    @classmethod
    def _field_name(cls, name: str) -> str:
        if not FIELD_NAME.match(name):
            raise ValueError("A field name is 1 to 64 letters, digits, '_', '.' or '-'.")
        return name

    def describe(self) -> str | None:
        parts = (
            [f"{len(self.checks)} evidence check{'s' if len(self.checks) != 1 else ''}"]
            if self.checks
            else []
        )
        if self.conversation_enabled:
            parts.append(
                f"{self.conversation_field} must hold {self.min_substantive_messages}+ messages of "
                f"{self.min_message_chars}+ characters and a reply by {self.reply_role} after "
                f"{self.question_role}'s question"
            )
        if not parts:
            return None
        text = "; ".join(parts)
        return f"{text[:1].upper()}{text[1:]}."


def excerpt(value: Any) -> Any:
    """A value as a verdict's facts may show it: short texts and numbers as they are, the rest described."""
    if isinstance(value, str):
        return value if len(value) <= EXCERPT_CHARS else value[:EXCERPT_CHARS] + "…"
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return f"a {type(value).__name__}"


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    number = Decimal(str(value))
    return number if number.is_finite() else None


@dataclass(frozen=True)
class Message:
    """One message of a conversation, as the conversation check reads it."""

    role: str
    at: dt.datetime
    substantive: bool


class EvidenceContent(Rule[EvidenceContentParams]):
    name = "evidence_content"
    params_model = EvidenceContentParams
    policy_key = "evidence_content"
    reasons = (
        Reason("evidence_content_missing", "An evidence field the content checks read is missing."),
        Reason("evidence_wrong_type", "An evidence field is not of the type its check reads."),
        Reason("evidence_too_short", "An evidence text or list is shorter than the policy requires."),
        Reason("evidence_too_long", "An evidence text or list is longer than the policy allows."),
        Reason("evidence_out_of_range", "An evidence number is outside the policy's range."),
        Reason("evidence_pattern_mismatch", "An evidence text does not match the policy's pattern."),
        Reason("evidence_value_not_allowed", "An evidence value is not one the policy allows."),
        Reason(
            "conversation_malformed", "The conversation is not a list of messages with a role and a time."
        ),
        Reason(
            "conversation_too_short",
            "The conversation has too few substantive messages (a greeting is not a resolution).",
        ),
        Reason("conversation_unanswered", "No substantive reply came after the customer's question."),
        Reason("evidence_content_ok", "The evidence passes every content check."),
    )

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict | None:
        params = self.params(facts)
        if not params.checks and not params.conversation_enabled:
            return None
        evidence = facts.evidence
        for line in params.checks:
            check = check_parse(line)
            if check.field not in evidence:
                return reject("evidence_content_missing", field=check.field, check=check.check)
            failed = self.check_verdict(check, evidence[check.field])
            if failed is not None:
                return failed
        if params.conversation_enabled:
            if params.conversation_field not in evidence:
                return reject(
                    "evidence_content_missing", field=params.conversation_field, check="conversation"
                )
            failed = self.conversation_verdict(params, evidence[params.conversation_field])
            if failed is not None:
                return failed
        return accept(
            "evidence_content_ok",
            checks=len(params.checks),
            conversation=params.conversation_field if params.conversation_enabled else None,
        )

    @staticmethod
    def check_verdict(check: ContentCheck, value: Any) -> Verdict | None:
        """The reject `value` earns against `check`, or None when it passes."""
        facts: dict[str, Any] = {"field": check.field, "check": check.check, "expected": check.expected}
        wants_text = check.check in ("min_length", "max_length", "pattern")
        if (wants_text and not isinstance(value, str)) or (
            check.check in ("min_items", "max_items") and not isinstance(value, list)
        ):
            return reject(
                "evidence_wrong_type",
                **{**facts, "expected": "text" if wants_text else "a list"},
                got=excerpt(value),
            )
        if check.check in LENGTH_CHECKS:
            size = len(value)
            minimum = check.check.startswith("min")
            if size >= check.argument if minimum else size <= check.argument:
                return None
            return reject("evidence_too_short" if minimum else "evidence_too_long", **facts, got=size)
        if check.check in NUMBER_CHECKS:
            number = _number(value)
            if number is None:
                return reject("evidence_wrong_type", **{**facts, "expected": "a number"}, got=excerpt(value))
            if number >= check.argument if check.check == "min" else number <= check.argument:
                return None
            return reject("evidence_out_of_range", **facts, got=str(number))
        if check.check == "pattern":
            if check.argument.search(value[:PATTERN_PREFIX_CHARS]) is not None:
                return None
            return reject("evidence_pattern_mismatch", **facts, got=excerpt(value))
        # one_of: a text, or a number as its digits
        text = value if isinstance(value, str) else str(value) if _number(value) is not None else None
        if text is not None and text in check.argument:
            return None
        return reject("evidence_value_not_allowed", **facts, got=excerpt(value))

    @staticmethod
    def conversation_verdict(params: EvidenceContentParams, value: Any) -> Verdict | None:
        """The reject the conversation earns, or None when a substantive question got a substantive
        reply from the reply role after it, among enough substantive messages."""
        field = params.conversation_field
        if not isinstance(value, list) or not value:
            return reject(
                "conversation_malformed", field=field, problem="not a list of messages", got=excerpt(value)
            )
        messages: list[Message] = []
        for position, item in enumerate(value[:MESSAGES_MAX]):
            role = item.get(params.role_key) if isinstance(item, dict) else None
            at = parse_instant(item.get(params.time_key)) if isinstance(item, dict) else None
            if not isinstance(role, str) or at is None:
                problem = (
                    f"message {position} needs {params.role_key!r} and {params.time_key!r} (an RFC 3339 time)"
                )
                return reject("conversation_malformed", field=field, problem=problem)
            text = item.get(params.text_key)
            is_substantive = isinstance(text, str) and len(text.strip()) >= params.min_message_chars
            messages.append(Message(role, at, is_substantive))
        messages.sort(key=lambda m: m.at)
        substantive = [m for m in messages if m.substantive]
        counts = {"field": field, "messages": len(messages), "substantive": len(substantive)}
        if len(substantive) < params.min_substantive_messages:
            return reject(
                "conversation_too_short", **counts, min_substantive_messages=params.min_substantive_messages
            )
        question = next((m for m in substantive if m.role == params.question_role), None)
        if question is None or not any(
            m.role == params.reply_role and m.at > question.at for m in substantive
        ):
            return reject(
                "conversation_unanswered",
                **counts,
                question_role=params.question_role,
                reply_role=params.reply_role,
                question_at=iso(question.at) if question else None,
            )
        return None

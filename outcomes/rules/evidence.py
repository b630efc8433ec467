"""Rule 6: the evidence fields the outcome type requires are present and well-formed."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import Field

from contracts.policy import RuleParams
from outcomes.rules.base import OutcomeFacts, Reason, Rule, Verdict, accept, reject
from outcomes.rules.time_to_outcome import parse_instant

EvidenceKind = Literal["string", "integer", "number", "boolean", "datetime", "sha256", "url"]


class EvidenceParams(RuleParams):
    """Rule 6: evidence fields that must be present and well-formed, by kind."""

    title = "Evidence"
    required_fields: Annotated[
        dict[str, EvidenceKind],
        Field(
            max_length=50,
            description="Evidence fields an outcome must carry, one per line as name: kind (kinds: string,"
            " integer, number, boolean, datetime, sha256, url), e.g. ticket_status: string.",
        ),
    ] = Field(default_factory=dict)

    def describe(self) -> str | None:
        if not self.required_fields:
            return None
        fields = ", ".join(f"{name} ({kind})" for name, kind in self.required_fields.items())
        return f"Evidence required: {fields}."


SHA256 = re.compile(r"^[0-9a-f]{64}$")

CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str) and v.strip() != "",
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "datetime": lambda v: parse_instant(v) is not None,
    "sha256": lambda v: isinstance(v, str) and SHA256.match(v) is not None,
    "url": lambda v: (
        isinstance(v, str) and urlparse(v).scheme in ("http", "https") and bool(urlparse(v).netloc)
    ),
}


class Evidence(Rule[EvidenceParams]):
    name = "evidence"
    params_model = EvidenceParams
    policy_key = "evidence"
    reasons = (
        Reason("evidence_missing", "Evidence fields the outcome type requires are missing."),
        Reason("evidence_malformed", "Evidence fields the outcome type requires are not well-formed."),
        Reason("evidence_complete", "Every required evidence field is present and well-formed."),
    )

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict | None:
        required = self.params(facts).required_fields
        if not required:
            return None
        evidence = facts.evidence
        missing = sorted(name for name in required if name not in evidence)
        if missing:
            return reject("evidence_missing", missing=missing)
        malformed = sorted(name for name, kind in required.items() if not CHECKS[kind](evidence[name]))
        if malformed:
            return reject("evidence_malformed", malformed={name: required[name] for name in malformed})
        return accept("evidence_complete", fields=sorted(required))

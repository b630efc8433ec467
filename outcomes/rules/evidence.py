"""Rule 6: the evidence fields the outcome type requires are present and well-formed."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from outcomes.rules.base import OutcomeFacts, Reason, Rule, Verdict, accept, reject
from outcomes.rules.time_to_outcome import parse_instant

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


class Evidence(Rule):
    name = "evidence"
    reasons = (
        Reason("evidence_missing", "Evidence fields the outcome type requires are missing."),
        Reason("evidence_malformed", "Evidence fields the outcome type requires are not well-formed."),
        Reason("evidence_complete", "Every required evidence field is present and well-formed."),
    )

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict | None:
        required = facts.policy.evidence.required_fields
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

"""Per-route fault rules (500, 429, timeout, drop_after_commit, 500_stored) set at run time over HTTP; a TCP fault proxy
(toxiproxy) is a separate binary that sees byte streams, not Stripe requests, endpoints and idempotency keys.
"""

from __future__ import annotations

import random
import re
import secrets
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

ACTIONS = ("500", "429", "timeout", "drop_after_commit", "500_stored")


@dataclass
class FaultRule:
    """Matches `method` (regex, full match, any case) and `path` (regex, searched in the URL path).

    action:
      "500"               answer an api_error with `status` (500 by default; 502/503/504 allowed) before
                          running the endpoint; nothing is stored under the idempotency key.
      "429"               answer a rate-limit error with Retry-After before running the endpoint. Stripe's SDKs
                          retry a 429 only when the response says Stripe-Should-Retry: true, which is sent
                          unless should_retry is false (then the SDK raises stripe.RateLimitError).
      "timeout"           hold the request for `seconds` (longer than the client's timeout), then close the
                          connection without an answer. With commit=true the request first takes its
                          idempotency key, and after the wait the endpoint runs and its response is stored:
                          a retry meanwhile gets Stripe's 409 "in progress" error, later ones the replay.
      "drop_after_commit" run the endpoint (the response is stored under the idempotency key), then close the
                          connection without an answer: the client cannot tell it happened.
      "500_stored"        the endpoint "started" and failed with an api_error `status` (500 by default), stored
                          under the idempotency key and replayed to every retry (Idempotent-Replayed: true), as
                          Stripe stores its 500s. commit=true runs the endpoint first and keeps its effects;
                          commit=false changes nothing.
    count: how many times the rule fires (None: unlimited); skip: let this many matching requests through first;
    probability: chance of firing per eligible request.
    """

    action: str
    method: str | None = None
    path: str | None = None
    count: int | None = 1
    skip: int = 0
    probability: float = 1.0
    status: int = 500
    seconds: float = 3.0
    commit: bool = False
    retry_after: int = 1
    should_retry: bool | None = None
    id: str = field(default_factory=lambda: "fault_" + secrets.token_hex(4))
    seen: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        self.action = str(self.action)
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
        if self.action in ("500", "500_stored") and not 500 <= int(self.status) <= 599:
            raise ValueError("status must be a 5xx code")
        if self.count is not None and self.count < 0:
            raise ValueError("count must be >= 0")
        if not 0.0 <= float(self.probability) <= 1.0:
            raise ValueError("probability must be within [0, 1]")
        for pattern in (self.method, self.path):
            if pattern is not None:
                re.compile(pattern)

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and not re.fullmatch(self.method, method, re.IGNORECASE):
            return False
        return self.path is None or re.search(self.path, path) is not None

    def describe(self) -> dict[str, Any]:
        data = asdict(self)
        data["remaining"] = None if self.count is None else max(self.count - self.fired, 0)
        return data


class FaultSet:
    """The active rules, in order; the first eligible rule fires. Thread-safe."""

    FIELDS = frozenset(
        {
            "action",
            "method",
            "path",
            "count",
            "skip",
            "probability",
            "status",
            "seconds",
            "commit",
            "retry_after",
        }
        | {"should_retry"}
    )

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._random = random.Random(seed)  # noqa: S311 - fault sampling, not cryptography

    def add(self, specs: list[dict[str, Any]]) -> list[FaultRule]:
        rules = []
        for spec in specs:
            unknown = set(spec) - self.FIELDS
            if unknown:
                raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
            rules.append(FaultRule(**spec))
        with self._lock:
            self._rules.extend(rules)
        return rules

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.describe() for rule in self._rules]

    def pick(self, method: str, path: str) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path):
                    continue
                rule.seen += 1
                if rule.seen <= rule.skip or (rule.count is not None and rule.fired >= rule.count):
                    continue
                if rule.probability < 1.0 and self._random.random() >= rule.probability:
                    continue
                rule.fired += 1
                return rule
        return None

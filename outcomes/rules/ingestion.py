"""Rules 1-3, enforced at ingestion and recorded here: authenticity, idempotency, natural-key uniqueness."""

from __future__ import annotations

import datetime as dt
from typing import Any

from contracts.policy import RuleParams
from outcomes.rules.base import OutcomeFacts, Reason, Rule, Verdict, accept


class Authenticity(Rule[RuleParams]):
    """Every event came through a source whose Standard Webhooks signature verified (±5 min)."""

    name = "authenticity"
    reasons = (Reason("signature_verified", "Every event came through a source whose signature verified."),)

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict:
        return accept(
            "signature_verified",
            sources=sorted(str(s) for s in {e.source_id for e in facts.events}),
            deliveries=len({e.webhook_id for e in facts.events}),
        )


class Idempotency(Rule[RuleParams]):
    """Each delivery id and each event id counted once (the database refused the resends)."""

    name = "idempotency"
    reasons = (
        Reason("events_counted_once", "Each delivery and each event was counted once; resends were refused."),
    )

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict:
        return accept("events_counted_once", events=sorted(e.event_id for e in facts.events))


class NaturalKeyUniqueness(Rule[RuleParams]):
    """One outcome per (contract, outcome type, natural key): repeated claims merge, never bill twice."""

    name = "natural_key"
    reasons = (
        Reason("unique_natural_key", "One claim for this natural key."),
        Reason(
            "merged_repeated_claims", "Repeated claims for the same natural key were merged into one outcome."
        ),
    )

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict:
        claims = len(facts.claims)
        return accept(
            "merged_repeated_claims" if claims > 1 else "unique_natural_key",
            natural_key=facts.outcome.natural_key,
            claims=claims,
        )

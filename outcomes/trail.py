"""An outcome's trail as its reader may see it: the vendor's whole trail, and the customer's view of it.

The customer's view is one rule, read by the customer API (`GET /api/v1/customer/outcomes/{id}`) and the
customer portal's trail page, so the two never disagree. It keeps what happened to the outcome and why:
the raw events (body and digest), every verdict with its reason, the state changes, each decision's flag,
verdict and deciding party, the dispute and its answer, the audit sample and the customer's own answers.
It drops what is the vendor's own, as a customer's webhook endpoints do (`vendor_only` keys in
outcomes.domain_events):

* the facts that raised a flag (a flag verdict keeps no facts; a later verdict's `flag_facts`) and who
  at the vendor decided a flag or resolved a dispute (`decided_by`, `resolved_by` facts);
* who made a decision (`actor`), the vendor's own notes on it (a `vendor` party's justification: a
  vendor admin's or an operator's is written for the customer and kept) and any evidence but the
  customer's own;
* who at the vendor answered a dispute and the evidence it holds (`resolved_by`, `response_evidence`;
  the answer itself was written for the customer);
* who or what moved the state (a transition's `actor`: the verification pipeline, a source).

Redacted rows are copies, for reading only: the loaded outcome keeps its own rows untouched.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import models

from contracts.models import Customer, Vendor
from outcomes import selectors
from outcomes.models import (
    AuditSample,
    Decision,
    Dispute,
    Outcome,
    OutcomeTransition,
    OutcomeVerdict,
    Party,
    RawEvent,
    ReviewDecision,
)

# Verdict facts that name the vendor's people or hold its flag's evidence (a decided flag keeps the
# flag's facts under `flag_facts`; `decided_by` / `resolved_by` are actors such as `user:<email>`).
VENDOR_ONLY_FACTS = frozenset({"flag_facts", "decided_by", "resolved_by"})

Row = TypeVar("Row", bound=models.Model)


@dataclass(frozen=True)
class Trail:
    """What happened to one outcome, oldest first, as one reader sees it."""

    outcome: Outcome
    raw_events: list[RawEvent]
    verdicts: list[OutcomeVerdict]
    transitions: list[OutcomeTransition]
    review_decisions: list[ReviewDecision]
    dispute: Dispute | None
    audit_sample: AuditSample | None


def _trail_of(outcome: Outcome) -> Trail:
    return Trail(
        outcome=outcome,
        raw_events=list(selectors.outcome_raw_events(outcome=outcome)),
        verdicts=outcome.verdict_trail,
        transitions=list(outcome.transitions.all()),
        review_decisions=sorted(outcome.review_decisions.all(), key=lambda d: (d.at, d.pk)),
        dispute=getattr(outcome, "dispute", None),
        audit_sample=getattr(outcome, "audit_sample", None),
    )


def outcome_trail(*, vendor: Vendor, outcome_id: Any) -> Trail:
    """The vendor's trail of one of its outcomes: all of it."""
    return _trail_of(selectors.outcome_get(vendor=vendor, outcome_id=outcome_id))


def outcome_trail_for_customer(*, customer: Customer, outcome_id: Any) -> Trail:
    """The customer's view of the trail of one of its outcomes (the module's rule); another customer's
    outcome is NotFound."""
    return customer_view(
        _trail_of(selectors.outcome_get_for_customer(customer=customer, outcome_id=outcome_id))
    )


def customer_view(trail: Trail) -> Trail:
    """`trail` less what is the vendor's own (the module's rule)."""
    return Trail(
        outcome=trail.outcome,
        raw_events=trail.raw_events,
        verdicts=[_redacted(v, facts=customer_facts(v)) for v in trail.verdicts],
        transitions=[_redacted(t, actor="") for t in trail.transitions],
        review_decisions=[
            _redacted(
                d,
                actor="",
                justification="" if d.party == Party.VENDOR else d.justification,
                evidence=d.evidence if d.party == Party.CUSTOMER else {},
            )
            for d in trail.review_decisions
        ],
        dispute=None
        if trail.dispute is None
        else _redacted(trail.dispute, resolved_by="", response_evidence={}),
        audit_sample=trail.audit_sample,
    )


def customer_facts(verdict: OutcomeVerdict) -> dict[str, Any]:
    """A verdict's facts as the customer reads them: none for a flag, the rest less VENDOR_ONLY_FACTS."""
    if verdict.decision == Decision.FLAG:
        return {}
    return {key: value for key, value in (verdict.facts or {}).items() if key not in VENDOR_ONLY_FACTS}


def _redacted(row: Row, **changes: Any) -> Row:
    """A copy of `row` with `changes`, for reading only (never saved)."""
    redacted = copy.copy(row)
    for name, value in changes.items():
        setattr(redacted, name, value)
    return redacted

"""In-memory facts for unit tests of a rule's `evaluate`: unsaved models and plain values, no database, so
each test names exactly the facts its verdict depends on."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import Any

from pydantic import BaseModel

from contracts.models import Contract, ContractStatus, ContractVersion, OutcomeType
from outcomes.models import AuditSample, Dispute, EventKind, Outcome, OutcomeState, ReviewDecision
from outcomes.rules.base import EventFact, OutcomeFacts
from outcomes.rules.policy import VerificationPolicy

T0 = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
CONTRACT_ID = uuid.UUID("00000000-0000-0000-0000-00000000c0de")
SOURCE_ID = uuid.UUID("00000000-0000-0000-0000-0000000050c1")

_ids = itertools.count(1)


def policy(**rules: dict[str, Any]) -> BaseModel:
    """The default policy with some rules' parameters overridden, e.g. policy(maturation={"hold_hours": 0})."""
    return VerificationPolicy.model_validate(rules)


def fact(
    kind: str = EventKind.OUTCOME_CLAIMED,
    at: dt.datetime = T0,
    *,
    received_at: dt.datetime | None = None,
    from_customer: bool = False,
    evidence: dict[str, Any] | None = None,
    event_id: str | None = None,
    sender: str | None = None,
    value_minor: int | None = None,
    parent_key: str = "",
) -> EventFact:
    """One event: by default the vendor's agent claiming the outcome at T0, received at once."""
    n = next(_ids)
    return EventFact(
        event_id=event_id or f"evt_{n}",
        kind=kind,
        occurred_at=at,
        received_at=received_at or at,
        source_id=SOURCE_ID,
        from_customer=from_customer,
        evidence=evidence or {},
        webhook_id=f"msg_{n}",
        sender=sender,
        value_minor=value_minor,
        parent_key=parent_key,
    )


def outcome_facts(
    *events: EventFact,
    rules: BaseModel | None = None,
    outcome: dict[str, Any] | None = None,
    contract: dict[str, Any] | None = None,
    in_force: bool = True,
    billing_basis: str = "per_outcome",
    decisions: dict[str, ReviewDecision] | None = None,
    dispute: Dispute | None = None,
    sample: AuditSample | None = None,
) -> OutcomeFacts:
    """An outcome of an active contract (version 1 in force, type ticket.resolved) with `events` (by default
    one claim at T0); `outcome`/`contract` override model fields; `in_force=False`: no version covers it."""
    events = events or (fact(),)
    the_contract = Contract(
        **{
            "id": CONTRACT_ID,
            "reference": "CTR-unit",
            "currency": "USD",
            "timezone": "UTC",
            "starts_at": T0 - 365 * DAY,
            "status": ContractStatus.ACTIVE,
            **(contract or {}),
        }
    )
    version = ContractVersion(contract=the_contract, number=1, effective_from=the_contract.starts_at)
    outcome_type = OutcomeType(version=version, key="ticket.resolved", billing_basis=billing_basis)
    the_outcome = Outcome(
        **{
            "id": next(_ids),
            "contract": the_contract,
            "outcome_type_key": "ticket.resolved",
            "natural_key": "T-1",
            "state": OutcomeState.RECEIVED,
            "occurred_at": min(e.occurred_at for e in events),
            "source_id": SOURCE_ID,
            **(outcome or {}),
        }
    )
    return OutcomeFacts(
        outcome=the_outcome,
        contract=the_contract,
        version=version if in_force else None,
        outcome_type=outcome_type if in_force else None,
        policy=rules or policy(),
        events=list(events),
        sources={},
        decisions=decisions or {},
        dispute=dispute,
        sample=sample,
    )

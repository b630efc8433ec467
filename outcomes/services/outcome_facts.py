"""The facts the verification rules read, gathered for a batch of outcomes in a few queries.

An outcome's contract, the version in force when it occurred and its outcome type's policy, its
events, the human decisions on its flags, its dispute and its audit sample. Its billed facts (when it
occurred, its value, its task) are settled from its events first (outcomes.rules.system_of_record), so
the version in force and every rule follow them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.db.models import Exists, OuterRef
from pydantic import BaseModel

from contracts.models import (
    Contract,
    ContractStatus,
    ContractVersion,
    CustomerCap,
    OutcomeType,
    WebhookSource,
)
from core.cache import TTLCache
from core.db.bulk import any_of
from outcomes.models import AuditSample, Dispute, Outcome, RawEvent, ReviewDecision
from outcomes.rules.base import EventFact, OutcomeFacts
from outcomes.rules.policy import VerificationPolicy
from outcomes.rules.system_of_record import settle


def _version_in_force(
    contract: Contract, versions: Sequence[ContractVersion], at: dt.datetime
) -> ContractVersion | None:
    """The in-memory twin of contracts.selectors.contract_version_in_force, for a batch."""
    if contract.status == ContractStatus.DRAFT or at < contract.starts_at:
        return None
    if contract.ends_at is not None and at >= contract.ends_at:
        return None
    in_force = None
    for version in versions:  # ordered by effective_from
        if version.effective_from <= at:
            in_force = version
    return in_force


# Validated policies by their stored content: a policy is a frozen value, so a copy never goes stale.
_policies: TTLCache[str, BaseModel] = TTLCache(seconds=None, max_entries=4096)


def _policy(stored: dict[str, Any] | None) -> BaseModel:
    """The validated policy of a stored one (the defaults for None), parsed once per distinct content:
    validating a policy costs far more than looking it up."""
    key = json.dumps(stored, sort_keys=True, default=str)
    policy = _policies.get(key)
    if policy is None:
        policy = VerificationPolicy() if stored is None else VerificationPolicy.model_validate(stored)
        _policies.put(key, policy)
    return policy


def event_facts(ids: Sequence[int]) -> tuple[dict[int, list[EventFact]], dict[Any, WebhookSource]]:
    """The outcomes' events (by outcome id) and the sources that sent them."""
    events: dict[int, list[EventFact]] = defaultdict(list)
    rows = RawEvent.objects.filter(outcome_link__outcome_id__in=any_of(ids)).values_list(
        "outcome_link__outcome_id",
        "event_id",
        "kind",
        "occurred_at",
        "received_at",
        "source_id",
        "payload",
        "delivery__webhook_id",
        "delivery__sender",
    )
    raw = list(rows)
    sources = WebhookSource.objects.in_bulk({row[5] for row in raw})
    for outcome_id, event_id, kind, occurred_at, received_at, source_id, payload, webhook_id, sender in raw:
        events[outcome_id].append(
            EventFact(
                event_id=event_id,
                kind=kind,
                occurred_at=occurred_at,
                received_at=received_at,
                source_id=source_id,
                from_customer=sources[source_id].speaks_for_customer(received_at),
                evidence=payload.get("evidence") or {},
                webhook_id=webhook_id,
                sender=sender,
                value_minor=(payload.get("value") or {}).get("amount_minor"),
                parent_key=payload.get("parent_key") or "",
            )
        )
    return events, sources


def gather(outcomes: Sequence[Outcome]) -> list[OutcomeFacts]:
    """The facts of each outcome that has events, in the order given."""
    ids = [o.pk for o in outcomes]
    contract_ids = {o.contract_id for o in outcomes}
    # Whether its customer set caps of its own rides on the contract's row: a batch whose customers set
    # none asks nothing more for them.
    contracts = Contract.objects.annotate(
        has_customer_caps=Exists(CustomerCap.objects.filter(contract_id=OuterRef("pk")))
    ).in_bulk(contract_ids)
    customer_caps = _customer_caps([pk for pk, c in contracts.items() if c.has_customer_caps])
    versions: dict[Any, list[ContractVersion]] = defaultdict(list)
    for version in ContractVersion.objects.filter(contract_id__in=contract_ids).order_by("effective_from"):
        versions[version.contract_id].append(version)
    types: dict[tuple[int, str], OutcomeType] = {
        (t.version_id, t.key): t for t in OutcomeType.objects.filter(version__contract_id__in=contract_ids)
    }
    policies: dict[int, BaseModel] = {}
    events, sources = event_facts(ids)
    decisions: dict[int, dict[str, ReviewDecision]] = defaultdict(dict)
    for decision in ReviewDecision.objects.filter(outcome_id__in=any_of(ids)):
        decisions[decision.outcome_id][decision.flag_reason] = decision
    disputes = {d.outcome_id: d for d in Dispute.objects.filter(outcome_id__in=any_of(ids))}
    samples = {s.pk: s for s in AuditSample.objects.filter(pk__in=any_of(ids))}

    def in_force_at(outcome: Outcome) -> tuple[ContractVersion | None, OutcomeType | None, BaseModel]:
        """The version in force when the outcome occurred, its type there and the type's policy."""
        contract = contracts[outcome.contract_id]
        in_force = _version_in_force(contract, versions[contract.pk], outcome.occurred_at)
        outcome_type = types.get((in_force.pk, outcome.outcome_type_key)) if in_force else None
        if outcome_type is None:
            return in_force, None, _policy(None)
        if outcome_type.pk not in policies:
            policies[outcome_type.pk] = _policy(outcome_type.verification_policy)
        return in_force, outcome_type, policies[outcome_type.pk]

    gathered = []
    for outcome in outcomes:
        if not events[outcome.pk]:
            continue
        in_force, outcome_type, policy = in_force_at(outcome)
        facts = OutcomeFacts(
            outcome=outcome,
            contract=contracts[outcome.contract_id],
            version=in_force,
            outcome_type=outcome_type,
            policy=policy,
            events=events[outcome.pk],
            sources=sources,
            decisions=decisions[outcome.pk],
            dispute=disputes.get(outcome.pk),
            sample=samples.get(outcome.pk),
            customer_cap=customer_caps.get((outcome.contract_id, outcome.outcome_type_key)),
        )
        if _settle_billed_facts(facts) and "occurred_at" in facts.moved:
            # It occurred at another time: the version (price and policy) in force then is the one that counts.
            facts.version, facts.outcome_type, facts.policy = in_force_at(outcome)
        gathered.append(facts)
    return gathered


def _customer_caps(contract_ids: list[Any]) -> dict[tuple[Any, str], CustomerCap]:
    """The customers' own caps (rule 11a) by contract and outcome type: one query, none without any."""
    if not contract_ids:
        return {}
    return {
        (cap.contract_id, cap.outcome_type_key): cap
        for cap in CustomerCap.objects.filter(contract_id__in=contract_ids)
    }


def _settle_billed_facts(facts: OutcomeFacts) -> bool:
    """Set the outcome's billed facts (when it occurred, its value, its task) from its events, in memory,
    as the system-of-record rule settles them (the policy in force at its stored time chooses), and note
    what moved in `facts.moved`. A billed outcome's facts never move. Returns whether anything moved."""
    if facts.is_billed:
        return False
    outcome = facts.outcome
    for name, value in vars(settle(facts)).items():
        before = getattr(outcome, name)
        if value != before:
            facts.moved[name] = (before, value)
            setattr(outcome, name, value)
    return bool(facts.moved)

"""The verification pipeline: evaluate outcomes against their policy's rules and move their lifecycle.

For a batch: lock the outcomes (id order), gather their facts in a few queries, let each rule prepare
set-based statistics, evaluate every rule in registry order, apply human decisions to flags, admit
billable outcomes under their cap (a locked counter row per contract, type and period), then write
only what changed: new verdicts, transitions, and the outcome rows. Re-evaluating with no new
evidence at the same instant writes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.db import transaction
from django.utils import timezone

from contracts.models import Contract, ContractStatus, ContractVersion, OutcomeType, WebhookSource
from contracts.periods import period_at
from contracts.policy import VerificationPolicy
from core.db.bulk import any_of, insert_rows, plain, update_rows
from outcomes import counters
from outcomes.models import (
    AuditSample,
    CapCounter,
    Decision,
    Dispute,
    Outcome,
    OutcomeState,
    OutcomeTransition,
    OutcomeVerdict,
    RawEvent,
    ReviewDecision,
)
from outcomes.rules import RULES
from outcomes.rules.base import EventFact, OutcomeFacts, Verdict, accept, iso, reject

ACTOR = "system:verification"
CAPS = "caps"
CHUNK = 1000

# States an evaluation may not move an outcome out of on its own.
SETTLED = {OutcomeState.BILLED}

# What a batch writes: verdict and transition rows (inserted as plain rows), and the outcome's
# evaluated columns (only for the outcomes whose values changed).
VERDICT_COLUMNS = ("outcome_id", "rule", "decision", "reason", "facts", "hold_until", "at")
TRANSITION_COLUMNS = ("outcome_id", "from_state", "to_state", "at", "actor", "reason", "details")
OUTCOME_UPDATE = (
    "state",
    "hold_until",
    "version_id",
    "confirmed_at",
    "price_percent",
    "billable_at",
    "updated_at",
    "evaluated_at",
)


@dataclass
class EvaluationSummary:
    evaluated: int = 0
    transitions: int = 0
    verdicts: int = 0
    states: dict[str, int] = field(default_factory=lambda: defaultdict(int))


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


_POLICIES: dict[str, VerificationPolicy] = {}
_POLICIES_MAX = 4096


def _policy(stored: dict[str, Any] | None) -> VerificationPolicy:
    """The validated policy of a stored one (the defaults for None), parsed once per distinct content:
    a policy is a frozen value, and validating one costs far more than looking it up."""
    key = json.dumps(stored, sort_keys=True, default=str)
    policy = _POLICIES.get(key)
    if policy is None:
        policy = VerificationPolicy() if stored is None else VerificationPolicy.model_validate(stored)
        if len(_POLICIES) >= _POLICIES_MAX:
            _POLICIES.clear()
        _POLICIES[key] = policy
    return policy


def _gather(outcomes: Sequence[Outcome]) -> list[OutcomeFacts]:
    ids = [o.pk for o in outcomes]
    contract_ids = {o.contract_id for o in outcomes}
    contracts = Contract.objects.in_bulk(contract_ids)
    versions: dict[Any, list[ContractVersion]] = defaultdict(list)
    for version in ContractVersion.objects.filter(contract_id__in=contract_ids).order_by("effective_from"):
        versions[version.contract_id].append(version)
    types: dict[tuple[int, str], OutcomeType] = {
        (t.version_id, t.key): t for t in OutcomeType.objects.filter(version__contract_id__in=contract_ids)
    }
    policies: dict[int, VerificationPolicy] = {}
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
    )
    raw = list(rows)
    sources = WebhookSource.objects.in_bulk({row[5] for row in raw})
    for outcome_id, event_id, kind, occurred_at, received_at, source_id, payload, webhook_id in raw:
        events[outcome_id].append(
            EventFact(
                event_id=event_id,
                kind=kind,
                occurred_at=occurred_at,
                received_at=received_at,
                source_id=source_id,
                from_customer=sources[source_id].kind == WebhookSource.Kind.CUSTOMER_SYSTEM,
                evidence=payload.get("evidence") or {},
                webhook_id=webhook_id,
            )
        )
    decisions: dict[int, dict[str, ReviewDecision]] = defaultdict(dict)
    for decision in ReviewDecision.objects.filter(outcome_id__in=any_of(ids)):
        decisions[decision.outcome_id][decision.flag_reason] = decision
    disputes = {d.outcome_id: d for d in Dispute.objects.filter(outcome_id__in=any_of(ids))}
    samples = {s.pk: s for s in AuditSample.objects.filter(pk__in=any_of(ids))}

    gathered = []
    for outcome in outcomes:
        contract = contracts[outcome.contract_id]
        in_force = _version_in_force(contract, versions[contract.pk], outcome.occurred_at)
        outcome_type = types.get((in_force.pk, outcome.outcome_type_key)) if in_force else None
        if outcome_type is None:
            policy = _policy(None)
        else:
            if outcome_type.pk not in policies:
                policies[outcome_type.pk] = _policy(outcome_type.verification_policy)
            policy = policies[outcome_type.pk]
        gathered.append(
            OutcomeFacts(
                outcome=outcome,
                contract=contract,
                version=in_force,
                outcome_type=outcome_type,
                policy=policy,
                events=events[outcome.pk],
                sources=sources,
                decisions=decisions[outcome.pk],
                dispute=disputes.get(outcome.pk),
                sample=samples.get(outcome.pk),
            )
        )
    return [f for f in gathered if f.events]


def _with_decision(verdict: Verdict, facts: OutcomeFacts) -> Verdict:
    """A human decision replaces the flag it answers, with who decided and why."""
    if verdict.decision != Decision.FLAG:
        return verdict
    decision = facts.decisions.get(verdict.reason)
    if decision is None:
        return verdict
    details = {
        "flag_facts": verdict.facts,
        "decided_by": decision.actor,
        "party": decision.party,
        "justification": decision.justification,
        "decided_at": iso(decision.at),
    }
    if decision.verdict == ReviewDecision.Verdict.ACCEPT:
        return accept(f"{verdict.reason}_cleared", **details)
    return reject(f"{verdict.reason}_rejected_on_review", **details)


def _cap_verdict(facts: OutcomeFacts, admitted: dict[int, int], now: dt.datetime) -> Verdict | None:
    """Rule 11: admit one more billable outcome only while the period's count is under the cap.

    Locks the (contract, type, period) counter row, so concurrent evaluations admit one at a time:
    20 concurrent claims against 5 remaining units make exactly 5 billable.
    """
    outcome_type = facts.outcome_type
    if outcome_type is None or outcome_type.cap_units is None:
        return None
    outcome, contract = facts.outcome, facts.contract
    period = period_at(
        outcome.occurred_at,
        tz_name=contract.timezone,
        anchor_day=contract.anchor_day,
        months=contract.period_count,
        contract_start=contract.starts_at,
        contract_end=contract.ends_at,
    )
    key = {
        "contract_id": contract.pk,
        "outcome_type_key": outcome.outcome_type_key,
        "period_start": period.start,
    }
    CapCounter.objects.bulk_create([CapCounter(**key)], ignore_conflicts=True)
    counter = CapCounter.objects.select_for_update().get(**key)
    used = (
        Outcome.objects.filter(
            contract_id=contract.pk,
            outcome_type_key=outcome.outcome_type_key,
            occurred_at__gte=period.start,
            occurred_at__lt=period.end,
            state__in=[OutcomeState.BILLABLE, OutcomeState.BILLED],
        ).count()
        + admitted[counter.pk]
    )
    details = {"cap_units": outcome_type.cap_units, "period_start": iso(period.start)}
    if used >= outcome_type.cap_units:
        # Held until the period ends (a unit may have been freed by then). Once it has ended, time alone
        # frees nothing: the hold carries no date, never a past one that would come due every minute.
        until = period.end if now < period.end else None
        return Verdict(Decision.HOLD, "cap_exceeded", {"used": used, **details}, hold_until=until)
    admitted[counter.pk] += 1
    return accept("within_cap", position=used + 1, **details)


def _target(facts: OutcomeFacts, verdicts: list[tuple[str, Verdict]]) -> tuple[str, dt.datetime | None, str]:
    """The state the verdicts call for, when to look again, and the deciding reason."""
    by_decision: dict[str, list[tuple[str, Verdict]]] = defaultdict(list)
    for rule, verdict in verdicts:
        by_decision[verdict.decision].append((rule, verdict))
    rejects, holds, flags = (
        by_decision[Decision.REJECT],
        by_decision[Decision.HOLD],
        by_decision[Decision.FLAG],
    )
    next_look = min((v.hold_until for _, v in holds if v.hold_until), default=None)
    dispute_open = [v for rule, v in holds if rule == "disputes"]
    if facts.is_billed:
        clawed = [v for rule, v in rejects if rule in ("reversal", "disputes")]
        if clawed:
            return OutcomeState.REVERSED, None, clawed[0].reason
        if dispute_open:
            return OutcomeState.DISPUTED, dispute_open[0].hold_until, "dispute_open"
        return OutcomeState.BILLED, None, "billed"
    reversal = [v for rule, v in rejects if rule == "reversal"]
    if reversal:
        return OutcomeState.REVERSED, None, reversal[0].reason
    if rejects:
        return OutcomeState.REJECTED, None, rejects[0][1].reason
    if dispute_open:
        return OutcomeState.DISPUTED, dispute_open[0].hold_until, "dispute_open"
    if flags:
        return OutcomeState.FLAGGED, next_look, flags[0][1].reason
    if holds:
        return OutcomeState.MATURING, next_look, holds[0][1].reason
    return OutcomeState.BILLABLE, None, "all_rules_accept"


def _path(current: str, target: str) -> list[str]:
    """Transitions are never skipped: billable is reached only through maturing."""
    if current == target:
        return []
    if target == OutcomeState.BILLABLE and current != OutcomeState.MATURING:
        return [OutcomeState.MATURING, OutcomeState.BILLABLE]
    return [target]


# Instants, dates and dataclasses go to `default` (str), as with json.dumps(default=str).
_FACTS_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_NON_STR_KEYS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
)


def _facts_json(facts: dict[str, Any]) -> str:
    """A verdict's facts as stored: JSON-safe (instants and ids as strings), keys sorted: the same JSON
    value as json.dumps(facts, default=str, sort_keys=True), encoded by orjson (several times faster)."""
    return orjson.dumps(facts, default=str, option=_FACTS_OPTIONS).decode()


_TRANSITION_DETAILS: dict[str, str] = {}


def _transition_details(rule: str) -> str:
    details = _TRANSITION_DETAILS.get(rule)
    if details is None:
        details = _TRANSITION_DETAILS[rule] = json.dumps({"rule": rule})
    return details


def _latest_verdicts(ids: Sequence[int]) -> dict[tuple[int, str], tuple[str, str, Any, Any]]:
    latest: dict[tuple[int, str], tuple[str, str, Any, Any]] = {}
    for outcome_id, rule, decision, reason, facts, hold_until in (
        OutcomeVerdict.objects.filter(outcome_id__in=any_of(ids))
        .order_by("id")
        .values_list("outcome_id", "rule", "decision", "reason", "facts", "hold_until")
    ):
        latest[(outcome_id, rule)] = (decision, reason, facts, hold_until)
    return latest


ParentKey = tuple[Any, str, str]


def _evaluate_chunk(ids: Sequence[int], now: dt.datetime, summary: EvaluationSummary) -> set[ParentKey]:
    """Evaluate one batch in one transaction. Returns the parents (contract, type, parent key) of the
    outcomes that were reversed or stopped being reversed: their siblings' split verdicts may change."""
    parents: set[ParentKey] = set()
    with transaction.atomic():
        # Lock in id order: two workers evaluating overlapping batches wait for each other, never deadlock.
        outcomes = list(Outcome.objects.select_for_update().filter(pk__in=any_of(ids)).order_by("pk"))
        batch = _gather(outcomes)
        prepared = {rule.name: rule.prepare(batch, now) for rule in RULES}
        latest = _latest_verdicts([f.outcome.pk for f in batch])
        admitted: dict[int, int] = defaultdict(int)
        new_verdicts: list[tuple[Any, ...]] = []
        new_transitions: list[tuple[Any, ...]] = []
        changed: list[Outcome] = []
        deltas = counters.Deltas()
        for facts in batch:
            outcome = facts.outcome
            verdicts: list[tuple[str, Verdict]] = []
            for rule in RULES:
                verdict = rule.evaluate(facts, prepared, now)
                if verdict is not None:
                    verdicts.append((rule.name, _with_decision(verdict, facts)))
            target, next_look, reason = _target(facts, verdicts)
            if target == OutcomeState.BILLABLE and outcome.state != OutcomeState.BILLABLE:
                cap = _cap_verdict(facts, admitted, now)
                if cap is not None:
                    verdicts.append((CAPS, cap))
                    if cap.decision == Decision.HOLD:
                        target, next_look, reason = OutcomeState.MATURING, cap.hold_until, cap.reason
            for rule_name, verdict in verdicts:
                facts_json = _facts_json(verdict.facts)
                previous = latest.get((outcome.pk, rule_name))
                # A new row only when the verdict changed: decision, reason, facts (as stored) or hold.
                if previous is not None and previous == (
                    verdict.decision,
                    verdict.reason,
                    orjson.loads(facts_json),
                    verdict.hold_until,
                ):
                    continue
                new_verdicts.append(
                    (
                        outcome.pk,
                        rule_name,
                        plain(verdict.decision),
                        plain(verdict.reason),
                        facts_json,
                        verdict.hold_until,
                        now,
                    )
                )
            deciding = next((name for name, v in verdicts if v.reason == reason), "verification")
            current = outcome.state
            for state in _path(current, target):
                new_transitions.append(
                    (
                        outcome.pk,
                        plain(current),
                        plain(state),
                        now,
                        ACTOR,
                        plain(reason if state == target else "maturation_started"),
                        _transition_details(deciding),
                    )
                )
                current = state
            price_percent = next(
                (v.facts["price_percent"] for name, v in verdicts if v.reason == "billed_unverified"), 100
            )
            updates = {
                "state": target,
                "hold_until": next_look,
                "version_id": facts.version.pk if facts.version else None,
                "confirmed_at": facts.confirmed_at,
                "price_percent": price_percent,
                "billable_at": (
                    now
                    if target == OutcomeState.BILLABLE and outcome.state != OutcomeState.BILLABLE
                    else outcome.billable_at
                ),
            }
            if any(getattr(outcome, name) != value for name, value in updates.items()):
                state_before, confirmed_before = outcome.state, outcome.confirmed_at
                for name, value in updates.items():
                    setattr(outcome, name, value)
                outcome.updated_at = outcome.evaluated_at = now
                changed.append(outcome)
                deltas.changed(outcome, state_before=state_before, confirmed_before=confirmed_before)
                if outcome.parent_key and (state_before == OutcomeState.REVERSED) != (
                    target == OutcomeState.REVERSED
                ):
                    parents.add((outcome.contract_id, outcome.outcome_type_key, outcome.parent_key))
            summary.states[target] += 1
        insert_rows(OutcomeVerdict, VERDICT_COLUMNS, new_verdicts)
        insert_rows(OutcomeTransition, TRANSITION_COLUMNS, new_transitions)
        update_rows(Outcome, changed, OUTCOME_UPDATE)
        # The counters last: a transaction holding them waits for nothing more (see outcomes.counters).
        counters.apply(deltas)
        summary.evaluated += len(batch)
        summary.verdicts += len(new_verdicts)
        summary.transitions += len(new_transitions)
    return parents


def outcomes_evaluate(*, outcome_ids: Iterable[int], now: dt.datetime | None = None) -> EvaluationSummary:
    """Evaluate outcomes (any state but billed outcomes only for reversals and disputes)."""
    now = now or timezone.now()
    summary = EvaluationSummary()
    ids = sorted(set(outcome_ids))
    parents: set[ParentKey] = set()
    for start in range(0, len(ids), CHUNK):
        parents |= _evaluate_chunk(ids[start : start + CHUNK], now, summary)
    if parents:
        # An outcome reversed (or no longer reversed) changes which of its parent's outcomes is kept by
        # split detection: its siblings are evaluated again now, as nothing else would look at them.
        # (Their new states never reverse anything, so this does not go on.)
        siblings = Outcome.objects.none()
        for contract_id, type_key, parent_key in parents:
            siblings |= Outcome.objects.filter(
                contract_id=contract_id, outcome_type_key=type_key, parent_key=parent_key
            )
        reversed_ones = set(siblings.filter(state=OutcomeState.REVERSED).values_list("id", flat=True))
        again = sorted(set(siblings.values_list("id", flat=True)) - reversed_ones)
        for start in range(0, len(again), CHUNK):
            _evaluate_chunk(again[start : start + CHUNK], now, summary)
    return summary


def outcomes_evaluate_due(*, now: dt.datetime | None = None, limit: int = 20_000) -> EvaluationSummary:
    """Re-evaluate what a time-based rule asked to look at again (maturation, windows, deadlines)."""
    now = now or timezone.now()
    ids = list(
        Outcome.objects.filter(hold_until__lte=now)
        .order_by("hold_until", "id")
        .values_list("id", flat=True)[:limit]
    )
    return outcomes_evaluate(outcome_ids=ids, now=now)

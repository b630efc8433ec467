"""The verification pipeline: evaluate outcomes against their policy's rules and move their lifecycle.

For a batch: lock the outcomes (id order), gather their facts in a few queries, let each rule prepare
set-based statistics, evaluate every rule in registry order, apply human decisions to flags, admit
billable outcomes under their cap (a locked counter row per contract, type and period), then write
only what changed: new verdicts (one evaluation record per outcome holding its accepts compactly, a row
for each other verdict: outcomes.verdict_trail), transitions, the outcome rows, and the domain events
announcing the outcomes' new states (outcomes.domain_events), all in the batch's transaction.
Re-evaluating with no new evidence at the same instant writes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
from django.db import transaction
from django.utils import timezone

from core.cache import TTLCache
from core.db.bulk import any_of, insert_rows, plain, reserve_ids, update_rows
from core.events import DomainEvent, events_publish
from outcomes import counters
from outcomes.domain_events import (
    cap_reached,
    customer_cap_amount_threshold_reached,
    customer_cap_threshold_reached,
    outcome_state_changed,
)
from outcomes.models import (
    Decision,
    Outcome,
    OutcomeEvaluation,
    OutcomeState,
    OutcomeTransition,
    OutcomeVerdict,
)
from outcomes.rules import FLAGS, RULE_NAMED, RULES, reason_text
from outcomes.rules.base import OutcomeFacts, Rule, Verdict
from outcomes.rules.customer_caps import CUSTOMER_CAP_EXCEEDED, WITHIN_CUSTOMER_CAP, CustomerCaps
from outcomes.rules.flag_deadlines import FlagDeadlines, flag_raised_since
from outcomes.services.caps import CAP_EXCEEDED, Admitted, CapUsage, cap_usage, cap_verdict
from outcomes.services.outcome_facts import gather
from outcomes.verdict_trail import Recorded, evaluation_record, trail

ACTOR = "system:verification"
CAPS = "caps"
CHUNK = 1000

# States an evaluation may not move an outcome out of on its own.
SETTLED = {OutcomeState.BILLED}

# What a batch writes: evaluation, verdict and transition rows (inserted as plain rows), and the
# outcome's evaluated columns (only for the outcomes whose values changed).
EVALUATION_COLUMNS = ("id", "outcome_id", "at", "replaced", "verdicts")
VERDICT_COLUMNS = ("outcome_id", "evaluation_id", "rule", "decision", "reason", "facts", "hold_until", "at")
TRANSITION_COLUMNS = ("outcome_id", "from_state", "to_state", "at", "actor", "reason", "details")
OUTCOME_UPDATE = (
    "occurred_at",
    "value_minor",
    "parent_key",
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
    verdicts: int = 0  # verdicts that changed (in each evaluation: its accepts and its rows)
    states: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _target(facts: OutcomeFacts, verdicts: list[tuple[str, Verdict]]) -> tuple[str, dt.datetime | None, str]:
    """The state the verdicts call for, when to look again, and the deciding reason."""
    # A verdict holding the reversal (a suspected reversal anomaly, a contested disqualifier, or a person
    # clearing either): the other rules' voiding and clawing-back rejects wait, and no credit is made,
    # until a person decides (or a contest's deadline passes).
    holding = [(rule, v) for rule, v in verdicts if rule in _MAY_HOLD and RULE_NAMED[rule].holds_reversal(v)]
    if holding:
        verdicts = [
            (rule, v)
            for rule, v in verdicts
            if not (
                v.decision == Decision.REJECT and (RULE_NAMED[rule].reverses or RULE_NAMED[rule].claws_back)
            )
        ]
    by_decision: dict[str, list[tuple[str, Verdict]]] = defaultdict(list)
    for rule, verdict in verdicts:
        by_decision[verdict.decision].append((rule, verdict))
    rejects, holds, flags = (
        by_decision[Decision.REJECT],
        by_decision[Decision.HOLD],
        by_decision[Decision.FLAG],
    )
    # When to look again: a hold's end, or an open flag's deadline (outcomes.rules.flag_deadlines, or a
    # contested disqualifier's).
    next_look = min((v.hold_until for _, v in holds + flags if v.hold_until), default=None)
    dispute_open = [v for rule, v in holds if RULE_NAMED[rule].holds_as_dispute]
    if facts.is_billed:
        clawed = [v for rule, v in rejects if RULE_NAMED[rule].claws_back]
        if clawed:
            return OutcomeState.REVERSED, None, clawed[0].reason
        if dispute_open:
            return OutcomeState.DISPUTED, dispute_open[0].hold_until, dispute_open[0].reason
        # A billed outcome whose reversal is held waits in the review queue; it stays billed for money.
        # A verdict holding it may ask to be looked at again (a deadline, the vendor's window).
        held_look = min((v.hold_until for _, v in holding if v.hold_until), default=None)
        held_flags = [v for _, v in holding if v.decision == Decision.FLAG]
        if held_flags:
            return OutcomeState.FLAGGED, held_look, held_flags[0].reason
        return OutcomeState.BILLED, held_look, "billed"
    reversal = [v for rule, v in rejects if RULE_NAMED[rule].reverses]
    if reversal:
        return OutcomeState.REVERSED, None, reversal[0].reason
    if rejects:
        return OutcomeState.REJECTED, None, rejects[0][1].reason
    if dispute_open:
        return OutcomeState.DISPUTED, dispute_open[0].hold_until, dispute_open[0].reason
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


# A transition's details by deciding rule: a handful of strings, serialized once.
_transition_details_of: TTLCache[str, str] = TTLCache(seconds=None, max_entries=1024)


def _transition_details(rule: str) -> str:
    details = _transition_details_of.get(rule)
    if details is None:
        details = json.dumps({"rule": rule})
        _transition_details_of.put(rule, details)
    return details


# The rules whose verdicts may hold a reversal or set the price: the ones that say how (the others'
# answer is always no), asked for every verdict of every outcome.
_MAY_HOLD = frozenset(rule.name for rule in RULES if type(rule).holds_reversal is not Rule.holds_reversal)
_MAY_PRICE = frozenset(rule.name for rule in RULES if type(rule).price_percent is not Rule.price_percent)

VerdictKey = tuple[int, str]  # (outcome id, rule)
StoredVerdict = tuple[str, str, str, Any, Any, dt.datetime]  # rule, decision, reason, facts, hold, at


def _stored_accept(
    evaluation_id: int, at: dt.datetime, rule: str, reason: str, facts: Any, hold_until: dt.datetime | None
) -> StoredVerdict:
    return rule, Decision.ACCEPT, reason, facts, hold_until, at


def _latest_verdicts(
    ids: Sequence[int],
) -> tuple[dict[VerdictKey, tuple[str, str, Any, Any]], dict[VerdictKey, tuple[str, dt.datetime]]]:
    """Each rule's latest stored verdict on each outcome, and the flags standing on them with when each
    was first raised (its deadline counts from then: outcomes.rules.flag_deadlines)."""
    evaluations: dict[int, list[tuple[int, dt.datetime, bytes]]] = defaultdict(list)
    for outcome_id, evaluation_id, at, packed in OutcomeEvaluation.objects.filter(
        outcome_id__in=any_of(ids)
    ).values_list("outcome_id", "id", "at", "verdicts"):
        evaluations[outcome_id].append((evaluation_id, at, packed))
    rows: dict[int, list[tuple[int | None, str, dt.datetime, int, StoredVerdict]]] = defaultdict(list)
    for outcome_id, evaluation_id, row_id, *stored in OutcomeVerdict.objects.filter(
        outcome_id__in=any_of(ids)
    ).values_list(
        "outcome_id", "evaluation_id", "id", "rule", "decision", "reason", "facts", "hold_until", "at"
    ):
        rows[outcome_id].append(
            (evaluation_id, stored[0], stored[-1], row_id, cast(StoredVerdict, tuple(stored)))
        )
    latest: dict[VerdictKey, tuple[str, str, Any, Any]] = {}
    raised: dict[VerdictKey, tuple[str, dt.datetime]] = {}
    for outcome_id in evaluations.keys() | rows.keys():
        for rule, decision, reason, facts, hold_until, at in trail(
            evaluations[outcome_id], rows[outcome_id], _stored_accept, by_instant=False
        ):
            key = (outcome_id, rule)
            latest[key] = (decision, reason, facts, hold_until)
            since = flag_raised_since(raised.get(key), decision, reason, at)
            if since is None:
                raised.pop(key, None)
            else:
                raised[key] = since
    return latest, raised


ParentKey = tuple[Any, str, str]
# The registry's own instance (not a second one), so whatever wraps the rules (bench.verify's timing)
# sees it.
_FLAG_DEADLINES = cast(FlagDeadlines, RULE_NAMED[FlagDeadlines.name])
_CUSTOMER_CAPS = cast(CustomerCaps, RULE_NAMED[CustomerCaps.name])
# The state a cap's verdict that does not admit the outcome puts it in.
_NOT_ADMITTED: dict[str, str] = {
    Decision.HOLD: OutcomeState.MATURING,
    Decision.FLAG: OutcomeState.FLAGGED,
    Decision.REJECT: OutcomeState.REJECTED,
}


def _evaluate_chunk(ids: Sequence[int], now: dt.datetime, summary: EvaluationSummary) -> set[ParentKey]:
    """Evaluate one batch in one transaction. Returns the parents (contract, type, parent key) of the
    outcomes that were reversed or stopped being reversed: their siblings' split verdicts may change."""
    parents: set[ParentKey] = set()
    with transaction.atomic():
        # Lock in id order: two workers evaluating overlapping batches wait for each other, never deadlock.
        outcomes = list(Outcome.objects.select_for_update().filter(pk__in=any_of(ids)).order_by("pk"))
        counted = {outcome.pk: counters.counted(outcome) for outcome in outcomes}  # before gather moves them
        batch = gather(outcomes)
        prepared = {rule.name: rule.prepare(batch, now) for rule in RULES}
        # Each rule decides the whole batch at once (columns in, verdicts out: outcomes.rules.base).
        columns = [(rule.name, rule.evaluate_batch(batch, prepared, now)) for rule in RULES]
        latest, raised = _latest_verdicts([f.outcome.pk for f in batch])
        admitted = Admitted()
        changed_verdicts: list[tuple[int, list[Recorded]]] = []
        new_transitions: list[tuple[Any, ...]] = []
        changed: list[Outcome] = []
        events: list[DomainEvent] = []
        caps_reached: dict[str, DomainEvent] = {}
        deltas = counters.Deltas()
        for index, facts in enumerate(batch):
            outcome = facts.outcome
            rules_said = [(name, column[index]) for name, column in columns]
            verdicts, target, next_look, reason = _verdicts(facts, rules_said, admitted, raised, now)
            recorded = _changed_verdicts(outcome.pk, verdicts, latest)
            if recorded:
                changed_verdicts.append((outcome.pk, recorded))
            deciding = next((name for name, v in verdicts if v.reason == reason), "verification")
            new_transitions += _transitions(outcome, target, reason, deciding, now)
            if "occurred_at" in facts.moved:
                deltas.occurred_moved(outcome, facts.moved["occurred_at"][0])
            before = _update(facts, verdicts, target, next_look, now)
            if before is not None:
                state_before, confirmed_before = before
                changed.append(outcome)
                deltas.changed(outcome, state_before=state_before, confirmed_before=confirmed_before)
                if outcome.parent_key and (state_before == OutcomeState.REVERSED) != (
                    target == OutcomeState.REVERSED
                ):
                    parents.add((outcome.contract_id, outcome.outcome_type_key, outcome.parent_key))
                if state_before != target:
                    event = _state_event(facts, verdicts, state_before, reason, now)
                    if event is not None:
                        events.append(event)
            if reason == CAP_EXCEEDED:
                event = _cap_event(facts, verdicts, now)
                caps_reached.setdefault(event.dedup_key or "", event)
            for event in _customer_cap_alerts(facts, verdicts, now):
                caps_reached.setdefault(event.dedup_key or "", event)
            summary.states[target] += 1
        summary.verdicts += _record_verdicts(changed_verdicts, latest, now)
        insert_rows(OutcomeTransition, TRANSITION_COLUMNS, new_transitions)
        update_rows(Outcome, changed, OUTCOME_UPDATE)
        # In this transaction: the outbox's rows commit, or roll back, with the transitions they announce.
        events_publish([*events, *caps_reached.values()])
        # The counters last: a transaction holding them waits for nothing more (see outcomes.counters).
        deltas.recounted(counted, changed)
        counters.apply(deltas)
        summary.evaluated += len(batch)
        summary.transitions += len(new_transitions)
    return parents


def _state_event(
    facts: OutcomeFacts, verdicts: list[tuple[str, Verdict]], state_before: str, reason: str, now: dt.datetime
) -> DomainEvent | None:
    """The event announcing the outcome's new state (set in memory), from what the evaluation holds."""
    flag_facts = None
    if facts.outcome.state == OutcomeState.FLAGGED:
        raised = next(v for _, v in verdicts if v.reason == reason)
        flag_facts = orjson.loads(_facts_json(raised.facts))  # JSON-safe, as the verdict stores them
    return outcome_state_changed(
        outcome=facts.outcome,
        customer_id=facts.contract.customer_id,
        previous_state=state_before,
        reason=reason,
        reason_text=reason_text(reason),
        now=now,
        flag_facts=flag_facts,
    )


def _cap_event(facts: OutcomeFacts, verdicts: list[tuple[str, Verdict]], now: dt.datetime) -> DomainEvent:
    """`cap.reached` for the period whose cap held this outcome (once per period: its dedup key)."""
    cap = next(v for name, v in verdicts if name == CAPS)
    return cap_reached(
        vendor_id=facts.outcome.vendor_id,
        customer_id=facts.contract.customer_id,
        contract_id=facts.contract.pk,
        outcome_type=facts.outcome.outcome_type_key,
        cap_units=cap.facts["cap_units"],
        period_start=cap.facts["period_start"],
        now=now,
    )


def _verdicts(
    facts: OutcomeFacts,
    rules_said: list[tuple[str, Verdict | None]],
    admitted: Admitted,
    raised: dict[VerdictKey, tuple[str, dt.datetime]],
    now: dt.datetime,
) -> tuple[list[tuple[str, Verdict]], str, dt.datetime | None, str]:
    """Every rule's verdict on one outcome, in registry order (`rules_said`: None where a rule does not
    apply), with human decisions and flag deadlines applied, then the cap if it would become billable;
    with the state they call for, when to look again and the deciding reason."""
    outcome = facts.outcome
    verdicts: list[tuple[str, Verdict]] = [
        # Only a flag is decided by people or time (flag_deadlines returns any other verdict as it is).
        (
            name,
            _flag_decided(name, verdict, facts, raised, now)
            if verdict.decision == Decision.FLAG
            else verdict,
        )
        for name, verdict in rules_said
        if verdict is not None
    ]
    target, next_look, reason = _target(facts, verdicts)
    # The caps admit an outcome as it becomes billable, and again when its time moved (another period).
    if target == OutcomeState.BILLABLE and (
        outcome.state != OutcomeState.BILLABLE or "occurred_at" in facts.moved
    ):
        usage = cap_usage(facts, admitted, price_percent=_verdicts_price_percent(verdicts))
        for name, cap in _cap_verdicts(facts, usage, raised, now):
            verdicts.append((name, cap))
            if cap.decision != Decision.ACCEPT:
                return verdicts, _NOT_ADMITTED[cap.decision], cap.hold_until, cap.reason
        if usage is not None:
            admitted.admit(outcome, usage)
    return verdicts, target, next_look, reason


def _cap_verdicts(
    facts: OutcomeFacts,
    usage: CapUsage | None,
    raised: dict[VerdictKey, tuple[str, dt.datetime]],
    now: dt.datetime,
) -> Iterator[tuple[str, Verdict]]:
    """The contract's cap, then the customer's own, on one more billable outcome of the period; the caller
    stops at the first that does not accept it. A person's decision on the customer's flag comes first:
    it stands whatever either cap says since (a vendor's concession stays a rejection)."""
    decided = CUSTOMER_CAP_EXCEEDED in facts.decisions
    customer: tuple[str, Verdict] | None = None
    if facts.customer_cap is not None or decided:
        verdict = _CUSTOMER_CAPS.verdict(
            facts.customer_cap,
            used=0 if usage is None else usage.used,
            amount=None if usage is None else usage.amount,
            period_start="" if usage is None else usage.period_start,
            decided=decided,
        )
        customer = CustomerCaps.name, _flag_decided(CustomerCaps.name, verdict, facts, raised, now)
    if customer is not None and decided:
        yield customer
    contract_cap = None if usage is None else cap_verdict(facts, usage, now)
    if contract_cap is not None:
        yield CAPS, contract_cap
    if customer is not None and not decided:
        yield customer


def _flag_decided(
    rule_name: str,
    verdict: Verdict,
    facts: OutcomeFacts,
    raised: dict[VerdictKey, tuple[str, dt.datetime]],
    now: dt.datetime,
) -> Verdict:
    """A verdict with people and time applied (outcomes.rules.flag_deadlines): a flag's deadline counts
    from when it was first raised."""
    since = raised.get((facts.outcome.pk, rule_name))
    raised_at = since[1] if since is not None and since[0] == verdict.reason else None
    return _FLAG_DEADLINES.flag_decided(verdict, FLAGS.get(verdict.reason), facts, raised_at, now)


def _customer_cap_alerts(
    facts: OutcomeFacts, verdicts: list[tuple[str, Verdict]], now: dt.datetime
) -> list[DomainEvent]:
    """`customer_cap.threshold_reached` for each of the customer's alert percents of its unit cap, and
    `customer_cap.amount_threshold_reached` of its amount cap, that the outcome just admitted within its
    own cap reached (once per period, measure and percent: the dedup key)."""
    cap = facts.customer_cap
    if cap is None or not cap.alert_percents:
        return []
    admitted = next((v for name, v in verdicts if name == CustomerCaps.name), None)
    if admitted is None or admitted.reason != WITHIN_CUSTOMER_CAP:
        return []
    position, period_start = admitted.facts["position"], admitted.facts["period_start"]
    context: dict[str, Any] = {
        "vendor_id": facts.outcome.vendor_id,
        "customer_id": facts.contract.customer_id,
        "now": now,
    }
    alerts = []
    if cap.max_units is not None:
        alerts += [
            customer_cap_threshold_reached(
                cap=cap, percent=percent, units=position, period_start=period_start, **context
            )
            for percent in cap.alert_percents
            if position >= cap.threshold_units(percent)
        ]
    amount = admitted.facts.get("amount_minor")
    if cap.max_amount_minor is not None and amount is not None:
        alerts += [
            customer_cap_amount_threshold_reached(
                cap=cap,
                percent=percent,
                amount_minor=amount,
                currency=facts.contract.currency,
                period_start=period_start,
                **context,
            )
            for percent in cap.alert_percents
            if amount >= cap.threshold_amount_minor(percent)
        ]
    return alerts


def _changed_verdicts(
    outcome_id: int,
    verdicts: list[tuple[str, Verdict]],
    latest: dict[tuple[int, str], tuple[str, str, Any, Any]],
) -> list[Recorded]:
    """The verdicts to record: only where a rule's verdict changed (decision, reason, facts as stored,
    or hold)."""
    rows: list[Recorded] = []
    for rule_name, verdict in verdicts:
        facts_json = _facts_json(verdict.facts)
        previous = latest.get((outcome_id, rule_name))
        if previous is not None and previous == (
            verdict.decision,
            verdict.reason,
            orjson.loads(facts_json),
            verdict.hold_until,
        ):
            continue
        rows.append(
            (rule_name, plain(verdict.decision), plain(verdict.reason), facts_json, verdict.hold_until)
        )
    return rows


def _record_verdicts(
    changed: list[tuple[int, list[Recorded]]],
    latest: dict[VerdictKey, tuple[str, str, Any, Any]],
    now: dt.datetime,
) -> int:
    """Write each outcome's changed verdicts: one evaluation record (its accepts compactly, and which of
    them replaced a rule's row) and a row for each other verdict (outcomes.verdict_trail). Returns how
    many verdicts changed."""
    evaluations: list[tuple[Any, ...]] = []
    rows: list[tuple[Any, ...]] = []
    # From the rows' sequence, before the rows: ids order evaluations and rows as recorded.
    ids = reserve_ids(OutcomeVerdict, len(changed))
    for evaluation_id, (outcome_id, recorded) in zip(ids, changed, strict=True):
        replaced = [
            rule
            for rule, decision, *_ in recorded
            if decision == Decision.ACCEPT
            and (previous := latest.get((outcome_id, rule))) is not None
            and previous[0] != Decision.ACCEPT
        ]
        evaluations.append((evaluation_id, outcome_id, now, *evaluation_record(recorded, replaced)))
        rows += [
            (outcome_id, evaluation_id, rule, decision, reason, facts_json, hold_until, now)
            for rule, decision, reason, facts_json, hold_until in recorded
            if decision != Decision.ACCEPT
        ]
    insert_rows(OutcomeEvaluation, EVALUATION_COLUMNS, evaluations)
    insert_rows(OutcomeVerdict, VERDICT_COLUMNS, rows)
    return sum(len(recorded) for _, recorded in changed)


def _transitions(
    outcome: Outcome, target: str, reason: str, deciding: str, now: dt.datetime
) -> list[tuple[Any, ...]]:
    """The transition rows from the outcome's state to `target` (through maturing to billable)."""
    rows: list[tuple[Any, ...]] = []
    current = outcome.state
    for state in _path(current, target):
        rows.append(
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
    return rows


def _update(
    facts: OutcomeFacts,
    verdicts: list[tuple[str, Verdict]],
    target: str,
    next_look: dt.datetime | None,
    now: dt.datetime,
) -> tuple[str, dt.datetime | None] | None:
    """Set the outcome's evaluated columns in memory; its state and confirmed_at before, when anything
    changed, else None (and the outcome untouched)."""
    outcome = facts.outcome
    price_percent = _verdicts_price_percent(verdicts)
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
    # Its billed facts were set in memory when gathered (facts.moved): they are written too.
    if not facts.moved and not any(getattr(outcome, name) != value for name, value in updates.items()):
        return None
    before = outcome.state, outcome.confirmed_at
    for name, value in updates.items():
        setattr(outcome, name, value)
    outcome.updated_at = outcome.evaluated_at = now
    return before


def _verdicts_price_percent(verdicts: list[tuple[str, Verdict]]) -> int:
    """The share of the price the outcome bills at: the first verdict's that sets one, else all of it."""
    return next((percent for name, v in verdicts if (percent := _price_percent(name, v)) is not None), 100)


def _price_percent(rule_name: str, verdict: Verdict) -> int | None:
    """The share of the price a verdict sets, if its rule says so (the caps' verdict never does)."""
    return RULE_NAMED[rule_name].price_percent(verdict) if rule_name in _MAY_PRICE else None


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

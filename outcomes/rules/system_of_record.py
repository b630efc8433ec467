"""Rule 4a: the system of record wins where money depends on it. When the vendor's claim and the customer's
system of record disagree about a fact that moves money (when the outcome happened, its value, the task
it belongs to, its outcome type), billing uses the customer's record (or the policy's documented choice),
and a disagreement beyond a tolerance is flagged with both values in the trail.

The billed facts (`settle`) are a function of the outcome's events, whatever order they arrived in, and
are settled before the rules run (outcomes.services.outcome_facts), so the version in force, the period
and the price follow them. A billed outcome's facts never move: a correction is a reversal or a credit.
A billable outcome whose facts move is judged again (its cap too), with a verdict naming the old and new
values. The outcome type is never changed: the customer's record of the same natural key under another
type is a disagreement a person decides.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field

from contracts.models import OutcomeType
from contracts.policy import RuleParams, count_text
from core.currencies import minor_units_help
from outcomes.models import EventKind, Outcome, OutcomeState, Party
from outcomes.rules.base import (
    BILLS_CUSTOMER,
    EventFact,
    FlagReason,
    OutcomeFacts,
    Reason,
    Rule,
    Verdict,
    accept,
    flag,
    iso,
)

FactSource = Literal["system_of_record", "earliest_event"]
# The kinds by which the customer's system of record reports an outcome (OutcomeFacts.confirmations).
RECORDS = frozenset({EventKind.OUTCOME_CLAIMED, EventKind.OUTCOME_CONFIRMED, EventKind.TASK_COMPLETED})


class SystemOfRecordParams(RuleParams):
    """Rule 4a: which side's facts are billed, and how far the two sides may disagree before a person decides."""

    title = "System of record"
    enabled: Annotated[
        bool,
        Field(
            description=(
                "Bill the customer's system of record's facts and flag the vendor's that disagree. Off: "
                "every fact comes from the earliest event reporting it, whoever sent it, and nothing is flagged."
            )
        ),
    ] = True
    occurred_at_from: Annotated[
        FactSource,
        Field(
            description=(
                "When the outcome happened, for its period and price: the customer's system of record when it "
                "reported the outcome, else the vendor's claim; or the earliest event of either side."
            )
        ),
    ] = "system_of_record"
    value_from: Annotated[
        FactSource,
        Field(
            description=(
                "The value a success fee is a percentage of: the customer's system of record when it reported "
                "one, else the vendor's claim; or the earliest event reporting a value."
            )
        ),
    ] = "system_of_record"
    occurred_at_tolerance_hours: Annotated[
        int,
        Field(
            ge=0,
            le=366 * 24,
            description="Hours the vendor's time may differ from the customer's before it is flagged.",
        ),
    ] = 72
    value_tolerance_percent: Annotated[
        int,
        Field(
            ge=0,
            le=100,
            description="Percent of the customer's value the vendor's may differ by before it is flagged.",
        ),
    ] = 1
    value_tolerance_minor: Annotated[
        int,
        Field(
            ge=0,
            le=10**15,
            description=minor_units_help("How far the values may always differ, whatever the percent."),
        ),
    ] = 0

    def describe(self) -> str | None:
        if not self.enabled:
            return None
        sides = {
            "system_of_record": "the customer's system of record's",
            "earliest_event": "the earliest event's",
        }
        if self.occurred_at_from == self.value_from:
            billed = f"{sides[self.occurred_at_from]} time and value are billed"
        else:
            billed = f"{sides[self.occurred_at_from]} time and {sides[self.value_from]} value are billed"
        floor = (
            f" (at least {count_text(self.value_tolerance_minor)} minor units)"
            if self.value_tolerance_minor
            else ""
        )
        return (
            f"{billed[:1].upper()}{billed[1:]}; the vendor's are flagged when they differ by more than "
            f"{self.occurred_at_tolerance_hours} hours or {self.value_tolerance_percent} % of the value{floor}."
        )


# The vendor's claim disagrees with the customer's record about a fact that moves money. The outcome is
# billed on the customer's facts (or the policy's choice): accepting the flag bills the customer, so the
# customer or a neutral operator accepts it, never the vendor alone; the customer, whom it protects from
# a misreported claim, may also reject it, and the vendor may concede (reject) it.
FACTS_DISAGREE = FlagReason(
    "facts_disagree",
    (
        "The vendor's claim and the customer's system of record disagree beyond the tolerance about when "
        "it happened, its value, its task or its outcome type: billed on the customer's facts once decided."
    ),
    suspicion="facts disagreement",
    on_accept=BILLS_CUSTOMER,
    deciders=frozenset({Party.CUSTOMER}),
    silence_against=Party.VENDOR,  # undecided by its deadline: the disputed claim is not billed
    evidence_to_clear=False,
    who_decides=(
        "A facts disagreement flag (facts_disagree) is the customer's: accepting it bills the customer on "
        "its own system's facts, so only the customer or a neutral operator accepts it; the vendor may "
        "only reject it (give the claim up)."
    ),
)
FACTS_AGREE = "facts_agree"
BILLED_FACTS_MOVED = "billed_facts_moved"
BILLED_FACTS_KEPT = "billed_facts_kept"


@dataclass(frozen=True)
class BilledFacts:
    """The facts an outcome is billed on."""

    occurred_at: dt.datetime
    value_minor: int | None
    parent_key: str


def _in_order(events: Sequence[EventFact]) -> list[EventFact]:
    """Events in the order of when they say they happened, ties by event id: never by arrival."""
    return sorted(events, key=lambda e: (e.occurred_at, str(e.event_id)))


def _reports(facts: OutcomeFacts) -> tuple[list[EventFact], list[EventFact]]:
    """What each side reported of the outcome: the vendor's claims, the customer's system of record's
    claims and confirmations (in order)."""
    vendor = [e for e in facts.claims if not e.from_customer]
    return _in_order(vendor), _in_order(facts.confirmations)


def _first_value(events: Sequence[EventFact]) -> int | None:
    return next((e.value_minor for e in events if e.value_minor is not None), None)


def _first_parent(events: Sequence[EventFact]) -> str:
    return next((e.parent_key for e in events if e.parent_key), "")


def _recorded(customer: Sequence[EventFact]) -> tuple[dt.datetime, bool] | None:
    """When the customer's system of record says the outcome happened, and whether exactly: its own claim
    (claimed, task completed) dates the outcome; a confirmation only says it had happened by then (it is
    dated when it confirmed). None when it reported nothing."""
    own = [e for e in customer if e.kind != EventKind.OUTCOME_CONFIRMED]
    if own:
        return own[0].occurred_at, True
    return (customer[0].occurred_at, False) if customer else None


def settle(facts: OutcomeFacts) -> BilledFacts:
    """The facts the outcome is billed on, from its events and its policy, whatever their arrival order.

    The customer's record wins for each fact it reported (unless the policy chooses the earliest event):
    the time its own claim gives; with only its confirmation, the vendor's time unless it is after the
    confirmation (it had happened by then). A fact only the vendor reported is the vendor's; the task
    (parent key) follows the customer's record when it has one. With the rule off, each fact is the
    earliest event's that reports it."""
    params = SystemOfRecord.params(facts)
    everything = _in_order(facts.events)
    vendor, customer = _reports(facts)
    if not params.enabled:
        return BilledFacts(everything[0].occurred_at, _first_value(everything), _first_parent(everything))
    occurred_at = everything[0].occurred_at
    recorded = _recorded(customer)
    if params.occurred_at_from == "system_of_record" and (vendor or recorded):
        if recorded is not None and recorded[1]:
            occurred_at = recorded[0]
        else:
            occurred_at = min(e.occurred_at for e in [*vendor, *customer])
    value = _first_value(customer) if params.value_from == "system_of_record" else None
    if value is None:
        value = _first_value(vendor if params.value_from == "system_of_record" else everything)
    parent_key = _first_parent(customer) or _first_parent(vendor) or _first_parent(everything)
    return BilledFacts(occurred_at, value, parent_key)


def _value_tolerance(params: SystemOfRecordParams, customer_value: int) -> Decimal:
    """How far the vendor's value may be from the customer's, in minor units (exact)."""
    by_percent = Decimal(customer_value) * params.value_tolerance_percent / 100
    return max(Decimal(params.value_tolerance_minor), by_percent)


def _json_number(value: Decimal) -> int | str:
    return int(value) if value == value.to_integral_value() else str(value)


def _plain(value: Any) -> Any:
    """A fact as the trail shows it (instants in ISO 8601)."""
    return iso(value) if isinstance(value, dt.datetime) else value


def compare(facts: OutcomeFacts, other_types: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """Both sides' values of every money fact both reported, and the facts they disagree about beyond
    the tolerance. `other_types`: the outcome types the customer's record gives the same natural key
    when it has no record of this one."""
    params = SystemOfRecord.params(facts)
    vendor, customer = _reports(facts)
    compared: dict[str, Any] = {}
    disagree: list[str] = []
    recorded = _recorded(customer)
    if vendor and recorded is not None:
        recorded_at, exactly = recorded
        # Its own claim dates the outcome: apart either way disagrees. Its confirmation only says it had
        # happened by then: a vendor's time after it disagrees, an earlier one is the confirmation rule's.
        apart = vendor[0].occurred_at - recorded_at
        compared["occurred_at"] = {
            "vendor": iso(vendor[0].occurred_at),
            "system_of_record": iso(recorded_at),
            "system_of_record_says": "happened_at" if exactly else "happened_by",
            "tolerance_hours": params.occurred_at_tolerance_hours,
        }
        if (abs(apart) if exactly else apart) > dt.timedelta(hours=params.occurred_at_tolerance_hours):
            disagree.append("occurred_at")
    vendor_value, customer_value = _first_value(vendor), _first_value(customer)
    if vendor_value is not None and customer_value is not None:
        tolerance_minor = _value_tolerance(params, customer_value)
        compared["value_minor"] = {
            "vendor": vendor_value,
            "system_of_record": customer_value,
            "tolerance_minor": _json_number(tolerance_minor),
        }
        if abs(vendor_value - customer_value) > tolerance_minor:
            disagree.append("value_minor")
    vendor_parent, customer_parent = _first_parent(vendor), _first_parent(customer)
    if vendor_parent and customer_parent:
        compared["parent_key"] = {"vendor": vendor_parent, "system_of_record": customer_parent}
        if vendor_parent != customer_parent:
            disagree.append("parent_key")
    if other_types:
        compared["outcome_type"] = {
            "vendor": facts.outcome.outcome_type_key,
            "system_of_record": sorted(other_types),
        }
        disagree.append("outcome_type")
    return compared, disagree


def _vendor_only(facts: OutcomeFacts) -> bool:
    """Claimed by the vendor with no record of this outcome type from the customer's system."""
    return not facts.confirmations and any(not e.from_customer for e in facts.claims)


class SystemOfRecord(Rule[SystemOfRecordParams]):
    name = "system_of_record"
    params_model = SystemOfRecordParams
    policy_key = "system_of_record"
    reasons = (
        FACTS_DISAGREE,
        Reason(
            FACTS_AGREE, "The vendor's claim and the customer's system of record agree within the tolerance."
        ),
        Reason(
            BILLED_FACTS_MOVED,
            "A later event moved the billable outcome's time, value or task: judged again on the new facts.",
        ),
        Reason(
            BILLED_FACTS_KEPT,
            "Already billed: a later event's facts are kept in the trail, never billed (a correction is a credit).",
        ),
    )

    def prepare(self, batch: Sequence[OutcomeFacts], now: dt.datetime) -> dict[int, list[str]]:
        """For each vendor-only outcome, the other outcome types under which the customer's system of record
        reported the same natural key (one query for the types, one for the outcomes, one for their events)."""
        from outcomes.services.outcome_facts import event_facts  # the facts' own gathering, for the siblings

        wanted = [f for f in batch if self.params(f).enabled and _vendor_only(f)]
        if not wanted:
            return {}
        contracts = {f.outcome.contract_id for f in wanted}
        types = set(
            OutcomeType.objects.filter(version__contract_id__in=contracts).values_list("key", flat=True)
        )
        keys = {(f.outcome.contract_id, f.outcome.natural_key) for f in wanted}
        rows = Outcome.objects.filter(
            contract_id__in=contracts,
            outcome_type_key__in=sorted(types),
            natural_key__in=sorted({key for _, key in keys}),
        ).values_list("id", "contract_id", "outcome_type_key", "natural_key")
        siblings = [row for row in rows if (row[1], row[3]) in keys]
        by_key: dict[tuple[Any, str], list[tuple[int, str]]] = defaultdict(list)
        for outcome_id, contract_id, type_key, natural_key in siblings:
            by_key[(contract_id, natural_key)].append((outcome_id, type_key))
        if all(len(found) < 2 for found in by_key.values()):
            return {}
        events, _ = event_facts([row[0] for row in siblings])
        recorded = {
            outcome_id
            for outcome_id, outcome_events in events.items()
            if any(e.from_customer and e.kind in RECORDS for e in outcome_events)
        }
        return {
            f.outcome.pk: [
                type_key
                for outcome_id, type_key in by_key[(f.outcome.contract_id, f.outcome.natural_key)]
                if outcome_id != f.outcome.pk and outcome_id in recorded
            ]
            for f in wanted
        }

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict | None:
        params = self.params(facts)
        if not params.enabled:
            return None
        other_types = (prepared.get(self.name) or {}).get(facts.outcome.pk, [])
        compared, disagree = compare(facts, other_types)
        outcome = facts.outcome
        billed = {
            "occurred_at": iso(outcome.occurred_at),
            "value_minor": outcome.value_minor,
            "parent_key": outcome.parent_key,
        }
        details: dict[str, Any] = {**compared, "billed": billed, "disagree": disagree}
        if facts.is_billed:
            settled = settle(facts)
            late = {
                name: {"billed": billed[name], "reported": _plain(value)}
                for name, value in vars(settled).items()
                if _plain(value) != billed[name]
            }
            if late:
                return accept(BILLED_FACTS_KEPT, **details, kept=late)
            return accept(FACTS_AGREE, **details) if compared else None
        if disagree:
            return flag(FACTS_DISAGREE.code, **details)
        if facts.moved and outcome.state == OutcomeState.BILLABLE:
            moved = {
                name: {"from": _plain(old), "to": _plain(new)} for name, (old, new) in facts.moved.items()
            }
            return accept(BILLED_FACTS_MOVED, **details, moved=moved)
        return accept(FACTS_AGREE, **details) if compared else None

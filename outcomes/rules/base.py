"""What a verification rule is: a name, its parameters (a section of the policy), and one verdict per outcome.

A rule with parameters declares their model (`params_model`, a contracts.policy.RuleParams subclass
written beside the rule) and the name of its section of the policy (`policy_key`); the policy's model is
built from the registry (outcomes.rules.policy). The rule reads its parameters typed: `self.params(facts)`.

A rule also says what its verdicts mean, so nothing else in outcomes has to know it by name: the
reason codes it emits with their plain-language text (`reasons`; a `FlagReason` for a flag, with who
decides it), and how its verdicts move the lifecycle beyond their decision (`reverses`, `claws_back`,
`holds_as_dispute`, `price_percent`, `holds_reversal`). The registry (outcomes.rules) builds its lookups from them.

A rule may `prepare` set-based statistics for a whole batch (one aggregate query, never a loop over
history per outcome) and then `evaluate` each outcome from its facts and those statistics. It
returns None when it does not apply (disabled by the policy), so nothing is recorded for it. The
pipeline asks for the whole batch's verdicts at once (`evaluate_batch`: the batch in, one verdict or
None per outcome out, in its order); by default that is `evaluate` once per outcome, and a rule
overrides it where deciding the batch at once is cheaper (what every outcome of a contract, type or
day shares computed once), always with exactly the verdicts `evaluate` gives.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar, cast

from django.utils.functional import cached_property
from pydantic import BaseModel

from contracts.models import Contract, ContractVersion, CustomerCap, OutcomeType, WebhookSource
from contracts.policy import RuleParams
from outcomes.models import (
    AuditSample,
    Decision,
    Dispute,
    EventKind,
    Outcome,
    OutcomeState,
    Party,
    ReviewDecision,
)


@dataclass(frozen=True)
class Verdict:
    decision: str
    reason: str
    facts: dict[str, Any] = field(default_factory=dict)
    hold_until: dt.datetime | None = None


def accept(reason: str, **facts: Any) -> Verdict:
    return Verdict(Decision.ACCEPT, reason, facts)


def reject(reason: str, **facts: Any) -> Verdict:
    return Verdict(Decision.REJECT, reason, facts)


def hold(until: dt.datetime, reason: str, **facts: Any) -> Verdict:
    return Verdict(Decision.HOLD, reason, facts, hold_until=until)


def flag(reason: str, **facts: Any) -> Verdict:
    return Verdict(Decision.FLAG, reason, facts)


def iso(instant: dt.datetime | None) -> str | None:
    return None if instant is None else instant.astimezone(dt.UTC).isoformat()


@dataclass(frozen=True)
class Reason:
    """A reason code a rule emits, and what it means in plain language."""

    code: str
    text: str


# What accepting a flag does to the customer's money (FlagReason.on_accept).
BILLS_CUSTOMER = "bills_customer"
CREDITS_CUSTOMER = "credits_customer"


@dataclass(frozen=True)
class FlagReason(Reason):
    """A reason the rule cannot decide alone: a person decides the flag. No one decides alone what pays
    them (outcomes.services.review enforces it on every path):

    `on_accept` says what accepting the flag does to the customer's money: `BILLS_CUSTOMER` (the
    outcome is billed) or `CREDITS_CUSTOMER` (the customer is credited). The party acceptance favours
    never accepts alone; the other party (agreeing against its own interest) or a neutral operator does.
    `deciders` are the parties that may also decide in their own favour by rejecting (the party the
    flag protects); a party the flag suspects is not listed. `suspicion` names the flag in messages ("a
    suppression flag"); `evidence_to_clear` says accepting it needs the vendor's evidence; `who_decides`
    is the sentence the API's description gives it.
    """

    suspicion: str
    deciders: frozenset[str]
    evidence_to_clear: bool
    who_decides: str
    on_accept: str = BILLS_CUSTOMER
    # The party a flag no one decides by its deadline is decided against (outcomes.rules.flag_deadlines):
    # the party it suspects (Party.VENDOR or Party.CUSTOMER), or, for a flag that suspects no one, the
    # party whose silence would otherwise win. None: it waits for a person.
    silence_against: str | None = None

    @property
    def accept_favours(self) -> str:
        """The party that accepting the flag pays (or credits): the vendor or the customer."""
        return Party.CUSTOMER if self.on_accept == CREDITS_CUSTOMER else Party.VENDOR


@dataclass(frozen=True)
class EventFact:
    """One raw event as the rules see it."""

    event_id: str
    kind: str
    occurred_at: dt.datetime
    received_at: dt.datetime
    source_id: Any
    from_customer: bool  # posted by the customer's system of record
    evidence: dict[str, Any]
    webhook_id: str
    sender: str | None = None  # the address its delivery came from (None: not recorded)
    # The money facts the event reports beside its time (outcomes.rules.system_of_record settles them).
    value_minor: int | None = None
    parent_key: str = ""


@dataclass
class OutcomeFacts:
    """Everything the rules may read about one outcome, gathered for a whole batch in a few queries.

    What is derived from the events and decisions is computed once per evaluation (they do not change
    during it); `is_billed` reads the outcome, so it stays a plain property. Django's cached_property,
    not functools': the latter takes a lock on every read in Python 3.11 (~1 % of the pipeline).
    """

    outcome: Outcome
    contract: Contract
    version: ContractVersion | None
    outcome_type: OutcomeType | None
    policy: BaseModel  # outcomes.rules.policy.VerificationPolicy: a rule reads its section by Rule.params
    events: list[EventFact]
    sources: dict[Any, WebhookSource]
    decisions: dict[str, ReviewDecision]
    dispute: Dispute | None
    sample: AuditSample | None
    # The billed facts this evaluation moved (set before the rules run; outcomes.rules.system_of_record):
    # field name -> (stored value, new value).
    moved: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    # The customer's own cap on the outcome's type (rule 11a), if it set one.
    customer_cap: CustomerCap | None = None

    @cached_property
    def claims(self) -> list[EventFact]:
        return [e for e in self.events if e.kind in (EventKind.OUTCOME_CLAIMED, EventKind.TASK_COMPLETED)]

    @cached_property
    def confirmations(self) -> list[EventFact]:
        """The system of record saying it happened: its confirmations, or its own claims."""
        return [
            e
            for e in self.events
            if e.from_customer
            and e.kind in (EventKind.OUTCOME_CONFIRMED, EventKind.OUTCOME_CLAIMED, EventKind.TASK_COMPLETED)
        ]

    @cached_property
    def reversals(self) -> list[EventFact]:
        return [e for e in self.events if e.kind == EventKind.OUTCOME_REVERSED]

    @cached_property
    def disputes(self) -> list[EventFact]:
        return [e for e in self.events if e.kind == EventKind.OUTCOME_DISPUTED and e.from_customer]

    @cached_property
    def claimed_at(self) -> dt.datetime:
        claims = self.claims or self.confirmations or self.events
        return min(e.occurred_at for e in claims)

    @cached_property
    def confirmed_at(self) -> dt.datetime | None:
        """When the customer first said it happened: its system of record, or the customer accepting a flag."""
        instants = [e.occurred_at for e in self.confirmations]
        instants += [
            d.at
            for d in self.decisions.values()
            if d.party == Party.CUSTOMER and d.verdict == ReviewDecision.Verdict.ACCEPT
        ]
        return min(instants, default=None)

    @cached_property
    def received_at(self) -> dt.datetime:
        return min(e.received_at for e in self.events)

    @cached_property
    def evidence(self) -> dict[str, Any]:
        """All events' evidence merged, earliest first (a later event cannot overwrite a field)."""
        merged: dict[str, Any] = {}
        for event in sorted(self.events, key=lambda e: (e.occurred_at, e.event_id)):
            for key, value in event.evidence.items():
                merged.setdefault(key, value)
        return merged

    @property
    def is_billed(self) -> bool:
        return self.outcome.billed_at is not None or self.outcome.state == OutcomeState.BILLED


P = TypeVar("P", bound=RuleParams)


class Rule(Generic[P]):
    """Base class: subclasses set `name` and `reasons` (and `params_model` and `policy_key` when they have
    parameters, P being their model) and implement `evaluate` (and `prepare` when set-based, and
    `evaluate_batch` when deciding the batch at once is cheaper)."""

    name: ClassVar[str]
    # Its parameters' model and the policy's section holding them; none for a rule without parameters.
    params_model: ClassVar[type[RuleParams] | None] = None
    policy_key: ClassVar[str] = ""
    # Every reason code its verdicts may carry (tests/outcomes/rules/test_reasons.py reads the code for them).
    reasons: ClassVar[tuple[Reason, ...]] = ()
    # How its verdicts move the lifecycle beyond their decision (outcomes.services.verification):
    reverses: ClassVar[bool] = False  # its reject voids the outcome (reversed), billed or not
    claws_back: ClassVar[bool] = False  # its reject reverses a billed outcome (a credit)
    holds_as_dispute: ClassVar[bool] = False  # its hold is a dispute: the outcome is disputed, not maturing

    @classmethod
    def params_in(cls, policy: BaseModel) -> P:
        """The rule's parameters in a verification policy."""
        return cast(P, getattr(policy, cls.policy_key))

    @classmethod
    def params(cls, facts: OutcomeFacts) -> P:
        """The rule's parameters in the policy of the outcome's type (`params_in`, inlined: every rule
        asks for every outcome)."""
        return getattr(facts.policy, cls.policy_key)  # type: ignore[no-any-return]

    def price_percent(self, verdict: Verdict) -> int | None:
        """The share of the price the outcome bills at when this verdict sets it, else None (in full)."""
        return None

    def holds_reversal(self, verdict: Verdict) -> bool:
        """Whether this verdict holds the outcome's reversal: while it stands, another rule's reject voids
        nothing and claws nothing back (the outcome stays as it was, flagged for a person)."""
        return False

    def prepare(self, batch: Sequence[OutcomeFacts], now: dt.datetime) -> Any:
        return None

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict | None:
        raise NotImplementedError

    def evaluate_batch(
        self, batch: Sequence[OutcomeFacts], prepared: dict[str, Any], now: dt.datetime
    ) -> list[Verdict | None]:
        """Each outcome's verdict, in the batch's order: the same as `evaluate` on each, which is what
        this does unless the rule decides the batch at once more cheaply."""
        return [self.evaluate(facts, prepared, now) for facts in batch]

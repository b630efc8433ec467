"""The domain events outcomes publishes (core.events): its catalogue, and one builder per kind of event.

Who receives what: the vendor's endpoints every type; a customer's endpoints the types about its own
contracts, without the vendor's internals (`vendor_only` keys: who at the vendor acted, review notes and
evidence, the facts that raised a flag). Each type's choice is said beside it. The builders make
the type-specific `data` from values the caller already holds: the verification pipeline calls
`outcome_state_changed` for every outcome whose state it changes (the hot path), so it reads nothing.

The rules publish from here (a dispute opened, a sample drawn), so this module imports no rule: the
caller passes a reason's wording (outcomes.rules.reason_text).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from contracts.models import CustomerCap
from core.currencies import minor_units_help
from core.events import CUSTOMER, VENDOR, DomainEvent, EventType
from outcomes.models import AuditSample, Dispute, DisqualifierContest, Outcome, OutcomeState

BOTH = frozenset({VENDOR, CUSTOMER})
VENDOR_ONLY = frozenset({VENDOR})

# The state an evaluation moves an outcome into, and the event it publishes; a reversal of an outcome
# already billed is `outcome.clawed_back` instead (the customer is owed a credit, not just no bill).
OUTCOME_EVENT_OF_STATE = {
    OutcomeState.BILLABLE: "outcome.billable",
    OutcomeState.REJECTED: "outcome.rejected",
    OutcomeState.FLAGGED: "outcome.flagged",
    OutcomeState.REVERSED: "outcome.reversed",
}
OUTCOME_CLAWED_BACK = "outcome.clawed_back"

# --- schemas -----------------------------------------------------------------------------------

_TEXT: dict[str, Any] = {"type": "string"}
_INSTANT: dict[str, Any] = {"type": "string", "format": "date-time"}
_STATE: dict[str, Any] = {"type": "string", "enum": list(OutcomeState.values)}
_OUTCOME_ID: dict[str, Any] = {"type": "integer", "description": "The outcome's id."}


def _schema(properties: dict[str, dict[str, Any]], *, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """An object of exactly these keys, all required but `optional` (the vendor-only ones, absent from
    what a customer's endpoint receives)."""
    return {
        "type": "object",
        "properties": properties,
        "required": [key for key in properties if key not in optional],
        "additionalProperties": False,
    }


_OUTCOME_PROPERTIES: dict[str, dict[str, Any]] = {
    "outcome_type": {**_TEXT, "description": "The contract's outcome type key."},
    "natural_key": {**_TEXT, "description": "The outcome's key in the customer's system."},
    "state": {**_STATE, "description": "Its state now."},
    "previous_state": {**_STATE, "description": "Its state before this change."},
    "reason": {**_TEXT, "description": "The reason code that decided the change."},
    "reason_text": {**_TEXT, "description": "What the reason code means, in plain words (may be empty)."},
    "occurred_at": {**_INSTANT, "description": "When the outcome happened (its first event)."},
}
_FLAG_FACTS = {
    "flag_facts": {"type": "object", "description": "The facts that raised the flag (vendor only)."}
}
_BILLED_AT = {"billed_at": {**_INSTANT, "description": "When an invoice first billed it."}}

_OUTCOME_EXAMPLE: dict[str, Any] = {
    "outcome_type": "ticket.resolved",
    "natural_key": "T-1042",
    "state": "billable",
    "previous_state": "received",
    "reason": "all_rules_accept",
    "reason_text": "",
    "occurred_at": "2026-06-01T12:00:00+00:00",
}
_DISPUTE_OUTCOME_PROPERTIES = {
    "outcome_id": _OUTCOME_ID,
    "outcome_type": _OUTCOME_PROPERTIES["outcome_type"],
    "natural_key": _OUTCOME_PROPERTIES["natural_key"],
}
_RESOLVED_STATUSES = [s for s in Dispute.Status.values if s != Dispute.Status.OPEN]
_SAMPLE_PROPERTIES = {
    **_DISPUTE_OUTCOME_PROPERTIES,
    "selected_at": {**_INSTANT, "description": "When the outcome was sampled."},
    "deadline": {**_INSTANT, "description": "When an unanswered sample counts as an error."},
}
_SAMPLE_EXAMPLE = {
    "outcome_id": 981,
    "outcome_type": "ticket.resolved",
    "natural_key": "T-1042",
    "selected_at": "2026-06-02T12:00:00+00:00",
    "deadline": "2026-06-16T12:00:00+00:00",
}
_DISPUTE_DEADLINE_PROPERTIES = {
    **_DISPUTE_OUTCOME_PROPERTIES,
    "opened_at": {**_INSTANT, "description": "When the customer disputed the outcome."},
    "deadline": {**_INSTANT, "description": "When an unanswered dispute resolves as the policy says."},
}
_CONTEST_PROPERTIES = {
    **_DISPUTE_OUTCOME_PROPERTIES,
    "disqualifier": {**_TEXT, "description": "The customer's disqualifier (its reversal's reason)."},
    "opened_at": {**_INSTANT, "description": "When both sides' evidence were in."},
    "deadline": {**_INSTANT, "description": "When an unanswered contest resolves as the policy says."},
}
_CONTEST_EXAMPLE: dict[str, Any] = {
    "outcome_id": 981,
    "outcome_type": "meeting.held",
    "natural_key": "M-1042",
    "disqualifier": "no_show",
    "opened_at": "2026-06-01T14:00:00+00:00",
    "deadline": "2026-06-08T14:00:00+00:00",
}

EVENT_TYPES: tuple[EventType, ...] = (
    # The outcome events carry the state, the reason code and its wording: what the customer's own
    # outcome API shows. They go to the customer too (its bill changes), nothing of the vendor in them.
    EventType(
        name="outcome.billable",
        summary="An outcome passed verification: it will be on the next invoice.",
        object="outcome",
        audiences=BOTH,
        data_schema=_schema(_OUTCOME_PROPERTIES),
        example=_OUTCOME_EXAMPLE,
    ),
    EventType(
        name="outcome.rejected",
        summary="An outcome failed verification (or a review rejected it): it will not be billed.",
        object="outcome",
        audiences=BOTH,
        data_schema=_schema(_OUTCOME_PROPERTIES),
        example={
            **_OUTCOME_EXAMPLE,
            "state": "rejected",
            "previous_state": "maturing",
            "reason": "unconfirmed",
            "reason_text": "The customer's system of record did not confirm it within the match window.",
        },
    ),
    # A flag goes to the customer with its reason code (the customer may be the one to decide it), not
    # with the statistics that raised it: those are the vendor's internals.
    EventType(
        name="outcome.flagged",
        summary="An outcome needs a person's decision before it can be billed.",
        object="outcome",
        audiences=BOTH,
        data_schema=_schema({**_OUTCOME_PROPERTIES, **_FLAG_FACTS}, optional=("flag_facts",)),
        example={
            **_OUTCOME_EXAMPLE,
            "state": "flagged",
            "previous_state": "maturing",
            "reason": "velocity_anomaly",
            "reason_text": (
                "Far more outcomes than usual on one day for this contract and type: possible inflation "
                "(the vendor billing too much)."
            ),
            "flag_facts": {"day_count": 412, "threshold": 120},
        },
        vendor_only=frozenset({"flag_facts"}),
    ),
    EventType(
        name="outcome.reversed",
        summary="An outcome not yet billed was reversed: it will not be billed.",
        object="outcome",
        audiences=BOTH,
        data_schema=_schema(_OUTCOME_PROPERTIES),
        example={
            **_OUTCOME_EXAMPLE,
            "state": "reversed",
            "previous_state": "billable",
            "reason": "reversed",
            "reason_text": "A disqualifying reversal before billing: never billed.",
        },
    ),
    EventType(
        name=OUTCOME_CLAWED_BACK,
        summary="An outcome already billed was reversed: it is credited on the next invoice.",
        object="outcome",
        audiences=BOTH,
        data_schema=_schema({**_OUTCOME_PROPERTIES, **_BILLED_AT}),
        example={
            **_OUTCOME_EXAMPLE,
            "state": "reversed",
            "previous_state": "billed",
            "reason": "dispute_upheld",
            "reason_text": "The dispute was upheld: not billed, or credited.",
            "billed_at": "2026-07-01T00:00:00+00:00",
        },
    ),
    # The decision, the deciding party and the flag go to the customer (it is its bill); who at the
    # vendor decided, the notes and the evidence are the vendor's own (the customer reads a vendor
    # admin's justification on the outcome's trail, where the API decides what it shows).
    EventType(
        name="review.decided",
        summary="A person decided an outcome's flag (the outcome is re-evaluated at once).",
        object="outcome",
        audiences=BOTH,
        data_schema=_schema(
            {
                "outcome_type": _OUTCOME_PROPERTIES["outcome_type"],
                "natural_key": _OUTCOME_PROPERTIES["natural_key"],
                "flag_reason": {**_TEXT, "description": "The flag decided."},
                "verdict": {"type": "string", "enum": ["accept", "reject"]},
                "party": {
                    "type": "string",
                    "enum": ["customer", "vendor", "vendor_admin", "operator"],
                    "description": "Who decided.",
                },
                "decided_at": _INSTANT,
                "actor": {**_TEXT, "description": "Who decided, by name (vendor only)."},
                "justification": {**_TEXT, "description": "Their justification (vendor only)."},
                "evidence": {"type": "object", "description": "The evidence given (vendor only)."},
            },
            optional=("actor", "justification", "evidence"),
        ),
        example={
            "outcome_type": "ticket.resolved",
            "natural_key": "T-1042",
            "flag_reason": "velocity_anomaly",
            "verdict": "accept",
            "party": "customer",
            "decided_at": "2026-06-03T09:30:00+00:00",
            "actor": "customer:ops@example.com",
            "justification": "Checked against our helpdesk.",
            "evidence": {},
        },
        vendor_only=frozenset({"actor", "justification", "evidence"}),
    ),
    # The customer opened it, in its own words: nothing of the vendor's.
    EventType(
        name="dispute.opened",
        summary="The customer disputed an outcome: it is held off the invoice until answered.",
        object="dispute",
        audiences=BOTH,
        data_schema=_schema(
            {
                **_DISPUTE_DEADLINE_PROPERTIES,
                "reason": {**_TEXT, "description": "The customer's reason."},
            }
        ),
        example={
            "outcome_id": 981,
            "outcome_type": "ticket.resolved",
            "natural_key": "T-1042",
            "opened_at": "2026-06-05T08:00:00+00:00",
            "deadline": "2026-06-19T08:00:00+00:00",
            "reason": "The ticket was reopened the next day.",
        },
    ),
    # The answer was written for the customer; who at the vendor gave it is the vendor's own.
    EventType(
        name="dispute.resolved",
        summary="A dispute was answered by the vendor or resolved at its deadline.",
        object="dispute",
        audiences=BOTH,
        data_schema=_schema(
            {
                **_DISPUTE_OUTCOME_PROPERTIES,
                "status": {"type": "string", "enum": _RESOLVED_STATUSES},
                "previous_status": {"type": "string", "enum": [Dispute.Status.OPEN.value]},
                "response": {**_TEXT, "description": "The vendor's answer (empty when unanswered)."},
                "resolved_at": _INSTANT,
                "resolved_by": {**_TEXT, "description": "Who answered (vendor only)."},
            },
            optional=("resolved_by",),
        ),
        example={
            "outcome_id": 981,
            "outcome_type": "ticket.resolved",
            "natural_key": "T-1042",
            "status": "accepted",
            "previous_status": "open",
            "response": "Confirmed: the ticket was reopened.",
            "resolved_at": "2026-06-06T10:00:00+00:00",
            "resolved_by": "vendor:ops@example.com",
        },
        vendor_only=frozenset({"resolved_by"}),
    ),
    # A reminder for the party that must act, the vendor; the customer hears of the outcome.
    EventType(
        name="dispute.deadline_approaching",
        summary="An open dispute resolves without the vendor's answer within a day.",
        object="dispute",
        audiences=VENDOR_ONLY,
        data_schema=_schema(_DISPUTE_DEADLINE_PROPERTIES),
        example={
            "outcome_id": 981,
            "outcome_type": "ticket.resolved",
            "natural_key": "T-1042",
            "opened_at": "2026-06-05T08:00:00+00:00",
            "deadline": "2026-06-19T08:00:00+00:00",
        },
    ),
    # The customer must attest: both are told (the vendor sees its samples in its API anyway, and only
    # once drawn, which the vendor could not predict).
    EventType(
        name="audit_sample.requested",
        summary="An outcome was sampled for audit: the customer is asked to attest it before the deadline.",
        object="audit_sample",
        audiences=BOTH,
        data_schema=_schema(_SAMPLE_PROPERTIES),
        example=_SAMPLE_EXAMPLE,
    ),
    EventType(
        name="audit_sample.deadline_approaching",
        summary="A sampled outcome not yet attested counts as an error within a day.",
        object="audit_sample",
        audiences=BOTH,
        data_schema=_schema(_SAMPLE_PROPERTIES),
        example=_SAMPLE_EXAMPLE,
    ),
    # A contested disqualifier: the customer must answer, with the vendor's evidence before it (the
    # evidence is put to the customer on purpose, so it is no internal of the vendor's).
    EventType(
        name="disqualifier_contest.opened",
        summary=(
            "The vendor's evidence contradicts a customer's disqualifier: the outcome is held until the "
            "customer answers, a person decides or the deadline passes."
        ),
        object="disqualifier_contest",
        audiences=BOTH,
        data_schema=_schema(
            {
                **_CONTEST_PROPERTIES,
                "vendor_evidence": {
                    "type": "object",
                    "description": "The vendor's fields that contradict it, each value cut at 200 characters.",
                },
                "unanswered": {
                    "type": "string",
                    "enum": ["keep_billed", "reverse"],
                    "description": "What silence at the deadline means: billed, or the disqualifier stands.",
                },
            }
        ),
        example={
            **_CONTEST_EXAMPLE,
            "vendor_evidence": {"attendance_record": "att-5521"},
            "unanswered": "keep_billed",
        },
    ),
    EventType(
        name="disqualifier_contest.deadline_approaching",
        summary="A contested disqualifier the customer has not answered resolves by the policy within a day.",
        object="disqualifier_contest",
        audiences=BOTH,
        data_schema=_schema(_CONTEST_PROPERTIES),
        example=_CONTEST_EXAMPLE,
    ),
    # The customer's answer, for the vendor and the operator who now decide.
    EventType(
        name="disqualifier_contest.upheld",
        summary="The customer upheld its contested disqualifier with evidence: a neutral operator decides.",
        object="disqualifier_contest",
        audiences=BOTH,
        data_schema=_schema(
            {
                **_CONTEST_PROPERTIES,
                "answer": {**_TEXT, "description": "The customer's answer."},
                "evidence": {"type": "object", "description": "The customer's evidence."},
                "answered_at": _INSTANT,
            }
        ),
        example={
            **_CONTEST_EXAMPLE,
            "answer": "Our front desk logged no visitor.",
            "evidence": {"visitor_log": "2026-06-01"},
            "answered_at": "2026-06-02T09:00:00+00:00",
        },
    ),
    # The customer's cap on its own contract: nothing internal.
    EventType(
        name="cap.reached",
        summary="An outcome type reached its cap for the period: further outcomes wait for the next one.",
        object="contract",
        audiences=BOTH,
        data_schema=_schema(
            {
                "outcome_type": _OUTCOME_PROPERTIES["outcome_type"],
                "cap_units": {"type": "integer", "minimum": 0},
                "period_start": {**_INSTANT, "description": "The start of the capped period."},
            }
        ),
        example={
            "outcome_type": "ticket.resolved",
            "cap_units": 500,
            "period_start": "2026-06-01T00:00:00+00:00",
        },
    ),
    # The customer's own cap (rule 11a): its alert percents, for the customer who set them.
    EventType(
        name="customer_cap.threshold_reached",
        summary="The period's billable outcomes of a type reached one of the customer's own alert percents "
        "of its own cap.",
        object="contract",
        audiences=BOTH,
        data_schema=_schema(
            {
                "outcome_type": _OUTCOME_PROPERTIES["outcome_type"],
                "percent": {"type": "integer", "minimum": 1, "maximum": 100},
                "threshold_units": {"type": "integer", "minimum": 0},
                "units": {"type": "integer", "minimum": 1, "description": "Billable so far this period."},
                "max_units": {"type": "integer", "minimum": 0, "description": "The customer's own cap."},
                "period_start": {**_INSTANT, "description": "The start of the capped period."},
            }
        ),
        example={
            "outcome_type": "ticket.resolved",
            "percent": 80,
            "threshold_units": 320,
            "units": 320,
            "max_units": 400,
            "period_start": "2026-06-01T00:00:00+00:00",
        },
    ),
    EventType(
        name="customer_cap.amount_threshold_reached",
        summary="What the period's billable outcomes of a type bill reached one of the customer's own alert "
        "percents of its own amount cap.",
        object="contract",
        audiences=BOTH,
        data_schema=_schema(
            {
                "outcome_type": _OUTCOME_PROPERTIES["outcome_type"],
                "percent": {"type": "integer", "minimum": 1, "maximum": 100},
                "threshold_minor": {
                    "type": "integer",
                    "description": minor_units_help("`percent` of the cap, rounded up."),
                },
                "amount_minor": {
                    "type": "integer",
                    "description": minor_units_help(
                        "What the period's billable and billed outcomes of the type bill so far, as "
                        "the invoice rates them."
                    ),
                },
                "max_amount_minor": {
                    "type": "integer",
                    "description": minor_units_help("The customer's own cap."),
                },
                "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217 code."},
                "period_start": {**_INSTANT, "description": "The start of the capped period."},
            }
        ),
        example={
            "outcome_type": "ticket.resolved",
            "percent": 80,
            "threshold_minor": 40_000,
            "amount_minor": 40_250,
            "max_amount_minor": 50_000,
            "currency": "USD",
            "period_start": "2026-06-01T00:00:00+00:00",
        },
    ),
)

# --- builders ----------------------------------------------------------------------------------


def iso(instant: dt.datetime | None) -> str | None:
    """An instant as data carries it: ISO 8601 in UTC (as the verdicts' facts write instants)."""
    return None if instant is None else instant.astimezone(dt.UTC).isoformat()


def outcome_state_changed(
    *,
    outcome: Outcome,
    customer_id: Any,
    previous_state: str,
    reason: str,
    reason_text: str,
    now: dt.datetime,
    flag_facts: dict[str, Any] | None = None,
) -> DomainEvent | None:
    """The event of an outcome moved into its current state from `previous_state`, or None for a state
    no event announces (maturing, disputed, billed). `flag_facts` (JSON-safe) is what raised a flag."""
    type_ = OUTCOME_EVENT_OF_STATE.get(OutcomeState(outcome.state))
    if type_ is None:
        return None
    data: dict[str, Any] = {
        "outcome_type": outcome.outcome_type_key,
        "natural_key": outcome.natural_key,
        "state": outcome.state,
        "previous_state": previous_state,
        "reason": reason,
        "reason_text": reason_text,
        "occurred_at": iso(outcome.occurred_at),
    }
    was_billed = outcome.billed_at is not None or previous_state == OutcomeState.BILLED
    if outcome.state == OutcomeState.REVERSED and was_billed:
        type_ = OUTCOME_CLAWED_BACK
        data["billed_at"] = iso(outcome.billed_at or now)
    if outcome.state == OutcomeState.FLAGGED:
        data["flag_facts"] = flag_facts or {}
    return DomainEvent(
        type=type_,
        vendor_id=outcome.vendor_id,
        object_id=str(outcome.pk),
        data=data,
        customer_id=customer_id,
        contract_id=outcome.contract_id,
        occurred_at=now,
    )


def review_decided(
    *,
    outcome: Outcome,
    customer_id: Any,
    flag_reason: str,
    verdict: str,
    party: str,
    actor: str,
    justification: str,
    evidence: dict[str, Any],
    at: dt.datetime,
) -> DomainEvent:
    return DomainEvent(
        type="review.decided",
        vendor_id=outcome.vendor_id,
        object_id=str(outcome.pk),
        data={
            "outcome_type": outcome.outcome_type_key,
            "natural_key": outcome.natural_key,
            "flag_reason": flag_reason,
            "verdict": verdict,
            "party": party,
            "decided_at": iso(at),
            "actor": actor,
            "justification": justification,
            "evidence": evidence,
        },
        customer_id=customer_id,
        contract_id=outcome.contract_id,
        occurred_at=at,
    )


def _dispute_event(
    type_: str, dispute: Dispute, outcome: Outcome, customer_id: Any, dedup_key: str | None, **data: Any
) -> DomainEvent:
    return DomainEvent(
        type=type_,
        vendor_id=outcome.vendor_id,
        object_id=str(dispute.pk),
        data={
            "outcome_id": outcome.pk,
            "outcome_type": outcome.outcome_type_key,
            "natural_key": outcome.natural_key,
            **data,
        },
        customer_id=customer_id,
        contract_id=outcome.contract_id,
        occurred_at=dispute.resolved_at or dispute.opened_at,
        dedup_key=dedup_key,
    )


def dispute_opened(*, dispute: Dispute, outcome: Outcome, customer_id: Any) -> DomainEvent:
    """Once per dispute (its key): the pipeline and the customer's API may both open it, one wins."""
    return _dispute_event(
        "dispute.opened",
        dispute,
        outcome,
        customer_id,
        f"dispute.opened:{dispute.pk}",
        opened_at=iso(dispute.opened_at),
        deadline=iso(dispute.deadline),
        reason=dispute.reason,
    )


def dispute_resolved(*, dispute: Dispute, outcome: Outcome, customer_id: Any) -> DomainEvent:
    """`dispute` as resolved (its status no longer open: the update that closed it happens once)."""
    return _dispute_event(
        "dispute.resolved",
        dispute,
        outcome,
        customer_id,
        None,
        status=dispute.status,
        previous_status=Dispute.Status.OPEN.value,
        response=dispute.response,
        resolved_at=iso(dispute.resolved_at),
        resolved_by=dispute.resolved_by,
    )


def dispute_deadline_approaching(*, dispute: Dispute, outcome: Outcome, customer_id: Any) -> DomainEvent:
    """Once per dispute and deadline."""
    return _dispute_event(
        "dispute.deadline_approaching",
        dispute,
        outcome,
        customer_id,
        f"dispute.deadline_approaching:{dispute.pk}:{iso(dispute.deadline)}",
        opened_at=iso(dispute.opened_at),
        deadline=iso(dispute.deadline),
    )


def _sample_event(
    type_: str, sample: AuditSample, outcome: Outcome, customer_id: Any, dedup_key: str
) -> DomainEvent:
    return DomainEvent(
        type=type_,
        vendor_id=outcome.vendor_id,
        object_id=str(outcome.pk),  # a sample is its outcome's (its primary key)
        data={
            "outcome_id": outcome.pk,
            "outcome_type": outcome.outcome_type_key,
            "natural_key": outcome.natural_key,
            "selected_at": iso(sample.selected_at),
            "deadline": iso(sample.deadline),
        },
        customer_id=customer_id,
        contract_id=outcome.contract_id,
        occurred_at=sample.selected_at,
        dedup_key=dedup_key,
    )


def audit_sample_requested(*, sample: AuditSample, outcome: Outcome, customer_id: Any) -> DomainEvent:
    """Once per sample."""
    return _sample_event(
        "audit_sample.requested", sample, outcome, customer_id, f"audit_sample.requested:{outcome.pk}"
    )


def audit_sample_deadline_approaching(
    *, sample: AuditSample, outcome: Outcome, customer_id: Any
) -> DomainEvent:
    """Once per sample and deadline."""
    return _sample_event(
        "audit_sample.deadline_approaching",
        sample,
        outcome,
        customer_id,
        f"audit_sample.deadline_approaching:{outcome.pk}:{iso(sample.deadline)}",
    )


def cap_reached(
    *,
    vendor_id: Any,
    customer_id: Any,
    contract_id: Any,
    outcome_type: str,
    cap_units: int,
    period_start: str,
    now: dt.datetime,
) -> DomainEvent:
    """Once per (contract, outcome type, period); `period_start` as ISO 8601 (the cap verdict's)."""
    return DomainEvent(
        type="cap.reached",
        vendor_id=vendor_id,
        object_id=str(contract_id),
        data={"outcome_type": outcome_type, "cap_units": cap_units, "period_start": period_start},
        customer_id=customer_id,
        contract_id=contract_id,
        occurred_at=now,
        dedup_key=f"cap.reached:{contract_id}:{outcome_type}:{period_start}",
    )


def _contest_event(
    type_: str,
    contest: DisqualifierContest,
    outcome: Outcome,
    customer_id: Any,
    dedup_key: str | None,
    **data: Any,
) -> DomainEvent:
    return DomainEvent(
        type=type_,
        vendor_id=outcome.vendor_id,
        object_id=str(outcome.pk),  # one contest per outcome: its page is the outcome's
        data={
            "outcome_id": outcome.pk,
            "outcome_type": outcome.outcome_type_key,
            "natural_key": outcome.natural_key,
            "disqualifier": contest.disqualifier,
            "opened_at": iso(contest.opened_at),
            "deadline": iso(contest.deadline),
            **data,
        },
        customer_id=customer_id,
        contract_id=outcome.contract_id,
        occurred_at=contest.answered_at or contest.opened_at,
        dedup_key=dedup_key,
    )


def disqualifier_contest_opened(
    *,
    contest: DisqualifierContest,
    outcome: Outcome,
    customer_id: Any,
    vendor_evidence: dict[str, Any],
    unanswered: str,
) -> DomainEvent:
    """Once per contest (its key)."""
    return _contest_event(
        "disqualifier_contest.opened",
        contest,
        outcome,
        customer_id,
        f"disqualifier_contest.opened:{contest.pk}",
        vendor_evidence=vendor_evidence,
        unanswered=unanswered,
    )


def disqualifier_contest_deadline_approaching(
    *, contest: DisqualifierContest, outcome: Outcome, customer_id: Any
) -> DomainEvent:
    """Once per contest and deadline."""
    return _contest_event(
        "disqualifier_contest.deadline_approaching",
        contest,
        outcome,
        customer_id,
        f"disqualifier_contest.deadline_approaching:{contest.pk}:{iso(contest.deadline)}",
    )


def disqualifier_contest_upheld(
    *, contest: DisqualifierContest, outcome: Outcome, customer_id: Any
) -> DomainEvent:
    """`contest` as the customer upheld it (the update that did it happens once)."""
    return _contest_event(
        "disqualifier_contest.upheld",
        contest,
        outcome,
        customer_id,
        None,
        answer=contest.answer,
        evidence=contest.answer_evidence,
        answered_at=iso(contest.answered_at),
    )


def customer_cap_threshold_reached(
    *,
    cap: CustomerCap,
    vendor_id: Any,
    customer_id: Any,
    percent: int,
    units: int,
    period_start: str,
    now: dt.datetime,
) -> DomainEvent:
    """Once per (contract, outcome type, period, percent); `period_start` as ISO 8601 (the verdict's)."""
    key = f"customer_cap.threshold_reached:{cap.contract_id}:{cap.outcome_type_key}:{period_start}:{percent}"
    return DomainEvent(
        type="customer_cap.threshold_reached",
        vendor_id=vendor_id,
        object_id=str(cap.contract_id),
        data={
            "outcome_type": cap.outcome_type_key,
            "percent": percent,
            "threshold_units": cap.threshold_units(percent),
            "units": units,
            "max_units": cap.max_units,
            "period_start": period_start,
        },
        customer_id=customer_id,
        contract_id=cap.contract_id,
        occurred_at=now,
        dedup_key=key,
    )


def customer_cap_amount_threshold_reached(
    *,
    cap: CustomerCap,
    vendor_id: Any,
    customer_id: Any,
    percent: int,
    amount_minor: int,
    currency: str,
    period_start: str,
    now: dt.datetime,
) -> DomainEvent:
    """Once per (contract, outcome type, period, percent) of the amount cap; `period_start` as ISO 8601."""
    key = f"customer_cap.amount_threshold_reached:{cap.contract_id}:{cap.outcome_type_key}:{period_start}:{percent}"
    return DomainEvent(
        type="customer_cap.amount_threshold_reached",
        vendor_id=vendor_id,
        object_id=str(cap.contract_id),
        data={
            "outcome_type": cap.outcome_type_key,
            "percent": percent,
            "threshold_minor": cap.threshold_amount_minor(percent),
            "amount_minor": amount_minor,
            "max_amount_minor": cap.max_amount_minor,
            "currency": currency,
            "period_start": period_start,
        },
        customer_id=customer_id,
        contract_id=cap.contract_id,
        occurred_at=now,
        dedup_key=key,
    )

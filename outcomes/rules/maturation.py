"""Rules 8 and 9: an outcome matures over a hold window in which no disqualifier may arrive; a
disqualifying reversal voids it before billing, claws it back as a credit until the lock date
after billing, and after the lock date is recorded without moving money.

A disqualifier may have a reporting window (`reporting_windows_hours`): it counts only when Verity
received the report within that many hours of the outcome's `occurred_at`. The receipt time is the one
the reporter cannot backdate (an event's own `occurred_at` is what the sender says). A late one is
recorded (`disqualifier_reported_late`) and moves no money. `disqualifying_reversals` applies the
windows, so the reversal rule, the reversal anomaly rule and anything else reading it agree. A
reversal giving no reason has the strictest window set. The lock date, too, is judged by when the
reversal was received: a reversal backdated to before the lock date but sent after it moves no money.

A per-task outcome type (billing_basis "per_task") bills every completed attempt whatever its result,
so it does not mature: there is no result to wait for. A reversal still voids or claws it back."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from contracts.policy import RuleParams, listing_text
from outcomes.rules.base import EventFact, OutcomeFacts, Reason, Rule, Verdict, accept, hold, iso, reject


class MaturationParams(RuleParams):
    """Rule 8: billable only after a hold window in which no disqualifier arrived."""

    title = "Maturation"
    hold_hours: Annotated[
        int, Field(ge=0, le=366 * 24, description="Hours an outcome is held before it becomes billable.")
    ] = 24
    disqualifiers: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=64)]],
        Field(
            max_length=30,
            description="Reasons of a reversal that void the outcome, separated by commas (at most 30).",
        ),
    ] = Field(
        default_factory=lambda: [
            "reopened",
            "escalated_to_human",
            "human_reply",
            "negative_feedback",
        ]
    )
    reporting_windows_hours: Annotated[
        dict[
            Annotated[str, Field(min_length=1, max_length=64)],
            Annotated[int, Field(ge=1, le=366 * 24)],
        ],
        Field(
            max_length=30,
            description=(
                "Per disqualifier, the hours after the outcome happened within which we must receive its "
                "report, one per line (e.g. no_show: 24); a later report is recorded and moves no money. "
                "A disqualifier not listed has no deadline."
            ),
        ),
    ] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _windows_name_disqualifiers(self) -> MaturationParams:
        unknown = sorted(set(self.reporting_windows_hours) - set(self.disqualifiers))
        if unknown:
            raise PydanticCustomError(
                "reporting_window_not_a_disqualifier",
                "reporting_windows_hours names {unknown}, not among the disqualifiers.",
                {"unknown": ", ".join(unknown)},
            )
        return self

    def describe(self) -> str:
        if not self.hold_hours:
            text = "Billable at once (no maturation hold)"
        else:
            text = f"{self.hold_hours} h maturation before billing"
            if self.disqualifiers:
                text += f"; voided by {listing_text(self.disqualifiers)} meanwhile"
        if self.reporting_windows_hours:
            windows = [
                f"{name} within {hours} h" for name, hours in sorted(self.reporting_windows_hours.items())
            ]
            text += (
                f"; a disqualifier counts only when reported in time ({listing_text(windows)} of the outcome)"
            )
        return text + "."


class ReversalParams(RuleParams):
    """Rule 9: after billing, a reversal is a credit until the lock date; after it, recorded only."""

    title = "Reversal after billing"
    clawback_window_days: Annotated[
        int,
        Field(
            ge=0,
            le=3 * 366,
            description="Days after billing in which a reversal becomes a credit (0 to 1098).",
        ),
    ] = 30

    def describe(self) -> str:
        return f"A reversal within {self.clawback_window_days} days after billing becomes a credit."


def reporting_window(facts: OutcomeFacts, reversal: EventFact) -> tuple[int, dt.datetime] | None:
    """A disqualifying reversal's reporting window in hours and the last instant it may be received and
    still count; None: no deadline (its reason has no window). A reversal giving no reason has the
    strictest window the policy sets: leaving the reason out must not escape every deadline."""
    windows = Maturation.params(facts).reporting_windows_hours
    if "reason" in reversal.evidence:
        hours = windows.get(str(reversal.evidence["reason"]))
    else:
        hours = min(windows.values(), default=None)
    if hours is None:
        return None
    return hours, facts.outcome.occurred_at + dt.timedelta(hours=hours)


def _disqualifiers(facts: OutcomeFacts) -> list[tuple[EventFact, tuple[int, dt.datetime] | None]]:
    """The outcome's reversals for a disqualifier's reason (or none given), on time or not, earliest
    first, each with its reporting window."""
    disqualifiers = set(Maturation.params(facts).disqualifiers)
    return [
        (e, reporting_window(facts, e))
        for e in sorted(facts.reversals, key=lambda e: (e.occurred_at, e.event_id))
        if e.evidence.get("reason") in disqualifiers or "reason" not in e.evidence
    ]


def disqualifying_reversals(facts: OutcomeFacts) -> list[EventFact]:
    """The outcome's reversals that disqualify it (a disqualifier's reason, or none given) and were
    received by their reporting deadline (exactly at it counts), earliest first."""
    return [e for e, window in _disqualifiers(facts) if window is None or e.received_at <= window[1]]


def late_disqualifiers(facts: OutcomeFacts) -> list[tuple[EventFact, int, dt.datetime]]:
    """The outcome's disqualifying reversals received after their reporting deadline, earliest first,
    each with its window in hours and its deadline."""
    return [
        (e, *window)
        for e, window in _disqualifiers(facts)
        if window is not None and e.received_at > window[1]
    ]


class Maturation(Rule[MaturationParams]):
    name = "maturation"
    params_model = MaturationParams
    policy_key = "maturation"
    reasons = (
        Reason("maturing", "Held until the hold window ends, in case a disqualifier arrives."),
        Reason("matured", "The hold window ended with no disqualifier."),
    )

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict | None:
        if facts.is_billed or (
            facts.outcome_type is not None and facts.outcome_type.billing_basis == "per_task"
        ):
            return None
        params = self.params(facts)
        start = max(facts.claimed_at, facts.confirmed_at or facts.claimed_at)
        matures_at = start + dt.timedelta(hours=params.hold_hours)
        if now < matures_at:
            return hold(matures_at, "maturing", hold_hours=params.hold_hours, matures_at=iso(matures_at))
        return accept("matured", hold_hours=params.hold_hours, matured_at=iso(matures_at))


class Reversal(Rule[ReversalParams]):
    name = "reversal"
    params_model = ReversalParams
    policy_key = "reversal"
    reverses = True
    claws_back = True
    reasons = (
        Reason("reversal_not_disqualifying", "Reversed for a reason that does not disqualify it."),
        Reason(
            "disqualifier_reported_late",
            "A disqualifier reported after its reporting window: recorded, no money moves.",
        ),
        Reason("reversed", "A disqualifying reversal before billing: never billed."),
        Reason(
            "clawed_back",
            "A disqualifying reversal after billing, by the lock date: credited on the next invoice.",
        ),
        Reason(
            "reversal_after_lock", "A disqualifying reversal after the lock date: recorded, no money moves."
        ),
    )

    @classmethod
    def lock_date(cls, facts: OutcomeFacts) -> dt.datetime | None:
        """The end of a billed outcome's clawback window; None before billing."""
        billed_at = facts.outcome.billed_at
        if billed_at is None:
            return None
        return billed_at + dt.timedelta(days=cls.params(facts).clawback_window_days)

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict | None:
        reversals = sorted(facts.reversals, key=lambda e: (e.occurred_at, e.event_id))
        if not reversals:
            return None
        disqualifying = disqualifying_reversals(facts)
        late = late_disqualifiers(facts)
        if not disqualifying and late:
            event, hours, deadline = late[0]
            return accept(
                "disqualifier_reported_late",
                event_id=event.event_id,
                disqualifier=event.evidence.get("reason"),
                window_hours=hours,
                occurred_at=iso(facts.outcome.occurred_at),
                deadline=iso(deadline),
                reported_at=iso(event.received_at),
                reversed_at=iso(event.occurred_at),
            )
        if not disqualifying:
            return accept(
                "reversal_not_disqualifying",
                reasons=sorted({str(e.evidence.get("reason")) for e in reversals}),
            )
        first = disqualifying[0]
        details = {
            "event_id": first.event_id,
            "disqualifier": first.evidence.get("reason"),
            "reversed_at": iso(first.occurred_at),
        }
        billed_at, lock_date = facts.outcome.billed_at, self.lock_date(facts)
        if billed_at is None or lock_date is None:
            return reject("reversed", **details)
        if first.received_at <= lock_date:
            return reject("clawed_back", billed_at=iso(billed_at), lock_date=iso(lock_date), **details)
        return accept(
            "reversal_after_lock",
            billed_at=iso(billed_at),
            lock_date=iso(lock_date),
            reported_at=iso(first.received_at),
            **details,
        )


def money_moving_reversal(facts: OutcomeFacts) -> tuple[EventFact, dt.datetime | None] | None:
    """The customer's disqualifying reversal that would move money (void the outcome, or credit it by
    the lock date), with the outcome's lock date once billed; None when no reversal would, or when the
    first disqualifier is the vendor's own (it concedes). The rules that hold a reversal read this one."""
    if not facts.reversals:  # most outcomes: nothing to look up
        return None
    lock_date = Reversal.lock_date(facts)
    disqualifying = disqualifying_reversals(facts)
    if not disqualifying or not disqualifying[0].from_customer:
        return None
    first = disqualifying[0]
    if lock_date is not None and first.received_at > lock_date:
        return None
    return first, lock_date

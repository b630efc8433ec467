"""Rule 11, the cap: a contract's outcome type admits at most `cap_units` billable outcomes per period;
and rule 11a, the customer's own cap at or below it (outcomes.rules.customer_caps).

Applied by the verification pipeline last, to an outcome about to become billable, under a lock: one
locked count of the period's billable and billed outcomes serves both caps.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from contracts.periods import Period, period_at
from outcomes.models import CapCounter, Decision, Outcome, OutcomeState
from outcomes.rules.base import OutcomeFacts, Verdict, accept, iso

CAP_EXCEEDED = "cap_exceeded"


@dataclass(frozen=True)
class CapUsage:
    """The period an outcome would be billed in, its locked counter row, and how many outcomes of its
    contract and type that period already bills (this batch's admissions included)."""

    counter_id: int
    period: Period
    used: int

    @property
    def period_start(self) -> str:
        return iso(self.period.start) or ""


def cap_usage(facts: OutcomeFacts, admitted: dict[int, int]) -> CapUsage | None:
    """The usage of the outcome's period when a cap applies to it (the contract's or the customer's own),
    else None. Locks the (contract, type, period) counter row, so concurrent evaluations admit one at a
    time: 20 concurrent claims against 5 remaining units make exactly 5 billable. The caller adds the
    outcome to `admitted[usage.counter_id]` when the caps admit it."""
    outcome_type = facts.outcome_type
    if (outcome_type is None or outcome_type.cap_units is None) and facts.customer_cap is None:
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
        )
        .exclude(pk=outcome.pk)  # a billable outcome whose time moved is admitted again, not counted twice
        .count()
        + admitted[counter.pk]
    )
    return CapUsage(counter.pk, period, used)


def cap_verdict(facts: OutcomeFacts, usage: CapUsage, now: dt.datetime) -> Verdict | None:
    """Rule 11: admit one more billable outcome only while the period's count is under the contract's cap."""
    outcome_type = facts.outcome_type
    if outcome_type is None or outcome_type.cap_units is None:
        return None
    details = {"cap_units": outcome_type.cap_units, "period_start": usage.period_start}
    if usage.used >= outcome_type.cap_units:
        # Held until the period ends (a unit may have been freed by then). Once it has ended, time alone
        # frees nothing: the hold carries no date, never a past one that would come due every minute.
        until = usage.period.end if now < usage.period.end else None
        return Verdict(Decision.HOLD, CAP_EXCEEDED, {"used": usage.used, **details}, hold_until=until)
    return accept("within_cap", position=usage.used + 1, **details)

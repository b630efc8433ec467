"""Rule 11, the cap: a contract's outcome type admits at most `cap_units` billable outcomes per period;
and rule 11a, the customer's own caps at or below it, in units and in amount (outcomes.rules.customer_caps).

Applied by the verification pipeline last, to an outcome about to become billable, under a lock: one
locked count of the period's billable and billed outcomes serves both caps; when the customer caps the
amount, the same locked outcomes are priced as settlement rates them (outcomes.services.cap_amounts).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from contracts.periods import Period, period_at
from outcomes.models import CapCounter, Decision, Outcome
from outcomes.rules.base import OutcomeFacts, Verdict, accept, iso
from outcomes.rules.customer_caps import AmountUse
from outcomes.services.cap_amounts import COUNTED, PeriodAmount, PricedRow, period_amount_read

CAP_EXCEEDED = "cap_exceeded"


@dataclass
class Admitted:
    """What one batch's caps admitted so far, per counter row (the batch's own writes are not in the
    database yet): how many outcomes, and the priced period of a customer's amount cap, read once."""

    units: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    periods: dict[int, PeriodAmount] = field(default_factory=dict)

    def admit(self, outcome: Outcome, usage: CapUsage) -> None:
        self.units[usage.counter_id] += 1
        if usage.priced is not None:
            self.periods[usage.counter_id].add(outcome.pk, usage.priced)


@dataclass(frozen=True)
class CapUsage:
    """The period an outcome would be billed in, its locked counter row, and how many outcomes of its
    contract and type that period already bills (this batch's admissions included)."""

    counter_id: int
    period: Period
    used: int
    amount: AmountUse | None = None  # when the customer caps the amount
    priced: PricedRow | None = None  # the outcome as its amount was priced

    @property
    def period_start(self) -> str:
        return iso(self.period.start) or ""


def cap_usage(facts: OutcomeFacts, admitted: Admitted, *, price_percent: int) -> CapUsage | None:
    """The usage of the outcome's period when a cap applies to it (the contract's or the customer's own),
    else None. Locks the (contract, type, period) counter row, so concurrent evaluations admit one at a
    time: 20 concurrent claims against 5 remaining units make exactly 5 billable. When the customer caps
    the amount, the period's outcomes are priced under that lock too (read once per batch), and this one
    at `price_percent` of its price, as the latest to bill. The caller calls `admitted.admit` when the
    caps admit it."""
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
            state__in=COUNTED,
        )
        .exclude(pk=outcome.pk)  # a billable outcome whose time moved is admitted again, not counted twice
        .count()
        + admitted.units[counter.pk]
    )
    cap = facts.customer_cap
    if cap is None or cap.max_amount_minor is None or facts.version is None or facts.outcome_type is None:
        return CapUsage(counter.pk, period, used)
    if counter.pk not in admitted.periods:
        admitted.periods[counter.pk] = period_amount_read(
            contract=contract, outcome_type_key=outcome.outcome_type_key, period=period
        )
    priced_period = admitted.periods[counter.pk]
    priced = PricedRow(facts.version.pk, price_percent, outcome.value_minor)
    so_far = priced_period.amount(without=outcome.pk)
    price = priced_period.amount(without=outcome.pk, plus=priced) - so_far
    return CapUsage(counter.pk, period, used, AmountUse(so_far, price), priced)


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

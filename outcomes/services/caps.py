"""Rule 11, the cap: a contract's outcome type admits at most `cap_units` billable outcomes per period;
and rule 11a, the customer's own caps at or below it, in units and in amount (outcomes.rules.customer_caps).

Applied by the verification pipeline last, to an outcome about to become billable, under a lock: one
locked count of the period's billable and billed outcomes serves both caps; when the customer caps the
amount, the same locked outcomes are priced as settlement rates them (contracts.terms.rating).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from contracts.models import Contract, OutcomeType
from contracts.periods import Period, period_at
from contracts.terms.rating import rated_amount_minor
from outcomes.models import CapCounter, Decision, Outcome, OutcomeState
from outcomes.rules.base import OutcomeFacts, Verdict, accept, iso
from outcomes.rules.customer_caps import AmountUse

CAP_EXCEEDED = "cap_exceeded"
# The states whose outcomes a cap counts: billable and billed.
COUNTED = [OutcomeState.BILLABLE, OutcomeState.BILLED]


class PricedRow(NamedTuple):
    """What pricing reads of an outcome counted against the customer's amount cap (as settlement's Billable)."""

    version_id: int
    price_percent: int
    value_minor: int | None


@dataclass
class PeriodAmount:
    """The outcomes of a contract's type in a period that its customer's amount cap counts (billable and
    billed, by id, in billing order), with the type's terms in each version that prices them."""

    rows: dict[int, PricedRow]
    types: dict[int, OutcomeType]  # by version id, with its version
    currency: str

    def amount(self, *, without: int | None = None, plus: PricedRow | None = None) -> Decimal:
        """The exact amount, in minor units, these outcomes bill (less `without`, plus `plus` as the latest)."""
        rows = [row for pk, row in self.rows.items() if pk != without]
        return rated_period_amount([*rows, *([plus] if plus else [])], self.types, self.currency)


def rated_period_amount(rows: Iterable[PricedRow], types: dict[int, OutcomeType], currency: str) -> Decimal:
    """What these outcomes of one type bill, as the invoice's usage lines rate them
    (settlement.invoicing.usage.rated_lines): per version in version order, the free allowance first (the
    first version's, across versions), then each version's pricing (contracts.terms.rating)."""
    groups: dict[int, list[PricedRow]] = defaultdict(list)
    for row in rows:
        groups[row.version_id].append(row)
    total, free_left = Decimal(0), None
    for version_id in sorted(groups, key=lambda pk: types[pk].version.number):
        outcome_type, members = types[version_id], groups[version_id]
        if outcome_type.pricing_model != "percentage":
            free_left = outcome_type.free_units if free_left is None else free_left
            members, free_left = members[free_left:], max(0, free_left - len(members))
        total += rated_amount_minor(outcome_type.pricing, members, currency)
    return total


def period_amount_read(*, contract: Contract, outcome_type_key: str, period: Period) -> PeriodAmount:
    """The outcomes of one type in one period of a contract its customer's amount cap counts, priced."""
    rows = {
        pk: PricedRow(version_id, price_percent, value_minor)
        for pk, version_id, price_percent, value_minor in Outcome.objects.filter(
            contract_id=contract.pk,
            outcome_type_key=outcome_type_key,
            occurred_at__gte=period.start,
            occurred_at__lt=period.end,
            state__in=COUNTED,
            version_id__isnull=False,
        )
        .order_by("billable_at", "id")
        .values_list("id", "version_id", "price_percent", "value_minor")
    }
    types = {
        outcome_type.version_id: outcome_type
        for outcome_type in OutcomeType.objects.filter(
            version__contract_id=contract.pk, key=outcome_type_key
        ).select_related("version")
    }
    return PeriodAmount(rows, types, contract.currency)


@dataclass
class Admitted:
    """What one batch's caps admitted so far, per counter row (the batch's own writes are not in the
    database yet): how many outcomes, and the priced period of a customer's amount cap, read once."""

    units: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    periods: dict[int, PeriodAmount] = field(default_factory=dict)

    def admit(self, outcome: Outcome, usage: CapUsage) -> None:
        self.units[usage.counter_id] += 1
        if usage.priced is not None:
            period = self.periods[usage.counter_id]
            period.rows.pop(outcome.pk, None)
            period.rows[outcome.pk] = usage.priced


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

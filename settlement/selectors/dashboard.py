"""The vendor dashboard's figures: each active contract's current period, outcomes per day,
invoiced totals per period, and what is left to collect."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Count, Q, Sum

from contracts.models import Contract, ContractStatus, ContractVersion, Customer, CustomerCap, Vendor
from contracts.periods import Period
from contracts.terms import currency_exponent
from contracts.terms.rating import round_minor
from outcomes.models import Decision, OutcomeState, OutcomeVerdict
from outcomes.rules.anomaly import Anomaly
from outcomes.selectors import (
    cap_amounts_used,
    in_contract_ranges,
    outcome_counts_between,
    outcome_counts_per_day,
)
from settlement.invoicing.drafts import LineDraft, contract_period, unsaved_invoice
from settlement.invoicing.lines import drafts_rate
from settlement.models import (
    Invoice,
    InvoiceStatus,
    LineKind,
)
from settlement.money import round_line
from settlement.selectors.invoices import COLLECTION_PROBLEMS, CollectionProblem


@dataclass(frozen=True)
class DraftPreview:
    """What a period's invoice would bill if it were built now (the dashboard's "billable so far")."""

    lines: list[LineDraft]
    held_over_cap: dict[str, Any]
    currency: str

    @property
    def usage_minor(self) -> int:
        """The outcomes' share, rounded per line as the invoice would be."""
        return sum(
            round_line(line.amount, self.currency) for line in self.lines if line.kind == LineKind.USAGE
        )

    @property
    def usage_outcomes(self) -> int:
        """How many outcomes `usage_minor` bills (free ones included, those held over a cap not): the
        billable ones the period's invoice takes, whenever they occurred."""
        return sum(line.outcomes for line in self.lines if line.kind == LineKind.USAGE)

    @property
    def total_minor(self) -> int:
        return sum(round_line(line.amount, self.currency) for line in self.lines)


def drafts_preview(*, periods: Sequence[tuple[Contract, Period]], now: dt.datetime) -> list[DraftPreview]:
    """Rate periods as their drafts would be built now, with the same code and one set of queries for
    all, without writing or locking anything (a read: outcomes may move meanwhile, so it is a figure
    to show, never to bill); usage from the billable outcomes' maintained counts wherever they rate it
    exactly (settlement.invoicing.lines.drafts_rate). In the order of `periods`."""
    if not periods:
        return []
    invoices = [unsaved_invoice(contract, period) for contract, period in periods]
    return [
        DraftPreview(lines, held, invoice.currency)
        for invoice, (lines, held) in zip(
            invoices, drafts_rate(invoices, lock=False, counted_at=now), strict=True
        )
    ]


@dataclass(frozen=True)
class ContractPeriodFigures:
    """One active contract's current period at a glance."""

    contract: Contract
    period: Period
    # Two bases, each said on the page. By occurrence (occurred_at in the period): the states, flags,
    # disputes and anomalies, what happened in the period. By billing: the outcomes the period's invoice
    # takes (billable by now, never billed, whenever they occurred: a late arrival or one that matured
    # after its period ended is here) and the money they make, so the two figures always go together.
    by_state: list[tuple[str, int]]  # every state in lifecycle order, zeros included (by occurrence)
    outcomes: int  # by occurrence
    flagged: int
    disputed: int
    anomalies: list[tuple[str, int]]  # (reason code, outcomes) of the anomaly rule's flags
    billable_outcomes: int  # the outcomes billable_minor rates (by billing)
    billable_minor: int  # the outcomes' share, rated as the period's invoice would rate them now
    invoice_now_minor: int  # the whole invoice if the period closed now (fees, true-up, credits)
    held_over_cap: int  # outcomes an amount cap would hold back
    by_type_state: dict[tuple[str, str], int]  # (outcome type key, state): outcomes (by occurrence)


def dashboard_contract_periods(
    *, vendor: Vendor, now: dt.datetime, customer: Customer | None = None
) -> list[ContractPeriodFigures]:
    """For each active contract (of one customer, if given: the customer portal's overview), its current
    period (in the contract's time zone): outcomes that
    occurred in it by state, flags, disputes and anomalies counted by GROUP BY; the outcomes its invoice
    takes and their amount, rated by the invoicing code itself (see ContractPeriodFigures)."""
    contracts_in_force = Contract.objects.filter(
        vendor=vendor, status=ContractStatus.ACTIVE, starts_at__lte=now
    )
    if customer is not None:
        contracts_in_force = contracts_in_force.filter(customer=customer)
    contracts = list(
        contracts_in_force.filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .select_related("customer")
        .order_by("reference")
    )
    if not contracts:
        return []
    periods = {contract.pk: contract_period(contract, now) for contract in contracts}
    counted = outcome_counts_between(
        ranges={pk: (period.start, period.end) for pk, period in periods.items()}
    )
    counts: dict[Any, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_type_state: dict[Any, dict[tuple[str, str], int]] = defaultdict(dict)
    for (contract_id, key, state), count in counted.items():
        counts[contract_id][state] += count
        by_type_state[contract_id][(key, state)] = count
    anomalies: dict[Any, list[tuple[str, int]]] = defaultdict(list)
    for contract_id, reason, count in (
        OutcomeVerdict.objects.filter(
            in_contract_ranges(
                ((pk, period.start, period.end) for pk, period in periods.items()),
                field="occurred_at",
                prefix="outcome__",
            ),
            rule=Anomaly.name,
            decision=Decision.FLAG,
        )
        .values_list("outcome__contract_id", "reason")
        .annotate(count=Count("outcome_id", distinct=True))
        .order_by("outcome__contract_id", "reason")
    ):
        anomalies[contract_id].append((reason, count))
    previews = drafts_preview(periods=[(contract, periods[contract.pk]) for contract in contracts], now=now)
    figures = []
    for contract, preview in zip(contracts, previews, strict=True):
        by_state = counts[contract.pk]
        figures.append(
            ContractPeriodFigures(
                contract=contract,
                period=periods[contract.pk],
                by_state=[(state, by_state.get(state, 0)) for state in OutcomeState.values],
                outcomes=sum(by_state.values()),
                flagged=by_state.get(OutcomeState.FLAGGED, 0),
                disputed=by_state.get(OutcomeState.DISPUTED, 0),
                anomalies=anomalies[contract.pk],
                billable_outcomes=preview.usage_outcomes,
                billable_minor=preview.usage_minor,
                invoice_now_minor=preview.total_minor,
                held_over_cap=sum(len(held["outcomes"]) for held in preview.held_over_cap.values()),
                by_type_state=by_type_state[contract.pk],
            )
        )
    return figures


# How many contracts the dashboard lists at a glance; the rest are one link away (`?contracts=all`).
AT_A_GLANCE = 25


def dashboard_contracts_first(*, figures: Sequence[ContractPeriodFigures]) -> list[ContractPeriodFigures]:
    """The contracts in the order a billing user reads them: the most billable so far first (the money
    the current periods make; in minor units, so several currencies interleave by their minor units),
    then by reference."""
    return sorted(figures, key=lambda row: (-row.billable_minor, row.contract.reference))


def _per_day_chart(labels: list[dt.date], counts: dict[str, dict[dt.date, int]]) -> dict[str, Any]:
    return {
        "labels": [day.isoformat() for day in labels],
        "series": [
            {"state": state, "counts": [counts[state].get(day, 0) for day in labels]}
            for state in OutcomeState.values
            if state in counts
        ],
    }


def _outcomes_per_day(
    *, vendor: Vendor, now: dt.datetime, days: int, customer: Customer | None, by_contract: bool
) -> dict[Any, dict[str, Any]]:
    """The last `days` UTC days, from the maintained counts per day: a chart per contract (by_contract)
    or one under None."""
    first = now.astimezone(dt.UTC).date() - dt.timedelta(days=days - 1)
    labels = [first + dt.timedelta(days=n) for n in range(days)]
    contracts = Contract.objects.filter(vendor=vendor)
    if customer is not None:
        contracts = contracts.filter(customer=customer)
    counts: dict[Any, dict[str, dict[dt.date, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    for (contract_id, day, state), count in outcome_counts_per_day(
        contracts=contracts, first=first, by_contract=by_contract
    ).items():
        counts[contract_id if by_contract else None][state][day] += count
    if not by_contract:
        return {None: _per_day_chart(labels, counts[None])}
    return {contract_id: _per_day_chart(labels, by_state) for contract_id, by_state in counts.items()}


def dashboard_outcomes_per_day(
    *, vendor: Vendor, now: dt.datetime, days: int = 60, customer: Customer | None = None
) -> dict[str, Any]:
    """Outcomes per UTC day by state over the last `days` days (including today), of one customer's
    contracts if given, for a stacked chart:
    {"labels": [iso dates], "series": [{"state": ..., "counts": [...]}]} (states with no outcome left out)."""
    return _outcomes_per_day(vendor=vendor, now=now, days=days, customer=customer, by_contract=False)[None]


def dashboard_outcomes_per_day_by_contract(
    *, customer: Customer, now: dt.datetime, days: int = 60
) -> dict[Any, dict[str, Any]]:
    """The same chart for each of a customer's contracts, by contract id, in one query (a contract with
    no outcome in the window is left out): the customer portal's overview."""
    return _outcomes_per_day(vendor=customer.vendor, now=now, days=days, customer=customer, by_contract=True)


@dataclass(frozen=True)
class CapUse:
    """How much of one cap a contract's current period uses: units of an outcome type (the contract's
    cap, or the customer's own, counted as the caps count: billable and billed outcomes that occurred
    in the period), or the amount its invoice bills so far against the contract's budget."""

    # "budget", "contract" (an outcome type's unit cap), "customer" (the customer's own unit cap) or
    # "customer_amount" (the customer's own amount cap: what the type's outcomes bill, as rule 11a prices them)
    kind: str
    outcome_type: str  # "" for the budget
    used: int
    limit: int
    currency: str = ""  # set when used and limit are minor units of money (the budget)

    @property
    def percent(self) -> int:
        return min(100, self.used * 100 // self.limit) if self.limit else 100


def dashboard_cap_use(*, figures: Sequence[ContractPeriodFigures]) -> dict[Any, list[CapUse]]:
    """The caps of each contract's current period and their use, by contract id: the budget (the
    amount cap of the version in force at the period's start) against "billable so far", each outcome
    type's unit cap, and the customer's own caps (rule 11a: units, and amount as the rule prices the
    period's outcomes, from their priced counts: outcomes.selectors.cap_amounts_used). Contracts without
    a cap are left out."""
    if not figures:
        return {}
    by_contract: dict[Any, list[ContractVersion]] = defaultdict(list)
    for candidate in ContractVersion.objects.filter(
        contract_id__in=[row.contract.pk for row in figures]
    ).prefetch_related("outcome_types"):
        by_contract[candidate.contract_id].append(candidate)
    versions = {
        row.contract.pk: max(
            (
                v
                for v in by_contract[row.contract.pk]
                if v.effective_from <= max(row.period.start, row.contract.starts_at)
            ),
            key=lambda v: v.effective_from,
            default=None,
        )
        for row in figures
    }
    unit_caps: dict[tuple[Any, str], int] = {
        (version.contract_id, outcome_type.key): outcome_type.cap_units
        for version in versions.values()
        if version is not None
        for outcome_type in version.outcome_types.all()
        if outcome_type.cap_units is not None
    }
    customer_caps = list(CustomerCap.objects.filter(contract_id__in=[row.contract.pk for row in figures]))
    own_caps = {
        (cap.contract_id, cap.outcome_type_key): cap.max_units
        for cap in customer_caps
        if cap.max_units is not None
    }
    periods = {row.contract.pk: row for row in figures}
    amounts_used = cap_amounts_used(
        caps=(
            (periods[cap.contract_id].contract, cap.outcome_type_key, periods[cap.contract_id].period)
            for cap in customer_caps
            if cap.max_amount_minor is not None
        )
    )
    # As the caps count: billable and billed outcomes that occurred in the period.
    used: dict[tuple[Any, str], int] = defaultdict(int)
    for row in figures:
        for (key, state), count in row.by_type_state.items():
            if state in (OutcomeState.BILLABLE, OutcomeState.BILLED):
                used[(row.contract.pk, key)] += count
    uses: dict[Any, list[CapUse]] = {}
    for row in figures:
        contract, version = row.contract, versions[row.contract.pk]
        caps = []
        if version is not None and version.cap_amount_minor is not None:
            caps.append(CapUse("budget", "", row.billable_minor, version.cap_amount_minor, contract.currency))
        for (contract_id, key), limit in sorted(unit_caps.items()):
            if contract_id == contract.pk:
                caps.append(CapUse("contract", key, used.get((contract_id, key), 0), limit))
        for (contract_id, key), limit in sorted(own_caps.items()):
            if contract_id == contract.pk:
                caps.append(CapUse("customer", key, used.get((contract_id, key), 0), limit))
        for cap in customer_caps:
            if cap.contract_id == contract.pk and cap.max_amount_minor is not None:
                used_minor = round_minor(amounts_used[(contract.pk, cap.outcome_type_key)])
                caps.append(
                    CapUse(
                        "customer_amount",
                        cap.outcome_type_key,
                        used_minor,
                        cap.max_amount_minor,
                        contract.currency,
                    )
                )
        if caps:
            uses[contract.pk] = caps
    return uses


def dashboard_billed_per_period(*, vendor: Vendor, periods: int = 12) -> dict[str, Any]:
    """Invoiced totals (finalized and later, not void) per period and currency, for a bar chart:
    {"labels": [local period start dates], "series": [{"currency", "exponent", "totals_minor": [...]}]}.
    A period is labelled by its start in the contract's time zone, so contracts in different zones
    share a bar."""
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for period_start, tz_name, currency, total in (
        Invoice.objects.filter(vendor=vendor)
        .exclude(status__in=(InvoiceStatus.DRAFT, InvoiceStatus.VOID))
        .values_list("period_start", "contract__timezone", "currency")
        .annotate(total=Sum("total_minor"))
        .order_by()
    ):
        label = period_start.astimezone(zoneinfo.ZoneInfo(tz_name)).date().isoformat()
        totals[currency][label] += total
    labels = sorted({label for by_label in totals.values() for label in by_label})[-periods:]
    return {
        "labels": labels,
        "series": [
            {
                "currency": currency,
                "exponent": currency_exponent(currency),
                "totals_minor": [totals[currency].get(label, 0) for label in labels],
            }
            for currency in sorted(totals)
        ],
    }


@dataclass(frozen=True)
class ToCollect:
    """The invoices with one collection problem: how many, and their totals per currency."""

    problem: str
    label: str
    count: int
    totals: list[tuple[str, int]]  # (currency, total_minor), by currency; currencies with none left out


def dashboard_to_collect(*, vendor: Vendor) -> list[ToCollect]:
    """Invoices overdue, whose payment failed, whose settlement is blocked (an invoice may be in more
    than one), counted and summed per currency in one GROUP BY."""
    aggregates: dict[str, Any] = {}
    for problem, condition in COLLECTION_PROBLEMS.items():
        aggregates[f"{problem}_count"] = Count("id", filter=condition)
        aggregates[f"{problem}_total"] = Sum("total_minor", filter=condition)
    by_currency = list(
        Invoice.objects.filter(reduce(or_, COLLECTION_PROBLEMS.values()), vendor=vendor)
        .values("currency")
        .annotate(**aggregates)
        .order_by("currency")
    )
    return [
        ToCollect(
            problem=problem.value,
            label=problem.label,
            count=sum(row[f"{problem}_count"] for row in by_currency),
            totals=[
                (row["currency"], row[f"{problem}_total"]) for row in by_currency if row[f"{problem}_count"]
            ],
        )
        for problem in CollectionProblem
    ]

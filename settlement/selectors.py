"""Reads of the settlement app, scoped to one vendor."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from functools import reduce
from operator import or_
from typing import Any

from django.db import models
from django.db.models import BooleanField, Count, ExpressionWrapper, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from contracts.models import Contract, ContractStatus, Customer, Vendor
from contracts.periods import Period
from contracts.terms import currency_exponent
from core.errors import NotFound
from outcomes.models import Decision, Outcome, OutcomeState, OutcomeVerdict
from outcomes.rules.anomaly import Anomaly
from settlement.models import (
    CreditEntry,
    CreditNote,
    CreditNoteOutcome,
    CreditNoteStatus,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineOutcome,
    SettlementStatus,
    SettlementStep,
    StripeConnection,
)
from settlement.services.invoicing import contract_period, drafts_preview

# A month filter matches the periods that overlap the month by more than this: a monthly period in
# any time zone overlaps the neighbouring UTC months by at most 14 hours.
MONTH_OVERLAP = dt.timedelta(days=1)

# Finalized and neither paid, void nor written off: only these can still be overdue.
OWED_STATUSES = (InvoiceStatus.FINALIZED, InvoiceStatus.OPEN, InvoiceStatus.PAYMENT_FAILED)


class CollectionProblem(models.TextChoices):
    """What a vendor has to chase on an invoice (the portal's `?collection=`)."""

    OVERDUE = "overdue", "Overdue"
    FAILED = "failed", "Payment failed"
    BLOCKED = "blocked", "Settlement blocked"


# One definition for the invoice list's filter and badges and the dashboard's "To collect" panel.
COLLECTION_PROBLEMS: dict[str, Q] = {
    CollectionProblem.OVERDUE: Q(overdue_at__isnull=False, status__in=OWED_STATUSES),
    CollectionProblem.FAILED: Q(status=InvoiceStatus.PAYMENT_FAILED),
    CollectionProblem.BLOCKED: Q(settlement_status=SettlementStatus.BLOCKED),
}


def invoice_list(
    *,
    vendor: Vendor,
    contract_id: Any = None,
    status: str | None = None,
    customer_id: Any = None,
    month: dt.date | None = None,
    collection: str | None = None,
) -> QuerySet[Invoice]:
    """A vendor's invoices, optionally of one contract, customer, status, collection problem, or
    billing month (a period that mostly lies in that month, whatever the contract's time zone).
    Each is annotated `is_overdue` (still owed after Stripe reported it overdue)."""
    queryset = (
        Invoice.objects.filter(vendor=vendor)
        .select_related("contract__customer")
        .annotate(
            is_overdue=ExpressionWrapper(
                COLLECTION_PROBLEMS[CollectionProblem.OVERDUE], output_field=BooleanField()
            )
        )
    )
    if contract_id:
        queryset = queryset.filter(contract_id=contract_id)
    if customer_id:
        queryset = queryset.filter(contract__customer_id=customer_id)
    if status:
        queryset = queryset.filter(status=status)
    if collection:
        queryset = queryset.filter(COLLECTION_PROBLEMS[collection])
    if month is not None:
        start = dt.datetime(month.year, month.month, 1, tzinfo=dt.UTC)
        end = dt.datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=dt.UTC)
        queryset = queryset.filter(period_start__lt=end - MONTH_OVERLAP, period_end__gt=start + MONTH_OVERLAP)
    return queryset


def invoice_list_for_customer(
    *, customer: Customer, contract_id: Any = None, status: str | None = None
) -> QuerySet[Invoice]:
    """A customer's invoices (drafts included: a draft may wait for their approval)."""
    return invoice_list(vendor=customer.vendor, contract_id=contract_id, status=status).filter(
        contract__customer=customer
    )


def invoice_get(*, vendor: Vendor, invoice_id: Any) -> Invoice:
    invoice = None
    if str(invoice_id).isdigit():
        invoice = (
            Invoice.objects.filter(vendor=vendor, pk=int(invoice_id))
            .select_related("contract__customer")
            .prefetch_related(
                Prefetch("lines", queryset=InvoiceLine.objects.order_by("position")),
                Prefetch("settlement_steps", queryset=SettlementStep.objects.order_by("id")),
            )
            .first()
        )
    if invoice is None:
        raise NotFound("No such invoice.")
    return invoice


def invoice_get_for_customer(*, customer: Customer, invoice_id: Any) -> Invoice:
    """One of the customer's invoices; another customer's (of the same vendor or not) is not found."""
    invoice = (
        Invoice.objects.filter(contract__customer=customer, pk=int(invoice_id)).first()
        if str(invoice_id).isdigit()
        else None
    )
    if invoice is None:
        raise NotFound("No such invoice.")
    return invoice


def invoice_line_get(*, invoice: Invoice, position: Any) -> InvoiceLine:
    line = invoice.lines.filter(position=position).first() if str(position).isdigit() else None
    if line is None:
        raise NotFound(f"Invoice {invoice.pk} has no line {position}.")
    return line


def line_outcomes(*, invoice: Invoice, position: int) -> QuerySet[LineOutcome]:
    """The outcomes one line bills (or credits), each with its exact share: the drill-down to raw events."""
    line = invoice_line_get(invoice=invoice, position=position)
    return LineOutcome.objects.filter(line=line).select_related("outcome").order_by("outcome_id")


def invoice_credit_notes(*, invoice: Invoice, with_outcome_ids: bool = False) -> QuerySet[CreditNote]:
    """The invoice's credit notes, oldest first, each annotated `outcome_count` (the reversed outcomes
    it took into account); `with_outcome_ids` also prefetches those outcomes' ids."""
    queryset = CreditNote.objects.filter(invoice=invoice).annotate(outcome_count=Count("outcome_links"))
    if with_outcome_ids:
        queryset = queryset.prefetch_related(
            Prefetch(
                "outcome_links",
                queryset=CreditNoteOutcome.objects.only("credit_note_id", "outcome_id").order_by(
                    "outcome_id"
                ),
            )
        )
    return queryset.order_by("id")


def credit_note_get(*, invoice: Invoice, credit_note_id: Any) -> CreditNote:
    note = (
        invoice.credit_notes.filter(pk=int(credit_note_id)).first() if str(credit_note_id).isdigit() else None
    )
    if note is None:
        raise NotFound(f"Invoice {invoice.pk} has no credit note {credit_note_id}.")
    return note


def credit_note_outcomes(*, credit_note: CreditNote) -> QuerySet[CreditNoteOutcome]:
    """The reversed outcomes a credit note credits: the drill-down to their trails."""
    return CreditNoteOutcome.objects.filter(credit_note=credit_note).select_related("outcome")


def invoice_credits(*, invoice: Invoice) -> tuple[CreditEntry | None, int]:
    """The credit this invoice carried forward (+) or consumed (-), and its contract's balance now."""
    entry = CreditEntry.objects.filter(invoice=invoice).first()
    balance = CreditEntry.objects.filter(contract_id=invoice.contract_id).aggregate(total=Sum("amount_minor"))
    return entry, balance["total"] or 0


def invoices_to_push() -> list[int]:
    """Finalized invoices whose settlement on Stripe is not complete: new ones, and interrupted ones
    to resume, whatever status Stripe's webhooks gave them meanwhile (blocked ones wait for a person)."""
    return list(
        Invoice.objects.filter(settlement_status=SettlementStatus.PENDING, number__isnull=False)
        .order_by("finalized_at", "id")
        .values_list("id", flat=True)
    )


def stripe_connection_of(*, vendor: Vendor) -> StripeConnection | None:
    """The Stripe account the vendor settles in, or None: the deployment's own key."""
    return StripeConnection.objects.filter(vendor=vendor).first()


def stripe_account_vendors(*, account: str) -> QuerySet[Vendor]:
    """The vendors an event of this Stripe account may concern: the one connected to it, or, for the
    deployment's own account (""), those without a connection. Ids are only unique within an account."""
    if account:
        return Vendor.objects.filter(stripe_connection__account_id=account)
    return Vendor.objects.filter(stripe_connection__isnull=True)


def invoices_settling_on_stripe(*, vendor: Vendor) -> QuerySet[Invoice]:
    """The vendor's invoices whose settlement is under way in its current Stripe account (a Stripe
    invoice exists, steps remain): they must finish there before the vendor changes account."""
    return Invoice.objects.filter(vendor=vendor, settlement_status=SettlementStatus.PENDING).exclude(
        stripe_invoice_id=""
    )


def credit_notes_to_push() -> list[int]:
    """Credit notes to issue on Stripe (each waits until its invoice is finalized there)."""
    return list(
        CreditNote.objects.filter(status=CreditNoteStatus.PENDING).order_by("id").values_list("id", flat=True)
    )


# --- the dashboard ---------------------------------------------------------------------------------


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


def _period_filter(periods: dict[Any, Period], prefix: str = "") -> Q:
    return reduce(
        or_,
        (
            Q(
                **{
                    f"{prefix}contract_id": contract_id,
                    f"{prefix}occurred_at__gte": period.start,
                    f"{prefix}occurred_at__lt": period.end,
                }
            )
            for contract_id, period in periods.items()
        ),
    )


def dashboard_contract_periods(*, vendor: Vendor, now: dt.datetime) -> list[ContractPeriodFigures]:
    """For each active contract, its current period (in the contract's time zone): outcomes that
    occurred in it by state, flags, disputes and anomalies counted by GROUP BY; the outcomes its invoice
    takes and their amount, rated by the invoicing code itself (see ContractPeriodFigures)."""
    contracts = list(
        Contract.objects.filter(vendor=vendor, status=ContractStatus.ACTIVE, starts_at__lte=now)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .select_related("customer")
        .order_by("reference")
    )
    if not contracts:
        return []
    periods = {contract.pk: contract_period(contract, now) for contract in contracts}
    counts: dict[Any, dict[str, int]] = defaultdict(dict)
    for contract_id, state, count in (
        Outcome.objects.filter(_period_filter(periods), vendor=vendor)
        .values_list("contract_id", "state")
        .annotate(count=Count("id"))
        .order_by()
    ):
        counts[contract_id][state] = count
    anomalies: dict[Any, list[tuple[str, int]]] = defaultdict(list)
    for contract_id, reason, count in (
        OutcomeVerdict.objects.filter(
            _period_filter(periods, "outcome__"), rule=Anomaly.name, decision=Decision.FLAG
        )
        .values_list("outcome__contract_id", "reason")
        .annotate(count=Count("outcome_id", distinct=True))
        .order_by("outcome__contract_id", "reason")
    ):
        anomalies[contract_id].append((reason, count))
    previews = drafts_preview(periods=[(contract, periods[contract.pk]) for contract in contracts])
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
            )
        )
    return figures


def dashboard_outcomes_per_day(*, vendor: Vendor, now: dt.datetime, days: int = 60) -> dict[str, Any]:
    """Outcomes per UTC day by state over the last `days` days (including today), for a stacked chart:
    {"labels": [iso dates], "series": [{"state": ..., "counts": [...]}]} (states with no outcome left out)."""
    first = now.astimezone(dt.UTC).date() - dt.timedelta(days=days - 1)
    labels = [first + dt.timedelta(days=n) for n in range(days)]
    counts: dict[str, dict[dt.date, int]] = defaultdict(dict)
    for day, state, count in (
        Outcome.objects.filter(
            vendor=vendor, occurred_at__gte=dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
        )
        .annotate(day=TruncDate("occurred_at", tzinfo=dt.UTC))
        .values_list("day", "state")
        .annotate(count=Count("id"))
        .order_by()
    ):
        counts[state][day] = count
    return {
        "labels": [day.isoformat() for day in labels],
        "series": [
            {"state": state, "counts": [counts[state].get(day, 0) for day in labels]}
            for state in OutcomeState.values
            if state in counts
        ],
    }


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

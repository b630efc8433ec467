"""Reads of the outcomes app, scoped to one vendor like every selector."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import reduce
from operator import or_
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import (
    Count,
    DateField,
    Exists,
    Func,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.sql.compiler import SQLCompiler

from contracts.models import Contract, Customer, OutcomeType, Vendor, WebhookSource
from contracts.periods import Period
from contracts.terms import local_midnight
from core.errors import NotFound
from outcomes import counters
from outcomes.models import (
    AuditSample,
    Decision,
    Delivery,
    Dispute,
    Outcome,
    OutcomeEvent,
    OutcomeState,
    OutcomeStateDayCount,
    OutcomeTransition,
    OutcomeVerdict,
    PricedDayCount,
    RawEvent,
    ReviewDecision,
    VerifierResult,
)
from outcomes.rules.verifier import VERIFIER_ACCURACY_SAMPLE, Verifier
from outcomes.services.cap_amounts import COUNTED, counted_amount, period_amount_read
from outcomes.verdict_trail import superseded


def outcome_list(
    *,
    vendor: Vendor,
    contract_id: Any = None,
    outcome_type: str | None = None,
    state: str | None = None,
    occurred_from: dt.datetime | None = None,
    occurred_to: dt.datetime | None = None,
    source_id: Any = None,
    search: str | None = None,
) -> QuerySet[Outcome]:
    queryset = Outcome.objects.filter(vendor=vendor)
    if search and search.strip():
        queryset = queryset.filter(pk__in=_search_outcome_ids(vendor=vendor, term=search.strip()))
    if contract_id:
        queryset = queryset.filter(contract_id=contract_id)
    if outcome_type:
        queryset = queryset.filter(outcome_type_key=outcome_type)
    if state:
        queryset = queryset.filter(state=state)
    if source_id:
        queryset = queryset.filter(source_id=source_id)
    if occurred_from:
        queryset = queryset.filter(occurred_at__gte=occurred_from)
    if occurred_to:
        queryset = queryset.filter(occurred_at__lt=occurred_to)
    return queryset


def _search_outcome_ids(*, vendor: Vendor, term: str) -> list[int]:
    """Outcomes whose id, natural key, or one of whose events' id is exactly `term`.

    Each lookup goes through a unique index whatever the table's size: (contract, outcome type, natural
    key) probed for each of the vendor's contracts and outcome types, and (source, event id) for each
    of its webhook sources; the outcome id is the primary key. No index on a natural key alone is needed.
    """
    contract_ids = list(Contract.objects.filter(vendor=vendor).values_list("id", flat=True))
    type_keys = list(
        OutcomeType.objects.filter(version__contract__vendor=vendor).values_list("key", flat=True).distinct()
    )
    source_ids = list(WebhookSource.objects.filter(vendor=vendor).values_list("id", flat=True))
    found = set(
        Outcome.objects.filter(
            contract_id__in=contract_ids, outcome_type_key__in=type_keys, natural_key=term
        ).values_list("id", flat=True)
    )
    found.update(
        OutcomeEvent.objects.filter(
            raw_event__source_id__in=source_ids, raw_event__event_id=term
        ).values_list("outcome_id", flat=True)
    )
    if term.isdigit() and int(term) < 2**63:
        found.update(Outcome.objects.filter(vendor=vendor, pk=int(term)).values_list("id", flat=True))
    return sorted(found)


def outcome_state_counts(*, outcomes: QuerySet[Outcome], cap: int) -> dict[str, int] | None:
    """How many of `outcomes` are in each state, or None when more than `cap` match: the cost is bounded
    by reading at most `cap + 1` rows' states, so a broad filter over a large table stays cheap."""
    states = list(outcomes.order_by().values_list("state", flat=True)[: cap + 1])
    if len(states) > cap:
        return None
    counts = Counter(states)
    return {state: counts[state] for state in OutcomeState.values if counts[state]}


def outcome_get(*, vendor: Vendor, outcome_id: Any) -> Outcome:
    """One outcome with its raw events and transitions: its whole trail so far."""
    if not str(outcome_id).isdigit():
        raise NotFound("No such outcome.")
    outcome = (
        Outcome.objects.filter(vendor=vendor, pk=int(outcome_id))
        .select_related("contract", "version", "source", "dispute", "audit_sample")
        .prefetch_related(
            Prefetch("transitions", queryset=OutcomeTransition.objects.order_by("at", "id")),
            "verdicts",
            "evaluations",
            "review_decisions",
        )
        .first()
    )
    if outcome is None:
        raise NotFound("No such outcome.")
    return outcome


def outcome_raw_events(*, outcome: Outcome) -> QuerySet[RawEvent]:
    return (
        RawEvent.objects.filter(outcome_link__outcome=outcome)
        .select_related("source", "delivery")
        .order_by("occurred_at", "id")
    )


def outcome_invoice_lines(*, outcome: Outcome) -> QuerySet[Any]:
    """The invoice lines that billed or credited this outcome, oldest first. Settlement links its lines
    to outcomes (LineOutcome); reading that reverse relation keeps this app free of imports from it."""
    return outcome.line_links.select_related("line__invoice").order_by("line__invoice_id", "line__position")


def delivery_list(*, source: WebhookSource) -> QuerySet[Delivery]:
    return Delivery.objects.filter(source=source).select_related("result")


def delivery_get(*, source: WebhookSource, delivery_id: Any) -> Delivery:
    delivery = None
    if str(delivery_id).isdigit():
        delivery = (
            Delivery.objects.filter(source=source, pk=int(delivery_id)).select_related("result").first()
        )
    if delivery is None:
        raise NotFound("No such delivery.")
    return delivery


def outcome_list_for_customer(*, customer: Customer, **filters: Any) -> QuerySet[Outcome]:
    """A customer's key sees its own contracts' outcomes only."""
    return outcome_list(vendor=customer.vendor, **filters).filter(contract__customer=customer)


def outcome_get_for_customer(*, customer: Customer, outcome_id: Any) -> Outcome:
    outcome = outcome_get(vendor=customer.vendor, outcome_id=outcome_id)
    if outcome.contract.customer_id != customer.pk:
        raise NotFound("No such outcome.")
    return outcome


def audit_samples_awaiting(*, customer: Customer, now: dt.datetime) -> QuerySet[AuditSample]:
    """A customer's audit samples still to attest, the nearest deadline first."""
    return (
        AuditSample.objects.filter(outcome__contract__customer=customer, answer="", deadline__gt=now)
        .select_related("outcome__contract")
        .order_by("deadline", "outcome_id")
    )


def dispute_list_for_customer(*, customer: Customer, status: str | None = None) -> QuerySet[Dispute]:
    return dispute_list(vendor=customer.vendor, status=status).filter(outcome__contract__customer=customer)


def review_queue(*, vendor: Vendor) -> QuerySet[Outcome]:
    """Flagged outcomes, waiting for a person."""
    return (
        Outcome.objects.filter(vendor=vendor, state=OutcomeState.FLAGGED)
        .select_related("contract")
        .prefetch_related("verdicts", "evaluations", "review_decisions")
    )


class LocalDate(Func):
    """The calendar date of an instant in the IANA zone another expression names, row by row (Django's
    TruncDate takes one zone for the whole query; here each contract has its own)."""

    arity = 2
    output_field = DateField()

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, Any]:
        return self.as_sql(
            compiler, connection, template="((%(expressions)s))::date", arg_joiner=" AT TIME ZONE ", **extra
        )

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, Any]:
        # The function Django registers on SQLite for its own date casts: (instant, zone, stored zone).
        return self.as_sql(
            compiler, connection, template="django_datetime_cast_date(%(expressions)s, 'UTC')", **extra
        )


def _standing_verdicts(**filters: Any) -> QuerySet[OutcomeVerdict]:
    """Each rule's latest verdict on an outcome (a reject, a hold or a flag: accepts are not rows), unless
    it is a flag someone decided already."""
    decided = ReviewDecision.objects.filter(outcome_id=OuterRef("outcome_id"), flag_reason=OuterRef("reason"))
    return OutcomeVerdict.objects.filter(**filters).exclude(superseded() | Q(Exists(decided)))


def _open_flags(**filters: Any) -> QuerySet[OutcomeVerdict]:
    """The open flags of flagged outcomes, in SQL: each rule's latest verdict on an outcome when it is a
    flag that no one decided yet (outcomes.services.review.open_flags, for a whole table at once)."""
    return _standing_verdicts(outcome__state=OutcomeState.FLAGGED, decision=Decision.FLAG, **filters)


# What the queue shows of a group, computed by the database over the group's open flags.
_GROUP_FIGURES = {
    "count": Count("outcome_id", distinct=True),
    "first_occurred_at": Min("outcome__occurred_at"),
    "last_occurred_at": Max("outcome__occurred_at"),
    "newest_outcome_id": Max("outcome_id"),
    "sample_id": Max("id"),
    "deadline": Min("hold_until"),
}


@dataclass(frozen=True)
class FlagGroup:
    """The open flags of one reason on a contract's outcomes that occurred on one day of its time zone:
    what a person decides at once (the 60 velocity flags of one anomalous day are one group)."""

    contract: Contract
    flag_reason: str
    day: dt.date
    count: int = 0
    first_occurred_at: dt.datetime | None = None
    last_occurred_at: dt.datetime | None = None
    newest_outcome_id: int = 0  # a decision on the group as shown covers no outcome created after it
    sample: OutcomeVerdict | None = None  # the newest flag: its facts say why the group was raised
    deadline: dt.datetime | None = None  # the first of its flags' deadlines (outcomes.rules.flag_deadlines)

    @property
    def starts_at(self) -> dt.datetime:
        return local_midnight(self.day, self.contract.timezone)

    @property
    def ends_at(self) -> dt.datetime:
        return local_midnight(self.day + dt.timedelta(days=1), self.contract.timezone)


def _group(
    contract: Contract, flag_reason: str, day: dt.date, figures: dict[str, Any], sample: Any
) -> FlagGroup:
    return FlagGroup(
        contract=contract,
        flag_reason=flag_reason,
        day=day,
        count=figures["count"],
        first_occurred_at=figures["first_occurred_at"],
        last_occurred_at=figures["last_occurred_at"],
        newest_outcome_id=figures["newest_outcome_id"],
        sample=sample,
        deadline=figures["deadline"],
    )


def flag_group_list(*, vendor: Vendor, offset: int, limit: int) -> list[FlagGroup]:
    """A page of the review queue's groups, newest day first, grouped and counted by the database.

    Paged by offset: there are far fewer groups than flags, and every page costs one aggregation over
    the open flags whatever its depth (a cursor would not spare it)."""
    rows = list(
        _open_flags(outcome__vendor=vendor)
        .annotate(day=LocalDate("outcome__occurred_at", "outcome__contract__timezone"))
        .values("outcome__contract_id", "reason", "day")
        .annotate(**_GROUP_FIGURES)
        .order_by("-day", "outcome__contract_id", "reason")[offset : offset + limit]
    )
    contracts = Contract.objects.select_related("customer").in_bulk({r["outcome__contract_id"] for r in rows})
    samples = OutcomeVerdict.objects.select_related("outcome").in_bulk([r["sample_id"] for r in rows])
    return [
        _group(contracts[r["outcome__contract_id"]], r["reason"], r["day"], r, samples[r["sample_id"]])
        for r in rows
    ]


def flag_group_get(*, vendor: Vendor, contract_id: Any, flag_reason: str, day: Any) -> FlagGroup:
    """One group of the review queue as it is now (a count of 0 once none is left open). Another
    vendor's contract, or a contract id or day that does not parse, is not found."""
    try:
        contract_pk = uuid.UUID(str(contract_id))
        local_day = dt.date.fromisoformat(str(day))
    except ValueError:
        raise NotFound("No such group of flags.") from None
    contract = Contract.objects.filter(vendor=vendor, pk=contract_pk).select_related("customer").first()
    if contract is None:
        raise NotFound("No such group of flags.")
    group = FlagGroup(contract=contract, flag_reason=flag_reason, day=local_day)
    figures = _group_flags(group).aggregate(**_GROUP_FIGURES)
    if not figures["count"]:
        return group
    sample = OutcomeVerdict.objects.select_related("outcome").get(pk=figures["sample_id"])
    return _group(contract, flag_reason, local_day, figures, sample)


def _group_flags(group: FlagGroup) -> QuerySet[OutcomeVerdict]:
    """The group's open flags: the day's bounds in the contract's zone, so the outcomes' index serves."""
    return _open_flags(
        reason=group.flag_reason,
        outcome__contract=group.contract,
        outcome__occurred_at__gte=group.starts_at,
        outcome__occurred_at__lt=group.ends_at,
    )


def flag_group_outcomes(*, group: FlagGroup) -> QuerySet[Outcome]:
    """The outcomes with an open flag of the group, each with what its flag cards read."""
    return (
        Outcome.objects.filter(pk__in=_group_flags(group).values("outcome_id"))
        .select_related("contract")
        .prefetch_related("verdicts", "evaluations", "review_decisions")
    )


def dispute_list(*, vendor: Vendor, status: str | None = None) -> QuerySet[Dispute]:
    queryset = Dispute.objects.filter(outcome__vendor=vendor).select_related("outcome__contract")
    return queryset.filter(status=status) if status else queryset


def dispute_get(*, vendor: Vendor, dispute_id: Any) -> Dispute:
    dispute = None
    if str(dispute_id).isdigit():
        dispute = Dispute.objects.filter(outcome__vendor=vendor, pk=int(dispute_id)).first()
    if dispute is None:
        raise NotFound("No such dispute.")
    return dispute


def audit_sample_get(*, outcome: Outcome) -> AuditSample:
    sample = AuditSample.objects.filter(outcome=outcome).first()
    if sample is None:
        raise NotFound("This outcome was not sampled for audit.", code="not_sampled")
    return sample


@dataclass(frozen=True)
class VerifierAccuracy:
    """How often people upheld a verifier's accepts that were sampled for them (rule 6b)."""

    verifier: str
    accepted: int  # outcomes the verifier accepted
    sampled: int  # of which drawn for a person to check
    upheld: int  # sampled, and a person accepted it (the verifier was right)
    overturned: int  # sampled, and a person rejected it (the verifier was wrong)

    @property
    def decided(self) -> int:
        return self.upheld + self.overturned

    @property
    def accuracy(self) -> Decimal | None:
        """Share of decided samples upheld (0 to 1, four places); None before any is decided."""
        if not self.decided:
            return None
        return (Decimal(self.upheld) / Decimal(self.decided)).quantize(Decimal("0.0001"))


def verifier_accuracy(*, vendor: Vendor) -> list[VerifierAccuracy]:
    """Each verifier's accuracy on the vendor's outcomes, by name: one grouped query."""
    sample = VERIFIER_ACCURACY_SAMPLE.code
    decided = ReviewDecision.objects.filter(outcome_id=OuterRef("outcome_id"), flag_reason=sample)
    rows = (
        VerifierResult.objects.filter(outcome__vendor=vendor, status=VerifierResult.Status.ACCEPT)
        .alias(
            is_sampled=Exists(
                OutcomeVerdict.objects.filter(
                    outcome_id=OuterRef("outcome_id"), rule=Verifier.name, reason=sample
                )
            ),
            is_upheld=Exists(decided.filter(verdict=ReviewDecision.Verdict.ACCEPT)),
            is_overturned=Exists(decided.filter(verdict=ReviewDecision.Verdict.REJECT)),
        )
        .values("verifier")
        .annotate(
            accepted=Count("id"),
            sampled=Count("id", filter=Q(is_sampled=True)),
            upheld=Count("id", filter=Q(is_upheld=True)),
            overturned=Count("id", filter=Q(is_overturned=True)),
        )
        .order_by("verifier")
    )
    return [VerifierAccuracy(**row) for row in rows]


# The states in which an outcome waits (neither billed nor given up), in lifecycle order.
HELD_STATES = (OutcomeState.PENDING, OutcomeState.MATURING, OutcomeState.FLAGGED, OutcomeState.DISPUTED)


@dataclass(frozen=True)
class HeldState:
    """How many of a customer's outcomes wait in one state, and the reasons that hold most of them:
    (reason code, outcomes) of the rules' standing holds and open flags, the commonest first."""

    state: str
    count: int
    reasons: list[tuple[str, int]]


def held_outcomes_for_customer(*, customer: Customer, top: int = 3) -> list[HeldState]:
    """The customer's outcomes in each held state (HELD_STATES, states with none left out), whenever
    they occurred, with the `top` reasons holding them: each rule's latest verdict when it holds or
    flags the outcome (a flag once decided no longer holds). A disputed outcome is held by the dispute."""
    counts = dict(
        Outcome.objects.filter(vendor=customer.vendor, contract__customer=customer, state__in=HELD_STATES)
        .values_list("state")
        .annotate(count=Count("id"))
        .order_by()
    )
    if not counts:
        return []
    reasons: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for state, reason, count in (
        _standing_verdicts(
            outcome__vendor=customer.vendor,
            outcome__contract__customer=customer,
            outcome__state__in=[s for s in HELD_STATES if s != OutcomeState.DISPUTED and s in counts],
            decision__in=[Decision.HOLD, Decision.FLAG],
        )
        .values_list("outcome__state", "reason")
        .annotate(count=Count("outcome_id", distinct=True))
        .order_by("outcome__state", "-count", "reason")
    ):
        if len(reasons[state]) < top:
            reasons[state].append((reason, count))
    return [HeldState(state, counts[state], reasons[state]) for state in HELD_STATES if state in counts]


def _utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def in_contract_ranges(ranges: Iterable[tuple[Any, Any, Any]], *, field: str, prefix: str = "") -> Q:
    """`field` in [start, end) of its contract's range, for (contract id, start, end) triples: one
    condition per distinct range (contracts sharing a zone and anchor day share their periods), so a
    vendor's hundreds of contracts make a short query. At least one range."""
    by_range: dict[tuple[Any, Any], list[Any]] = defaultdict(list)
    for contract_id, start, end in ranges:
        by_range[(start, end)].append(contract_id)
    return reduce(
        or_,
        (
            Q(
                **{
                    f"{prefix}contract_id__in": contract_ids,
                    f"{prefix}{field}__gte": start,
                    f"{prefix}{field}__lt": end,
                }
            )
            for (start, end), contract_ids in by_range.items()
        ),
    )


def utc_days_split(
    ranges: dict[Any, tuple[dt.datetime, dt.datetime]],
) -> tuple[list[tuple[Any, dt.date, dt.date]], list[tuple[Any, dt.datetime, dt.datetime]]]:
    """Each contract's [start, end) as its whole UTC days, (contract id, first day, day after the last),
    for the counts kept per UTC day, and the parts of a UTC day its ends cut, (contract id, start, end),
    for the outcomes themselves (a period in a zone other than UTC)."""
    whole: list[tuple[Any, dt.date, dt.date]] = []
    cut: list[tuple[Any, dt.datetime, dt.datetime]] = []
    for contract_id, (start, end) in ranges.items():
        first = counters.utc_day(start) + dt.timedelta(days=_utc_midnight(counters.utc_day(start)) < start)
        stop = counters.utc_day(end)
        if first >= stop:
            cut.append((contract_id, start, end))
            continue
        whole.append((contract_id, first, stop))
        if start < _utc_midnight(first):
            cut.append((contract_id, start, _utc_midnight(first)))
        if _utc_midnight(stop) < end:
            cut.append((contract_id, _utc_midnight(stop), end))
    return whole, cut


def outcome_counts_between(
    *, ranges: dict[Any, tuple[dt.datetime, dt.datetime]]
) -> dict[tuple[Any, str, str], int]:
    """Outcomes that occurred in [start, end) of each contract's range, by (contract id, outcome type key,
    state): the whole UTC days of a range from the maintained counts (OutcomeStateDayCount), the parts
    of a day its ends cut from the outcomes themselves. Two queries; rows read grow with the days of a
    range and what one day holds, not with the history."""
    whole, cut = utc_days_split(ranges)
    counts: dict[tuple[Any, str, str], int] = defaultdict(int)
    if whole:
        for contract_id, key, state, count in (
            OutcomeStateDayCount.objects.filter(in_contract_ranges(whole, field="day"))
            .values_list("contract_id", "outcome_type_key", "state")
            .annotate(count=Sum("outcomes"))
            .order_by()
        ):
            counts[(contract_id, key, state)] += count
    if cut:
        for contract_id, key, state, count in (
            Outcome.objects.filter(in_contract_ranges(cut, field="occurred_at"))
            .values_list("contract_id", "outcome_type_key", "state")
            .annotate(count=Count("id"))
            .order_by()
        ):
            counts[(contract_id, key, state)] += count
    return {key: count for key, count in counts.items() if count}


def cap_amounts_used(*, caps: Iterable[tuple[Contract, str, Period]]) -> dict[tuple[Any, str], Decimal]:
    """What each (contract, outcome type key, period) bills so far against the customer's amount cap
    (rule 11a), by (contract id, key): exactly period_amount_read(...).amount(), from the priced counts
    (PricedDayCount: the period's whole UTC days, the parts of a day its ends cut from the outcomes,
    grouped) wherever they rate it exactly (cap_amounts.counted_amount); a type they cannot is read and
    priced as the rule does. Three queries, whatever the periods' outcomes. One period per contract."""
    caps = list(caps)
    if not caps:
        return {}
    periods = {contract.pk: period for contract, _, period in caps}
    whole, cut = utc_days_split({pk: (period.start, period.end) for pk, period in periods.items()})
    keys = {key for _, key, _ in caps}
    counts: dict[tuple[Any, str], dict[int, dict[int, tuple[int, int]]]] = defaultdict(
        lambda: defaultdict(dict)
    )

    def add(rows: Iterable[tuple[Any, str, int, int, int, int | None]]) -> None:
        for contract_id, key, version_id, percent, n, value in rows:
            before = counts[(contract_id, key)][version_id].get(percent, (0, 0))
            counts[(contract_id, key)][version_id][percent] = (before[0] + n, before[1] + (value or 0))

    columns = ("contract_id", "outcome_type_key", "version_id", "price_percent")
    if whole:
        add(
            PricedDayCount.objects.filter(in_contract_ranges(whole, field="day"), outcome_type_key__in=keys)
            .values_list(*columns)
            .annotate(n=Sum("outcomes"), value=Sum("value_minor"))
            .order_by()
        )
    if cut:
        add(
            Outcome.objects.filter(
                in_contract_ranges(cut, field="occurred_at"),
                outcome_type_key__in=keys,
                state__in=COUNTED,
                version_id__isnull=False,
            )
            .values_list(*columns)
            .annotate(n=Count("id"), value=Sum("value_minor"))
            .order_by()
        )
    types: dict[Any, dict[str, dict[int, OutcomeType]]] = defaultdict(lambda: defaultdict(dict))
    for outcome_type in OutcomeType.objects.filter(
        version__contract_id__in=periods, key__in=keys
    ).select_related("version"):
        types[outcome_type.version.contract_id][outcome_type.key][outcome_type.version_id] = outcome_type
    used: dict[tuple[Any, str], Decimal] = {}
    for contract, key, period in caps:
        by_version = {
            version_id: {percent: row for percent, row in by_percent.items() if row[0]}
            for version_id, by_percent in counts[(contract.pk, key)].items()
        }
        amount = counted_amount(
            {pk: rows for pk, rows in by_version.items() if rows}, types[contract.pk][key], contract.currency
        )
        if amount is None:
            amount = period_amount_read(contract=contract, outcome_type_key=key, period=period).amount()
        used[(contract.pk, key)] = amount
    return used


def outcome_counts_per_day(
    *, contracts: QuerySet[Contract], first: dt.date, by_contract: bool
) -> dict[tuple[Any, dt.date, str], int]:
    """Outcomes of these contracts by (contract id, or None unless by_contract; UTC day they occurred;
    state) from the UTC day `first` on, from the maintained counts (OutcomeStateDayCount): one query
    over rows per day."""
    rows = OutcomeStateDayCount.objects.filter(contract_id__in=contracts.values("pk"), day__gte=first)
    columns = ["contract_id", "day", "state"] if by_contract else ["day", "state"]
    counts: dict[tuple[Any, dt.date, str], int] = {}
    for *key, count in rows.values_list(*columns).annotate(count=Sum("outcomes")).order_by():
        if count:
            counts[(key[0], key[1], key[2]) if by_contract else (None, key[0], key[1])] = count
    return counts

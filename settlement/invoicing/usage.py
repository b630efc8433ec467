"""Usage lines: the billable outcomes a draft takes, rated per version and outcome type (free units,
tiers, packages, percentages), before any amount cap."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Q

from contracts.models import Contract, ContractVersion, OutcomeType
from contracts.terms.rating import Slice, major_to_minor, percentage_fee_minor, rate_units
from outcomes.models import BillableCount, Outcome, OutcomeState
from settlement.invoicing.drafts import BILLABLE_COLUMNS, ZERO, Billable, Draft, LineDraft
from settlement.models import (
    Invoice,
    InvoiceStatus,
    LineKind,
)


def billable_outcomes(drafts: list[Draft], *, lock: bool = True) -> None:
    """Read the billable outcomes each draft takes, for all of them in one locked query (they must not
    move while we bill them; a preview reads without locking), in billing order; outcomes an earlier,
    still-open draft of the same contract takes (by when they became billable) are that draft's."""
    ends: dict[Any, list[dt.datetime]] = defaultdict(list)
    for draft in drafts:
        ends[draft.invoice.contract_id].append(draft.period.end)
    by_end: dict[dt.datetime, list[Any]] = defaultdict(list)
    for contract_id, contract_ends in ends.items():
        by_end[max(contract_ends)].append(contract_id)
    taken: dict[Any, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for contract_id, start, end in Invoice.objects.filter(
        contract_id__in=ends, status=InvoiceStatus.DRAFT
    ).values_list("contract_id", "period_start", "period_end"):
        taken[contract_id].append((start, end))
    earlier = [
        [(s, e) for s, e in taken[draft.invoice.contract_id] if s < draft.period.start] for draft in drafts
    ]
    # Usually each contract has one draft here and no earlier one open: its outcomes are all the
    # query returns. Otherwise each draft picks its own by when they became billable (read only then:
    # parsing a timestamp per outcome is the dearest part of reading them).
    by_time = any(earlier) or any(len(contract_ends) > 1 for contract_ends in ends.values())
    columns = BILLABLE_COLUMNS
    rows: dict[Any, list[tuple[dt.datetime | None, Billable]]] = defaultdict(list)
    queryset = Outcome.objects.filter(
        reduce(or_, (Q(contract_id__in=ids, billable_at__lt=end) for end, ids in sorted(by_end.items()))),
        state=OutcomeState.BILLABLE,
        billed_at__isnull=True,
    )
    if lock:
        queryset = queryset.select_for_update()
    for row in queryset.order_by("contract_id", "billable_at", "id").values_list(
        "contract_id", *(["billable_at", *columns] if by_time else columns)
    ):
        if by_time:
            rows[row[0]].append((row[1], Billable._make(row[2:])))
        else:
            rows[row[0]].append((None, Billable._make(row[1:])))
    for draft, ranges in zip(drafts, earlier, strict=True):
        end = draft.period.end
        draft.outcomes = [
            outcome
            for at, outcome in rows[draft.invoice.contract_id]
            if at is None or (at < end and not any(s <= at < e for s, e in ranges))
        ]


def billable_counts(drafts: list[Draft], now: dt.datetime) -> dict[int, Counts]:
    """The counts (outcomes.models.BillableCount) of the billable outcomes each draft takes, by the
    draft's index in `drafts`, for the drafts that take every billable outcome of their contract: no
    other draft of the contract is in the batch or still open before it, and the period ends after
    `now` (every billable outcome became billable before its end). One query for the open drafts,
    one for the counts; a draft left out takes its outcomes from billable_outcomes."""
    per_contract: dict[Any, int] = defaultdict(int)
    for draft in drafts:
        per_contract[draft.invoice.contract_id] += 1
    open_since: dict[Any, dt.datetime] = {}
    for contract_id, start in Invoice.objects.filter(
        contract_id__in=per_contract, status=InvoiceStatus.DRAFT
    ).values_list("contract_id", "period_start"):
        open_since[contract_id] = min(start, open_since.get(contract_id, start))
    counted = {
        index: draft
        for index, draft in enumerate(drafts)
        if per_contract[draft.invoice.contract_id] == 1
        and draft.period.end > now
        and not open_since.get(draft.invoice.contract_id, draft.period.start) < draft.period.start
    }
    counts: dict[Any, Counts] = defaultdict(lambda: defaultdict(dict))
    for contract_id, version_id, key, percent, outcomes, value in BillableCount.objects.filter(
        contract_id__in={draft.invoice.contract_id for draft in counted.values()}, outcomes__gt=0
    ).values_list(
        "contract_id", "version_id", "outcome_type_key", "price_percent", "outcomes", "value_minor"
    ):
        counts[contract_id][(version_id, key)][percent] = (outcomes, value)
    return {index: counts[draft.invoice.contract_id] for index, draft in counted.items()}


def _slice_lines(
    outcome_type: OutcomeType,
    version: ContractVersion,
    outcomes: list[Billable] | None,
    price_percent: int,
    slices: list[Slice],
    currency: str,
) -> list[LineDraft]:
    """One line per slice of outcomes at one share of the price; the slice's outcomes (in billing
    order) share its amount equally (`outcomes` None: rated from their count, no shares)."""
    lines, cursor = [], 0
    percent = Decimal(price_percent) / 100
    for piece in slices:
        covered = [] if outcomes is None else outcomes[cursor : cursor + piece.units]
        cursor += piece.units
        amount = major_to_minor(piece.amount, currency) * percent
        share = amount / len(covered) if covered else ZERO
        tier_label = f", tier {piece.tier + 1}" if piece.tier is not None else ""
        unit = "package" if outcome_type.pricing_model == "package" else "unit"
        label = f"{outcome_type.key} (v{version.number}{tier_label}): {piece.quantity} {unit}{'s' if piece.quantity != 1 else ''}"
        if percent != 1:
            label += f" at {price_percent}% (unverified)"
        lines.append(
            LineDraft(
                kind=LineKind.USAGE,
                description=label,
                amount=amount,
                quantity=piece.quantity,
                unit_price=str(piece.unit_price),
                outcome_type_key=outcome_type.key,
                version_id=version.pk,
                tier=piece.tier,
                shares={o.pk: share for o in covered},
                outcomes=piece.units,
                details={
                    "units": piece.units,
                    "flat_fee": str(piece.flat_fee),
                    "price_percent": int(percent * 100),
                },
            )
        )
    return lines


def _percentage_lines(
    outcome_type: OutcomeType, version: ContractVersion, outcomes: list[Billable]
) -> list[LineDraft]:
    """One line for a percentage-priced type's outcomes (none without any): each outcome's share is its
    percentage of the value it reported."""
    if not outcomes:
        return []
    shares = {
        o.pk: percentage_fee_minor(outcome_type.pricing, o.value_minor or 0) * o.price_percent / 100
        for o in outcomes
    }
    return [
        LineDraft(
            kind=LineKind.USAGE,
            description=f"{outcome_type.key} (v{version.number}): {outcome_type.pricing['percent']}% of reported value",
            amount=sum(shares.values(), ZERO),
            quantity=len(shares),
            outcome_type_key=outcome_type.key,
            version_id=version.pk,
            shares=shares,
            outcomes=len(shares),
            details={"value_minor": sum(o.value_minor or 0 for o in outcomes)},
        )
    ]


def rated_lines(
    contract: Contract,
    outcomes: list[Billable],
    versions: dict[int, ContractVersion],
    types: dict[tuple[int, str], OutcomeType],
) -> list[LineDraft]:
    """Usage lines of these outcomes, per version and outcome type, without any cap."""
    groups: dict[tuple[int, str], list[Billable]] = defaultdict(list)
    for outcome in outcomes:
        assert outcome.version_id is not None
        groups[(outcome.version_id, outcome.outcome_type_key)].append(outcome)
    lines: list[LineDraft] = []
    free_left: dict[str, int] = {}
    for version_id, key in sorted(groups, key=lambda g: (versions[g[0]].number, g[1])):
        version, outcome_type = versions[version_id], types[(version_id, key)]
        members = groups[(version_id, key)]
        if outcome_type.pricing_model == "percentage":
            lines += _percentage_lines(outcome_type, version, members)
            continue
        free = free_left.setdefault(key, outcome_type.free_units)
        free_outcomes, members = members[:free], members[free:]
        free_left[key] -= len(free_outcomes)
        if free_outcomes:
            lines.append(
                LineDraft(
                    kind=LineKind.USAGE,
                    description=f"{key} (v{version.number}): {len(free_outcomes)} free",
                    amount=ZERO,
                    quantity=len(free_outcomes),
                    unit_price="0",
                    outcome_type_key=key,
                    version_id=version_id,
                    shares={o.pk: ZERO for o in free_outcomes},
                    outcomes=len(free_outcomes),
                    details={"free_allowance": outcome_type.free_units},
                )
            )
        for percent in sorted({o.price_percent for o in members}, reverse=True):
            priced = [o for o in members if o.price_percent == percent]
            lines += _slice_lines(
                outcome_type,
                version,
                priced,
                percent,
                rate_units(outcome_type.pricing, len(priced)),
                contract.currency,
            )
    return lines


# Counts of billable outcomes by (version id, outcome type key), then by price percent: (outcomes, the
# sum of their reported values), as outcomes.models.BillableCount holds them.
Counts = dict[tuple[int, str], dict[int, tuple[int, int]]]


def rates_from_counts(outcome_type: OutcomeType, by_percent: dict[int, tuple[int, int]]) -> bool:
    """Whether a group's usage lines can be rated from its counts alone, exactly as from its outcomes:
    a percentage without a per-outcome bound is linear in the values; other models depend on billing
    order only when free units go to some of outcomes at different shares of the price."""
    if outcome_type.pricing_model == "percentage":
        return (
            outcome_type.pricing.get("min_fee_minor") is None
            and outcome_type.pricing.get("max_fee_minor") is None
        )
    return len(by_percent) <= 1 or outcome_type.free_units == 0


def rated_lines_counted(
    contract: Contract,
    counts: Counts,
    versions: dict[int, ContractVersion],
    types: dict[tuple[int, str], OutcomeType],
) -> list[LineDraft] | None:
    """Usage lines of the outcomes `counts` counts, without any cap, as rated_lines makes them from the
    outcomes (the same amounts and quantities, no shares); None when a group cannot be (rates_from_counts)."""
    lines: list[LineDraft] = []
    free_left: dict[str, int] = {}
    for version_id, key in sorted(counts, key=lambda g: (versions[g[0]].number, g[1])):
        version, outcome_type, by_percent = (
            versions[version_id],
            types[(version_id, key)],
            counts[(version_id, key)],
        )
        if not rates_from_counts(outcome_type, by_percent):
            return None
        if outcome_type.pricing_model == "percentage":
            lines.append(
                LineDraft(
                    kind=LineKind.USAGE,
                    description=f"{key} (v{version.number}): {outcome_type.pricing['percent']}% of reported value",
                    amount=sum(
                        (
                            percentage_fee_minor(outcome_type.pricing, value) * percent / 100
                            for percent, (_, value) in by_percent.items()
                        ),
                        ZERO,
                    ),
                    quantity=sum(count for count, _ in by_percent.values()),
                    outcomes=sum(count for count, _ in by_percent.values()),
                    outcome_type_key=key,
                    version_id=version.pk,
                    details={"value_minor": sum(value for _, value in by_percent.values())},
                )
            )
            continue
        free = free_left.setdefault(key, outcome_type.free_units)
        for percent in sorted(by_percent, reverse=True):
            count = by_percent[percent][0]
            taken = min(free, count)
            free -= taken
            if taken:
                lines.append(
                    LineDraft(
                        kind=LineKind.USAGE,
                        description=f"{key} (v{version.number}): {taken} free",
                        amount=ZERO,
                        quantity=taken,
                        outcomes=taken,
                        unit_price="0",
                        outcome_type_key=key,
                        version_id=version_id,
                        details={"free_allowance": outcome_type.free_units},
                    )
                )
            lines += _slice_lines(
                outcome_type,
                version,
                None,
                percent,
                rate_units(outcome_type.pricing, count - taken),
                contract.currency,
            )
        free_left[key] = free
    return lines

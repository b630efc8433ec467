"""The customer's amount cap (rule 11a) prices a period: what a contract's outcome type bills in it so far,
as the invoice's usage lines will rate it (settlement.invoicing.usage.rated_lines, through the same
contracts.terms.rating), kept as a summary so one more outcome is priced without reading them all again.

The summary per version: how many outcomes bill at each share of the price, the shares of the first ones
in billing order (those a free allowance may take) and the success fees summed. Rating it costs a few
tier lookups, whatever the period's size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from contracts.models import Contract, OutcomeType
from contracts.periods import Period
from contracts.terms.rating import ZERO, rated_amount_minor, units_amount_minor
from outcomes.models import Outcome, OutcomeState

# The states whose outcomes a cap counts: billable and billed.
COUNTED = [OutcomeState.BILLABLE, OutcomeState.BILLED]


class PricedRow(NamedTuple):
    """What pricing reads of an outcome counted against the customer's amount cap (as settlement's Billable)."""

    version_id: int
    price_percent: int
    value_minor: int | None


@dataclass
class _VersionUse:
    """One version's counted outcomes, summarized for rating."""

    head: list[int] = field(default_factory=list)  # the shares of the first ones, in billing order
    shares: Counter[int] = field(default_factory=Counter)  # how many bill at each share of the price
    fees: Decimal = ZERO  # success fees (percentage pricing), exact minor units

    def copy(self) -> _VersionUse:
        return _VersionUse(list(self.head), Counter(self.shares), self.fees)


class PeriodAmount:
    """The outcomes of a contract's type in a period that its customer's amount cap counts (billable and
    billed, by id, in billing order), with the type's terms in each version that prices them."""

    def __init__(self, rows: dict[int, PricedRow], types: dict[int, OutcomeType], currency: str) -> None:
        self.rows = rows
        self.types = types  # by version id, each with its version
        self.currency = currency
        # No free allowance reaches past the largest: only that many first outcomes' shares are kept.
        self._head = max((t.free_units for t in types.values()), default=0)
        self._versions = self._summarize(rows.values())

    def amount(self, *, without: int | None = None, plus: PricedRow | None = None) -> Decimal:
        """The exact amount, in minor units, these outcomes bill (less the outcome `without`, plus `plus`
        as the latest to bill)."""
        versions = self._versions
        if without in self.rows:  # a counted outcome admitted again (its time moved): rare, summarized anew
            versions = self._summarize(row for pk, row in self.rows.items() if pk != without)
        if plus is not None:
            versions = {**versions, plus.version_id: versions.get(plus.version_id, _VersionUse()).copy()}
            self._count(versions, plus)
        return self._rate(versions)

    def add(self, outcome_id: int, row: PricedRow) -> None:
        """Count one more outcome, the latest to bill (an outcome counted already moves to the end)."""
        if self.rows.pop(outcome_id, None) is not None:
            self.rows[outcome_id] = row
            self._versions = self._summarize(self.rows.values())
        else:
            self.rows[outcome_id] = row
            self._count(self._versions, row)

    def _summarize(self, rows: Iterable[PricedRow]) -> dict[int, _VersionUse]:
        versions: dict[int, _VersionUse] = {}
        for row in rows:
            self._count(versions, row)
        return versions

    def _count(self, versions: dict[int, _VersionUse], row: PricedRow) -> None:
        use = versions.setdefault(row.version_id, _VersionUse())
        outcome_type = self.types[row.version_id]
        if outcome_type.pricing_model == "percentage":
            use.fees += rated_amount_minor(outcome_type.pricing, [row], self.currency)
            return
        if len(use.head) < self._head:
            use.head.append(row.price_percent)
        use.shares[row.price_percent] += 1

    def _rate(self, versions: dict[int, _VersionUse]) -> Decimal:
        return _rated(versions, self.types, self.currency)


def _rated(versions: dict[int, _VersionUse], types: dict[int, OutcomeType], currency: str) -> Decimal:
    """As rated_lines: per version in version order, the free allowance first (the first version's,
    across versions; success fees have none), then each version's pricing."""
    total, free_left = ZERO, None
    for version_id in sorted(versions, key=lambda pk: types[pk].version.number):
        outcome_type, use = types[version_id], versions[version_id]
        if outcome_type.pricing_model == "percentage":
            total += use.fees
            continue
        free_left = outcome_type.free_units if free_left is None else free_left
        priced = use.shares - Counter(use.head[:free_left])
        free_left = max(0, free_left - use.shares.total())
        total += units_amount_minor(outcome_type.pricing, priced, currency)
    return total


def counted_amount(
    counts: dict[int, dict[int, tuple[int, int]]], types: dict[int, OutcomeType], currency: str
) -> Decimal | None:
    """What outcomes of one type bill, rated from their counts, `counts[version id][price percent]` =
    (outcomes, their values' sum), exactly as PeriodAmount rates them one by one; None when their billing
    order could change it: a success fee bounded per outcome, or free units left for a version whose
    outcomes bill at different shares of the price (which of them are free depends on the order)."""
    versions: dict[int, _VersionUse] = {}
    free_left = None
    for version_id in sorted(counts, key=lambda pk: types[pk].version.number):
        outcome_type, by_percent = types[version_id], counts[version_id]
        use = versions[version_id] = _VersionUse()
        if outcome_type.pricing_model == "percentage":
            if (
                outcome_type.pricing.get("min_fee_minor") is not None
                or outcome_type.pricing.get("max_fee_minor") is not None
            ):
                return None
            # Unbounded, a success fee is linear in the value: the sum's fee is the fees' sum.
            use.fees = sum(
                (
                    rated_amount_minor(
                        outcome_type.pricing, [PricedRow(version_id, percent, value)], currency
                    )
                    for percent, (_, value) in by_percent.items()
                ),
                ZERO,
            )
            continue
        use.shares = Counter({percent: n for percent, (n, _) in by_percent.items() if n})
        free_left = outcome_type.free_units if free_left is None else free_left
        if free_left and len(use.shares) > 1:
            return None
        # One share of the price (or no free unit left): the first outcomes' shares are that share.
        use.head = list(use.shares)[:1] * min(free_left, use.shares.total())
        free_left = max(0, free_left - use.shares.total())
    return _rated(versions, types, currency)


def rated_period_amount(rows: Iterable[PricedRow], types: dict[int, OutcomeType], currency: str) -> Decimal:
    """What these outcomes of one type, in billing order, bill."""
    return PeriodAmount(dict(enumerate(rows)), types, currency).amount()


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

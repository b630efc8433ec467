"""Fee lines: the platform fee and the minimum commitment's true-up of the version in force at the
period's start, prorated for a partial period."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from contracts.models import ContractVersion
from contracts.periods import Period
from settlement.invoicing.drafts import LineDraft
from settlement.models import (
    LineKind,
)


def version_at(versions: Iterable[ContractVersion], at: dt.datetime) -> ContractVersion | None:
    """The version in force at `at`, else the first one (from the contract's versions, in memory)."""
    ordered = sorted(versions, key=lambda v: v.effective_from)
    in_force = [v for v in ordered if v.effective_from <= at]
    if in_force:
        return in_force[-1]
    return ordered[0] if ordered else None


def fee_lines(versions: Iterable[ContractVersion], period: Period, usage_total: Decimal) -> list[LineDraft]:
    version = version_at(versions, period.start)
    if version is None:
        return []
    lines = []
    partial = (
        f" (prorated {period.fraction.numerator}/{period.fraction.denominator})" if period.is_partial else ""
    )
    if version.platform_fee_minor:
        lines.append(
            LineDraft(
                kind=LineKind.PLATFORM_FEE,
                description=f"Platform fee{partial}",
                amount=period.prorate(version.platform_fee_minor),
                quantity=1,
                version_id=version.pk,
                details={"platform_fee_minor": version.platform_fee_minor, "fraction": str(period.fraction)},
            )
        )
    commitment = period.prorate(version.minimum_commitment_minor)
    if commitment > usage_total:
        lines.append(
            LineDraft(
                kind=LineKind.MINIMUM_TRUE_UP,
                description=f"Minimum commitment true-up{partial}",
                amount=commitment - usage_total,
                quantity=1,
                version_id=version.pk,
                details={"commitment_minor": str(commitment), "usage_minor": str(usage_total)},
            )
        )
    return lines

"""Billing period boundaries: the one helper every part of Verity uses to cut time into periods.

A period starts at local midnight of the anchor day in the contract's time zone and lasts
`period_count` months. An anchor past a month's end falls on its last day (31 → 30 April,
28/29 February). Boundaries are computed as local dates first and then as instants, so a DST change
never moves a boundary by an hour. A contract starting mid-period has a first, partial period from
its start to the next anchor; proration of fixed fees uses `Period.fraction`: local calendar days
covered over the regular period's days, so a DST hour never leaks into the share.
People read a period as its first and last local day, the end included (`period_label`: "1-30 November
2026", with an en dash), whatever page or field shows it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from contracts.terms import local_midnight


@dataclass(frozen=True)
class Period:
    start: dt.datetime  # inclusive, UTC
    end: dt.datetime  # exclusive, UTC
    full_start: dt.datetime  # the regular period this one is part of (start of a partial first period)
    full_end: dt.datetime
    tz_name: str  # the contract's IANA zone, whose calendar days proration counts

    @property
    def is_partial(self) -> bool:
        return self.start != self.full_start or self.end != self.full_end

    @property
    def fraction(self) -> Fraction:
        """Share of the regular period this period covers (1 for a full one), in local calendar days.

        A day the period only partly covers (a contract starting at noon) counts as a whole day.
        """
        return Fraction(
            _day_count(self.start, self.end, self.tz_name),
            _day_count(self.full_start, self.full_end, self.tz_name),
        )

    def prorate(self, amount_minor: int) -> Decimal:
        fraction = self.fraction
        return Decimal(amount_minor) * fraction.numerator / fraction.denominator

    def contains(self, instant: dt.datetime) -> bool:
        return self.start <= instant < self.end

    @property
    def label(self) -> str:
        """The period as people read it (see `period_label`)."""
        return period_label(self.start, self.end, self.tz_name)


def local_days(start: dt.datetime, end: dt.datetime, tz_name: str) -> tuple[dt.date, dt.date]:
    """The first and the last local calendar day [start, end) touches, in the zone: the end is the
    next day's midnight, so the last day is the one before it."""
    tz = zoneinfo.ZoneInfo(tz_name)
    return start.astimezone(tz).date(), (end - dt.timedelta(microseconds=1)).astimezone(tz).date()


def period_label(start: dt.datetime, end: dt.datetime, tz_name: str) -> str:
    """A [start, end) period as local dates with the end included, each part said once, joined by an
    en dash: '1-30 November 2026', '28 November - 27 December 2026', '15 December 2026 - 14 January 2027',
    '1 November 2026' (one day)."""
    first, last = local_days(start, end, tz_name)
    if first == last:
        return _day_text(last)
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}\N{EN DASH}{_day_text(last)}"
    if first.year == last.year:
        return f"{first.day} {calendar.month_name[first.month]} \N{EN DASH} {_day_text(last)}"
    return f"{_day_text(first)} \N{EN DASH} {_day_text(last)}"


def _day_text(day: dt.date) -> str:
    return f"{day.day} {calendar.month_name[day.month]} {day.year}"


def _day_count(start: dt.datetime, end: dt.datetime, tz_name: str) -> int:
    """Local calendar days [start, end) touches; a 23- or 25-hour DST day is one day like any other."""
    first_day, last_day = local_days(start, end, tz_name)
    return (last_day - first_day).days + 1


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def anchor_date(year: int, month: int, anchor_day: int) -> dt.date:
    """The anchor day in a month, clamped to the month's last day."""
    return dt.date(year, month, min(anchor_day, calendar.monthrange(year, month)[1]))


def _boundary(year: int, month: int, anchor_day: int, tz_name: str) -> dt.datetime:
    return local_midnight(anchor_date(year, month, anchor_day), tz_name).astimezone(dt.UTC)


def regular_period_at(
    instant: dt.datetime, *, tz_name: str, anchor_day: int, months: int = 1
) -> tuple[dt.datetime, dt.datetime]:
    """The regular [start, end) period holding `instant`; multi-month periods align to a fixed grid."""
    local = instant.astimezone(zoneinfo.ZoneInfo(tz_name))
    year, month = _add_months(local.year, local.month, -((local.year * 12 + local.month - 1) % months))
    start = _boundary(year, month, anchor_day, tz_name)
    while start > instant:
        year, month = _add_months(year, month, -months)
        start = _boundary(year, month, anchor_day, tz_name)
    while True:
        next_year, next_month = _add_months(year, month, months)
        end = _boundary(next_year, next_month, anchor_day, tz_name)
        if end > instant:
            return start, end
        year, month, start = next_year, next_month, end


def period_at(
    instant: dt.datetime,
    *,
    tz_name: str,
    anchor_day: int,
    months: int = 1,
    contract_start: dt.datetime | None = None,
    contract_end: dt.datetime | None = None,
) -> Period:
    """The contract period holding `instant`, cut to the contract's own start and end."""
    full_start, full_end = regular_period_at(instant, tz_name=tz_name, anchor_day=anchor_day, months=months)
    start = max(full_start, contract_start) if contract_start else full_start
    end = min(full_end, contract_end) if contract_end else full_end
    return Period(start=start, end=end, full_start=full_start, full_end=full_end, tz_name=tz_name)


def periods_between(
    start: dt.datetime, end: dt.datetime, *, tz_name: str, anchor_day: int, months: int = 1
) -> list[Period]:
    """Every period from the contract's start to `end` (exclusive), the first possibly partial."""
    periods: list[Period] = []
    cursor = start
    while cursor < end:
        period = period_at(
            cursor, tz_name=tz_name, anchor_day=anchor_day, months=months, contract_start=start
        )
        periods.append(period)
        cursor = period.end
    return periods

"""The period helper: anchor days, month ends, leap years, DST, partial first periods."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.periods import local_days, period_at, period_label, periods_between, regular_period_at

UTC = dt.UTC
# Hypothesis takes naive bounds and attaches the zone itself.
NAIVE_MIN = dt.datetime(2000, 1, 1)  # noqa: DTZ001
NAIVE_MAX = dt.datetime(2099, 1, 1)  # noqa: DTZ001


def local(y: int, m: int, d: int, tz: str) -> dt.datetime:
    return dt.datetime(y, m, d, tzinfo=zoneinfo.ZoneInfo(tz)).astimezone(UTC)


@pytest.mark.parametrize(
    ("instant", "anchor", "start", "end"),
    [
        (dt.datetime(2026, 4, 30, 12, tzinfo=UTC), 31, (2026, 4, 30), (2026, 5, 31)),
        (dt.datetime(2026, 4, 29, 12, tzinfo=UTC), 31, (2026, 3, 31), (2026, 4, 30)),
        (dt.datetime(2026, 2, 28, 12, tzinfo=UTC), 30, (2026, 2, 28), (2026, 3, 30)),
        (dt.datetime(2028, 2, 29, 12, tzinfo=UTC), 31, (2028, 2, 29), (2028, 3, 31)),  # leap year
        (dt.datetime(2028, 2, 28, 12, tzinfo=UTC), 29, (2028, 1, 29), (2028, 2, 29)),
        (dt.datetime(2026, 12, 31, 23, tzinfo=UTC), 1, (2026, 12, 1), (2027, 1, 1)),
    ],
)
def test_anchor_days_past_a_months_end_fall_on_its_last_day(
    instant: dt.datetime, anchor: int, start: tuple[int, int, int], end: tuple[int, int, int]
) -> None:
    assert regular_period_at(instant, tz_name="UTC", anchor_day=anchor) == (
        local(*start, "UTC"),
        local(*end, "UTC"),
    )


@pytest.mark.parametrize("tz", ["America/New_York", "Europe/Berlin", "Australia/Sydney", "Asia/Kolkata"])
def test_boundaries_are_local_midnights_and_dst_never_moves_them(tz: str) -> None:
    for month in range(1, 13):
        start, end = regular_period_at(local(2026, month, 15, tz), tz_name=tz, anchor_day=1)
        for boundary in (start, end):
            as_local = boundary.astimezone(zoneinfo.ZoneInfo(tz))
            assert (as_local.day, as_local.hour, as_local.minute) == (1, 0, 0)


def test_the_second_before_a_boundary_belongs_to_the_previous_period() -> None:
    boundary = local(2026, 3, 29, "Europe/Berlin")  # the day DST begins
    before = regular_period_at(boundary - dt.timedelta(seconds=1), tz_name="Europe/Berlin", anchor_day=29)
    at = regular_period_at(boundary, tz_name="Europe/Berlin", anchor_day=29)
    assert before[1] == at[0] == boundary


def test_utc_plus_zones_get_one_period_per_month_not_two() -> None:
    # The bug other billing systems shipped: a UTC+X customer's month split in two by a UTC cut.
    periods = periods_between(
        local(2026, 1, 1, "Asia/Tokyo"), local(2027, 1, 1, "Asia/Tokyo"), tz_name="Asia/Tokyo", anchor_day=1
    )
    assert len(periods) == 12
    assert [p.start.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo")).month for p in periods] == list(range(1, 13))


def test_a_mid_period_start_gets_a_partial_first_period_prorated_exactly() -> None:
    start = local(2026, 1, 15, "UTC")
    period = period_at(start, tz_name="UTC", anchor_day=1, contract_start=start)
    assert (period.start, period.end, period.is_partial) == (start, local(2026, 2, 1, "UTC"), True)
    assert period.fraction == Fraction(17, 31)
    assert period.prorate(3100) == 1700


def test_proration_counts_berlin_calendar_days_not_the_dst_hour() -> None:
    # October 2026 in Berlin has 745 hours (DST ends on the 25th); the seconds ratio gave 409/745.
    start = local(2026, 10, 15, "Europe/Berlin")
    period = period_at(start, tz_name="Europe/Berlin", anchor_day=1, contract_start=start)
    assert period.fraction == Fraction(17, 31)
    assert period.prorate(3100) == 1700


@pytest.mark.parametrize(
    ("starts", "ends", "fraction"),
    [
        ((2026, 3, 8), None, Fraction(24, 31)),  # from the 23-hour day DST begins (575/743 by seconds)
        (None, (2026, 11, 16), Fraction(15, 30)),  # through the 25-hour day DST ends (361/721 by seconds)
    ],
)
def test_proration_counts_new_york_calendar_days_across_dst(
    starts: tuple[int, int, int] | None, ends: tuple[int, int, int] | None, fraction: Fraction
) -> None:
    tz = "America/New_York"
    contract_start = local(*starts, tz) if starts else local(2026, 1, 1, tz)
    contract_end = local(*ends, tz) if ends else None
    instant = contract_end - dt.timedelta(seconds=1) if contract_end else contract_start
    period = period_at(
        instant, tz_name=tz, anchor_day=1, contract_start=contract_start, contract_end=contract_end
    )
    assert period.is_partial
    assert period.fraction == fraction


def test_a_day_the_contract_starts_partway_through_counts_whole() -> None:
    start = local(2026, 1, 15, "Asia/Kolkata") + dt.timedelta(hours=13)
    period = period_at(start, tz_name="Asia/Kolkata", anchor_day=1, contract_start=start)
    assert period.fraction == Fraction(17, 31)


@given(
    st.datetimes(
        min_value=NAIVE_MIN,
        max_value=NAIVE_MAX,
        timezones=st.just(UTC),
    ),
    st.integers(min_value=1, max_value=31),
    st.sampled_from(["UTC", "America/New_York", "Europe/London", "Pacific/Auckland", "America/Santiago"]),
    st.sampled_from([1, 3, 12]),
)
def test_every_instant_lies_in_exactly_one_period(
    instant: dt.datetime, anchor: int, tz: str, months: int
) -> None:
    start, end = regular_period_at(instant, tz_name=tz, anchor_day=anchor, months=months)
    assert start <= instant < end
    next_start, _ = regular_period_at(end, tz_name=tz, anchor_day=anchor, months=months)
    assert next_start == end


@pytest.mark.parametrize(
    ("instant", "tz", "anchor", "months", "label"),
    [
        # a month
        (dt.datetime(2026, 11, 20, tzinfo=UTC), "UTC", 1, 1, "1\N{EN DASH}30 November 2026"),
        # across two months, anchored on the 28th
        (dt.datetime(2026, 12, 5, tzinfo=UTC), "UTC", 28, 1, "28 November \N{EN DASH} 27 December 2026"),
        # across a year's end
        (dt.datetime(2027, 1, 5, tzinfo=UTC), "UTC", 15, 1, "15 December 2026 \N{EN DASH} 14 January 2027"),
        # in a zone whose clocks go back on 1 November (New York) or forward on 29 March (Berlin): the
        # boundaries are local midnights, not UTC ones, and the last day is the day before the end
        (dt.datetime(2026, 11, 20, tzinfo=UTC), "America/New_York", 1, 1, "1\N{EN DASH}30 November 2026"),
        (dt.datetime(2026, 3, 29, 12, tzinfo=UTC), "Europe/Berlin", 1, 1, "1\N{EN DASH}31 March 2026"),
        # east of UTC, the period's start is the previous day in UTC
        (dt.datetime(2026, 2, 10, tzinfo=UTC), "Pacific/Auckland", 1, 1, "1\N{EN DASH}28 February 2026"),
        # a quarter
        (dt.datetime(2026, 5, 10, tzinfo=UTC), "UTC", 1, 3, "1 April \N{EN DASH} 30 June 2026"),
    ],
)
def test_a_period_reads_as_local_dates_with_its_last_day_included(
    instant: dt.datetime, tz: str, anchor: int, months: int, label: str
) -> None:
    period = period_at(instant, tz_name=tz, anchor_day=anchor, months=months)

    assert period.label == label
    assert period_label(period.start, period.end, tz) == label


def test_the_label_reads_the_instants_in_the_zone_given() -> None:
    """New York's November, read in UTC, runs from 1 November 04:00 to 1 December 05:00: the same instants
    are other days elsewhere, which is why every caller passes the contract's zone."""
    start, end = local(2026, 11, 1, "America/New_York"), local(2026, 12, 1, "America/New_York")

    assert period_label(start, end, "America/New_York") == "1\N{EN DASH}30 November 2026"
    assert period_label(start, end, "UTC") == "1 November \N{EN DASH} 1 December 2026"
    assert local_days(start, end, "America/New_York") == (dt.date(2026, 11, 1), dt.date(2026, 11, 30))


def test_a_partial_first_period_and_a_single_day_read_as_their_own_dates() -> None:
    start = local(2026, 11, 18, "Europe/Berlin")
    partial = period_at(start, tz_name="Europe/Berlin", anchor_day=1, contract_start=start)

    assert partial.label == "18\N{EN DASH}30 November 2026"
    assert period_label(start, start + dt.timedelta(days=1), "Europe/Berlin") == "18 November 2026"

"""A contract's own fields (customer, reference, currency, time zone, periods, dates, collection), and the
instants a vendor enters: a date means local midnight in the contract's zone; dates are bounded to a sane
range (FIRST_DAY..LAST_DAY)."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from contracts.terms.amounts import MinorAmount
from contracts.terms.parse import Terms
from core.currencies import DOC_URL as CURRENCIES_DOC_URL
from core.currencies import STRIPE_CURRENCIES, is_iso_currency, minor_units_help


@cache
def available_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _timezone(value: str) -> str:
    if value not in available_timezones():
        raise PydanticCustomError(
            "unknown_timezone",
            "{value} is not an IANA time zone (e.g. Europe/Berlin).",
            {"value": value},
        )
    return value


def _currency(value: str) -> str:
    code = value.upper()
    if code in STRIPE_CURRENCIES:
        return code
    if is_iso_currency(code):
        raise PydanticCustomError(
            "currency_not_supported",
            "{value} is not a currency Stripe can charge (see {url}).",
            {"value": code, "url": CURRENCIES_DOC_URL},
        )
    raise PydanticCustomError(
        "unknown_currency", "{value} is not an ISO 4217 currency code.", {"value": value}
    )


def _aware(value: dt.datetime | dt.date) -> dt.datetime | dt.date:
    if isinstance(value, dt.datetime) and value.utcoffset() is None:
        raise PydanticCustomError(
            "naive_datetime", "Give a UTC offset (e.g. 2026-01-01T00:00:00Z) or a date."
        )
    if _overflows_utc(value):
        raise PydanticCustomError(
            "instant_out_of_range", "Give an instant between the years 1 and 9999 in UTC."
        )
    day = value.astimezone(dt.UTC).date() if isinstance(value, dt.datetime) else value
    if not FIRST_DAY <= day <= LAST_DAY:
        raise PydanticCustomError(
            "date_out_of_range",
            "Give a date from {first} to {last} (an instant's date in UTC).",
            {"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()},
        )
    return value


def _overflows_utc(value: dt.datetime | dt.date) -> bool:
    """Whether an instant leaves datetime's range (years 1-9999) once turned into UTC, as it is stored."""
    if not isinstance(value, dt.datetime):
        return value == dt.date.min  # its midnight east of UTC falls in year 0
    try:
        value.astimezone(dt.UTC)
    except OverflowError:
        return True
    return False


def _plain_date_as_date(value: Any) -> Any:
    # "2026-04-01" is a calendar day in the contract's zone, not a naive midnight.
    if isinstance(value, str) and DATE_ONLY.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError(
                "date_parsing", "{value} is not a valid date.", {"value": value}
            ) from None
    return value


DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
# The range a contract's dates may take: no billing before the service existed, none past the century.
FIRST_DAY = dt.date(2000, 1, 1)
LAST_DAY = dt.date(2099, 12, 31)
Instant = Annotated[dt.datetime | dt.date, BeforeValidator(_plain_date_as_date), AfterValidator(_aware)]


def local_midnight(day: dt.date, tz_name: str) -> dt.datetime:
    """The instant a calendar day starts in a time zone (normalized when midnight is skipped by DST)."""
    tz = zoneinfo.ZoneInfo(tz_name)
    naive = dt.datetime.combine(day, dt.time())
    return naive.replace(tzinfo=tz).astimezone(dt.UTC).astimezone(tz)


def resolve_instant(value: dt.datetime | dt.date, tz_name: str) -> dt.datetime:
    """A date means its local midnight in the contract's zone; a datetime must carry an offset."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return local_midnight(value, tz_name).astimezone(dt.UTC)


class ContractHeader(Terms):
    """The contract's own fields (terms are versioned separately)."""

    customer_id: str
    reference: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^\S(.*\S)?$")]
    currency: Annotated[str, Field(min_length=3, max_length=3), AfterValidator(_currency)]
    timezone: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_timezone)]
    period_unit: Literal["month"] = "month"
    period_count: Annotated[int, Field(ge=1, le=12, strict=True)] = 1
    anchor_day: Annotated[int, Field(ge=1, le=31, strict=True)] = 1
    starts_at: Instant
    ends_at: Instant | None = None
    collection_method: Literal["charge_automatically", "send_invoice"] = "charge_automatically"
    days_until_due: Annotated[int, Field(ge=0, le=365, strict=True)] | None = None
    # A credit for outcomes reversed after their invoice was paid: to the customer's balance or refunded.
    credit_after_payment: Literal["customer_balance", "refund"] = "customer_balance"
    # Such a credit waits while the customer has an overdue invoice with the vendor (issued once it is paid).
    withhold_credits_while_overdue: Annotated[bool, Field(strict=True)] = True
    grace_period_hours: Annotated[int, Field(ge=0, le=24 * 60, strict=True)] = 72
    approval_threshold_minor: MinorAmount | None = Field(
        default=None,
        description=minor_units_help(
            "A draft whose total exceeds this is finalized only once the customer approves it (null: never)."
        ),
    )

    @model_validator(mode="after")
    def _consistent(self) -> ContractHeader:
        if self.collection_method == "send_invoice" and self.days_until_due is None:
            raise PydanticCustomError(
                "days_until_due_required", "days_until_due is required when sending invoices."
            )
        if self.collection_method == "charge_automatically" and self.days_until_due is not None:
            raise PydanticCustomError(
                "days_until_due_not_allowed", "days_until_due applies only to send_invoice."
            )
        ends_at = self.ends_at_utc
        if ends_at is not None and ends_at <= self.starts_at_utc:
            raise PydanticCustomError("end_before_start", "ends_at must be after starts_at.")
        return self

    @property
    def starts_at_utc(self) -> dt.datetime:
        return resolve_instant(self.starts_at, self.timezone)

    @property
    def ends_at_utc(self) -> dt.datetime | None:
        return None if self.ends_at is None else resolve_instant(self.ends_at, self.timezone)

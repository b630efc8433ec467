"""Contract terms as typed, validated models: the one validator the API and the portal share.

Prices are Decimal strings in major units of the contract currency (sub-cent allowed, e.g. "0.004"),
written and returned as plain digits ("100", never "1E+2"); per-period amounts (fees, commitments,
caps, per-outcome bounds) are integers in minor units. JSON numbers are refused for prices so a float
never enters money arithmetic. Dates a vendor enters are bounded to a sane range (FIRST_DAY..LAST_DAY).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from contracts.policy import VerificationPolicy
from core.currencies import DOC_URL as CURRENCIES_DOC_URL
from core.currencies import MINOR_UNITS, STRIPE_CURRENCIES, is_iso_currency, minor_units_help
from core.currencies import currency_exponent as currency_exponent  # re-exported for older imports
from core.errors import ValidationFailed, field_path

MAX_MINOR_AMOUNT = 10**15  # a quadrillion minor units: far above any invoice, far below BIGINT
MAX_PRICE = Decimal("1000000000")
# Digits with an optional fraction; a sign is let through so a negative gets its range error.
PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
DECIMAL_FIELDS = frozenset({"unit_price", "flat_fee", "package_price", "percent"})


def _decimal_from_string(value: Any) -> Any:
    if isinstance(value, float):
        raise PydanticCustomError(
            "decimal_as_string",
            'Send decimal prices as strings, e.g. "0.99", never as JSON numbers.',
        )
    if isinstance(value, bool):
        raise PydanticCustomError("decimal_parsing", "Input should be a decimal string.")
    if isinstance(value, str) and not PLAIN_DECIMAL.fullmatch(value) and _finite_number(value):
        # Decimal() also reads "1E2", " 1" and "1_000": a price is written one way only.
        raise PydanticCustomError(
            "invalid_decimal",
            'Write the decimal as plain digits, e.g. "100" or "0.505": no exponent, spaces or "+".',
        )
    return value


def _finite_number(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False


def _finite_decimal(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise PydanticCustomError("decimal_not_finite", "Input should be a finite decimal.")
    if value == 0:
        return Decimal(0)
    normalized = value.normalize()
    # normalize() turns 100 into 1E+2; an integer keeps exponent 0 so it reads as plain digits.
    return normalized.quantize(Decimal(1)) if normalized.as_tuple().exponent > 0 else normalized  # type: ignore[operator]


def plain_decimal(value: Decimal) -> str:
    """A decimal as plain digits, never in scientific notation: "100", "0.000000000001"."""
    return format(value, "f")


def pricing_as_plain(pricing: dict[str, Any]) -> dict[str, Any]:
    """Stored pricing with its decimals written plainly. Pricing stored before prices were kept plain
    may hold "1E+2"; reading it this way lets it be shown and re-submitted as "100"."""

    def plain(name: str, value: Any) -> Any:
        if name in DECIMAL_FIELDS and isinstance(value, str) and _finite_number(value):
            return plain_decimal(_finite_decimal(Decimal(value)))
        if name == "tiers" and isinstance(value, list):
            return [pricing_as_plain(tier) if isinstance(tier, dict) else tier for tier in value]
        return value

    return {name: plain(name, value) for name, value in pricing.items()}


PlainDecimal = PlainSerializer(plain_decimal, return_type=str, when_used="json")


def decimal_string_schema(*, integer_digits: int, decimal_places: int, bounds: str) -> WithJsonSchema:
    """A decimal string's JSON schema in standard keywords. Left to itself, pydantic copies the Field's
    bounds into keywords of its own (ge, le, max_digits, decimal_places) that no OpenAPI reader knows,
    since minimum and maximum would not apply to a string."""
    return WithJsonSchema(
        {
            "type": "string",
            "pattern": rf"^[0-9]{{1,{integer_digits}}}(\.[0-9]{{1,{decimal_places}}})?$",
            "description": f"A decimal as a string of plain digits, {bounds}, "
            f"with at most {decimal_places} decimal places.",
        }
    )


Price = Annotated[
    Decimal,
    BeforeValidator(_decimal_from_string),
    Field(ge=0, le=MAX_PRICE, max_digits=22, decimal_places=12),
    AfterValidator(_finite_decimal),
    PlainDecimal,
    decimal_string_schema(integer_digits=10, decimal_places=12, bounds=f"from 0 to {MAX_PRICE}"),
]
MinorAmount = Annotated[int, Field(ge=0, le=MAX_MINOR_AMOUNT, strict=True, description=MINOR_UNITS)]
PositiveMinorAmount = Annotated[int, Field(gt=0, le=MAX_MINOR_AMOUNT, strict=True, description=MINOR_UNITS)]

OUTCOME_TYPE_KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Terms(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- pricing models -------------------------------------------------------------------------


class PerUnitPricing(Terms):
    """Every billable unit at one price."""

    model: Literal["per_unit"]
    unit_price: Price


class Tier(Terms):
    up_to: Annotated[int, Field(gt=0, le=10**12, strict=True)] | None = Field(
        description="Last unit of this tier (inclusive); null on the last tier (no upper bound)."
    )
    unit_price: Price
    flat_fee: Price = Decimal(0)


class TieredPricing(Terms):
    """Graduated: each unit priced by the tier it falls in. Volume: all units at the tier the total reaches."""

    model: Literal["graduated", "volume"]
    tiers: Annotated[list[Tier], Field(min_length=1, max_length=50)]

    @field_validator("tiers")
    @classmethod
    def _tiers_ordered_and_open_ended(cls, tiers: list[Tier]) -> list[Tier]:
        previous: int | None = 0
        for index, tier in enumerate(tiers):
            last = index == len(tiers) - 1
            if tier.up_to is None and not last:
                raise PydanticCustomError(
                    "tier_unbounded_before_last",
                    "Only the last tier may have no upper bound (tier {index}).",
                    {"index": index},
                )
            if tier.up_to is not None and last:
                raise PydanticCustomError(
                    "tier_last_bounded",
                    "The last tier must have up_to null so every unit has a price.",
                )
            if tier.up_to is not None and previous is not None and tier.up_to <= previous:
                raise PydanticCustomError(
                    "tiers_not_increasing",
                    "Tier {index} ends at {up_to}, not above the previous tier's end {previous}:"
                    " tiers must be ordered and must not overlap.",
                    {"index": index, "up_to": tier.up_to, "previous": previous},
                )
            previous = tier.up_to
        return tiers


class PackagePricing(Terms):
    """Units sold in packages of `package_size`; a started package is billed whole."""

    model: Literal["package"]
    package_size: Annotated[int, Field(gt=0, le=10**9, strict=True)]
    package_price: Price


class PercentagePricing(Terms):
    """A success fee: `percent` of the outcome's reported value, bounded per outcome."""

    model: Literal["percentage"]
    percent: Annotated[
        Decimal,
        BeforeValidator(_decimal_from_string),
        Field(gt=0, le=100, max_digits=9, decimal_places=6),
        AfterValidator(_finite_decimal),
        PlainDecimal,
        decimal_string_schema(integer_digits=3, decimal_places=6, bounds="above 0 and at most 100"),
    ]
    min_fee_minor: MinorAmount | None = Field(
        default=None, description=minor_units_help("The least fee per outcome (null: none).")
    )
    max_fee_minor: PositiveMinorAmount | None = Field(
        default=None, description=minor_units_help("The most fee per outcome (null: none).")
    )

    @model_validator(mode="after")
    def _min_not_above_max(self) -> PercentagePricing:
        if (
            self.min_fee_minor is not None
            and self.max_fee_minor is not None
            and self.min_fee_minor > self.max_fee_minor
        ):
            raise PydanticCustomError(
                "min_above_max", "min_fee_minor must not be greater than max_fee_minor."
            )
        return self


Pricing = Annotated[
    PerUnitPricing | TieredPricing | PackagePricing | PercentagePricing,
    Field(discriminator="model"),
]


# --- version terms --------------------------------------------------------------------------


def _outcome_type_key(value: str) -> str:
    if not OUTCOME_TYPE_KEY.match(value):
        raise PydanticCustomError(
            "invalid_key", "Use lower-case words separated by dots, e.g. ticket.resolved."
        )
    return value


def _field_name(value: str) -> str:
    if not FIELD_NAME.match(value):
        raise PydanticCustomError("invalid_field_name", "Use a JSON field name such as ticket_id.")
    return value


class OutcomeTypeTerms(Terms):
    key: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_outcome_type_key)]
    description: Annotated[str, Field(max_length=300)] = ""
    natural_key_field: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            description="The top-level evidence field holding the natural key (e.g. ticket_id): an event "
            "without `natural_key` takes it from evidence.<field> (a string or an integer); an event with "
            "both is refused if they differ (422 natural_key_mismatch). No dotted paths.",
        ),
        AfterValidator(_field_name),
    ]
    billing_basis: Literal["per_task", "per_outcome"]
    pricing: Pricing
    free_units: Annotated[int, Field(ge=0, le=10**12, strict=True)] = 0
    cap_units: Annotated[int, Field(gt=0, le=10**12, strict=True)] | None = None
    cap_amount_minor: PositiveMinorAmount | None = Field(
        default=None,
        description=minor_units_help("The most this outcome type bills per period (null: no cap)."),
    )
    verification_policy: VerificationPolicy = Field(default_factory=VerificationPolicy)

    @model_validator(mode="after")
    def _percentage_needs_outcomes(self) -> OutcomeTypeTerms:
        if self.pricing.model == "percentage" and self.billing_basis != "per_outcome":
            raise PydanticCustomError(
                "percentage_needs_per_outcome",
                "A percentage-of-value price bills outcomes, not tasks.",
            )
        return self


def _sorted_unique_percents(values: list[int]) -> list[int]:
    return sorted(set(values))


class VersionTerms(Terms):
    """Everything an amendment can change."""

    platform_fee_minor: MinorAmount = Field(
        default=0, description=minor_units_help("A fixed fee per period.")
    )
    minimum_commitment_minor: MinorAmount = Field(
        default=0, description=minor_units_help("The least a period bills; a shortfall is trued up.")
    )
    cap_amount_minor: PositiveMinorAmount | None = Field(
        default=None, description=minor_units_help("The most the contract bills per period (null: no cap).")
    )
    budget_alert_percents: Annotated[
        list[Annotated[int, Field(ge=1, le=100, strict=True)]],
        Field(max_length=10),
        AfterValidator(_sorted_unique_percents),
    ] = Field(
        default_factory=lambda: [80, 95],
        description="Percents of cap_amount_minor at which to alert. Stored for the upcoming budget "
        "alerts (delivered by outbound webhooks); nothing is sent yet.",
    )
    notes: Annotated[str, Field(max_length=2000)] = ""
    outcome_types: Annotated[list[OutcomeTypeTerms], Field(min_length=1, max_length=50)]

    @model_validator(mode="after")
    def _keys_unique(self) -> VersionTerms:
        seen: set[str] = set()
        for outcome_type in self.outcome_types:
            if outcome_type.key in seen:
                raise PydanticCustomError(
                    "duplicate_outcome_type",
                    "Outcome type {key} appears twice.",
                    {"key": outcome_type.key},
                )
            seen.add(outcome_type.key)
        return self


# --- contract header ------------------------------------------------------------------------


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


class Amendment(Terms):
    """A new version: its terms and when they take effect (default: now)."""

    effective_from: Instant | None = None
    terms: VersionTerms


PRICING_TAGS = frozenset({"per_unit", "graduated", "volume", "package", "percentage"})
T = TypeVar("T", bound=BaseModel)


def _without_union_tags(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Pydantic puts the discriminator's value in an error's location; a user's path has no such step."""
    return tuple(
        part
        for index, part in enumerate(loc)
        if not (index > 0 and loc[index - 1] == "pricing" and part in PRICING_TAGS)
    )


def parse(model: type[T], data: Any, *, prefix: tuple[str | int, ...] = ()) -> T:
    """Validate input against a terms model, turning pydantic's errors into our field errors."""
    if not isinstance(data, dict):
        raise ValidationFailed("The request body must be a JSON object.", code="invalid_body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed.from_pairs(
            (
                field_path(_without_union_tags((*prefix, *error["loc"]))) or "non_field_errors",
                error["type"],
                error["msg"],
            )
            for error in exc.errors(include_url=False)
        ) from None

"""Contract terms validation: what contracts.terms.parse accepts, normalizes and refuses, and where."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic.json_schema import JsonSchemaMode

from contracts.terms import (
    MAX_PRICE,
    Amendment,
    ContractHeader,
    OutcomeTypeTerms,
    TieredPricing,
    VersionTerms,
    local_midnight,
    parse,
    pricing_as_plain,
    resolve_instant,
)
from core.errors import ValidationFailed
from tests.factories import outcome_type_terms, version_terms

UTC = dt.UTC


def refusal(model: type[Any], data: Any) -> dict[str, list[str]]:
    """Parse input expected to be refused; the codes per field path."""
    with pytest.raises(ValidationFailed) as caught:
        parse(model, data)
    assert caught.value.code == "validation_error"
    return {path: [item["code"] for item in items] for path, items in caught.value.field_errors.items()}


def with_pricing(pricing: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return version_terms(outcome_types=[outcome_type_terms(pricing=pricing, **overrides)])


def header(**overrides: Any) -> dict[str, Any]:
    return {
        "customer_id": "c9d1b1de-5f2a-4a8e-9a51-3c3b2f0f4a10",
        "reference": "CTR-1",
        "currency": "USD",
        "timezone": "Europe/Berlin",
        "starts_at": "2026-01-01",
        **overrides,
    }


# --- hypothesis: tier tables ------------------------------------------------------------------


@st.composite
def price_strings(draw: st.DrawFn) -> str:
    """A price as a user sends it: a plain decimal string, 0 to 1e9, up to 12 places."""
    places = draw(st.integers(min_value=0, max_value=12))
    units = draw(st.integers(min_value=0, max_value=int(MAX_PRICE) * 10**places))
    return format(Decimal(units).scaleb(-places), "f")


@st.composite
def valid_tier_tables(draw: st.DrawFn) -> dict[str, Any]:
    bounds = draw(st.lists(st.integers(min_value=1, max_value=10**12), min_size=0, max_size=9, unique=True))
    up_tos: list[int | None] = [*sorted(bounds), None]
    tiers = []
    for up_to in up_tos:
        tier: dict[str, Any] = {"up_to": up_to, "unit_price": draw(price_strings())}
        if draw(st.booleans()):
            tier["flat_fee"] = draw(price_strings())
        tiers.append(tier)
    return {"model": draw(st.sampled_from(["graduated", "volume"])), "tiers": tiers}


@settings(max_examples=150, deadline=None)
@given(table=valid_tier_tables())
def test_valid_tier_table_parses_and_round_trips(table: dict[str, Any]) -> None:
    # given a well-formed graduated or volume tier table
    # when it is parsed, then stored as JSON and parsed again
    parsed = parse(VersionTerms, with_pricing(table))
    stored = parsed.model_dump(mode="json")
    reparsed = parse(VersionTerms, stored)

    # then nothing is lost: bounds and prices are exactly what was sent, and the JSON re-parses equal
    pricing = parsed.outcome_types[0].pricing
    assert isinstance(pricing, TieredPricing)
    assert pricing.model == table["model"]
    assert [tier.up_to for tier in pricing.tiers] == [tier["up_to"] for tier in table["tiers"]]
    assert [tier.unit_price for tier in pricing.tiers] == [Decimal(t["unit_price"]) for t in table["tiers"]]
    assert [tier.flat_fee for tier in pricing.tiers] == [
        Decimal(t.get("flat_fee", "0")) for t in table["tiers"]
    ]
    assert all(isinstance(tier["unit_price"], str) for tier in stored["outcome_types"][0]["pricing"]["tiers"])
    assert reparsed == parsed


@st.composite
def broken_tier_tables(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A valid table with one defect, and the code that defect must be refused with."""
    table = draw(valid_tier_tables())
    tiers = table["tiers"]
    defects = ["last_bounded"]
    if len(tiers) >= 2:
        defects.append("unbounded_before_last")
    if len(tiers) >= 3:
        defects.append("not_increasing")
    defect = draw(st.sampled_from(defects))
    if defect == "last_bounded":
        tiers[-1]["up_to"] = draw(st.integers(min_value=1, max_value=10**12))
        return table, "tier_last_bounded"
    if defect == "unbounded_before_last":
        index = draw(st.integers(min_value=0, max_value=len(tiers) - 2))
        tiers[index]["up_to"] = None
        return table, "tier_unbounded_before_last"
    # overlapping or duplicate: a bound at or below the previous tier's bound
    index = draw(st.integers(min_value=1, max_value=len(tiers) - 2))
    tiers[index]["up_to"] = draw(st.integers(min_value=1, max_value=tiers[index - 1]["up_to"]))
    return table, "tiers_not_increasing"


@settings(max_examples=150, deadline=None)
@given(case=broken_tier_tables())
def test_defective_tier_table_is_refused_with_its_code(case: tuple[dict[str, Any], str]) -> None:
    # given a tier table with exactly one structural defect
    table, expected_code = case

    # when it is parsed, then it is refused on the tiers themselves, with the defect's code only
    assert refusal(VersionTerms, with_pricing(table)) == {"outcome_types[0].pricing.tiers": [expected_code]}


def test_duplicate_tier_bound_is_refused_as_not_increasing() -> None:
    table = {
        "model": "graduated",
        "tiers": [
            {"up_to": 100, "unit_price": "1.00"},
            {"up_to": 100, "unit_price": "0.80"},
            {"up_to": None, "unit_price": "0.50"},
        ],
    }
    assert refusal(OutcomeTypeTerms, outcome_type_terms(pricing=table)) == {
        "pricing.tiers": ["tiers_not_increasing"]
    }


def test_empty_tier_table_is_refused() -> None:
    assert refusal(OutcomeTypeTerms, outcome_type_terms(pricing={"model": "volume", "tiers": []})) == {
        "pricing.tiers": ["too_short"]
    }


# --- prices ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit_price", "code"),
    [
        ("-0.01", "greater_than_equal"),
        (0.9, "decimal_as_string"),
        (True, "decimal_parsing"),
        ("NaN", "finite_number"),
        ("sNaN", "finite_number"),
        ("Infinity", "finite_number"),
        ("-Infinity", "finite_number"),
        ("1e100", "invalid_decimal"),
        ("1000000000.000000000001", "less_than_equal"),
        ("1" * 40, "less_than_equal"),
        ("0.0000000000001", "decimal_max_places"),
        ("ninety cents", "decimal_parsing"),
    ],
)
def test_bad_unit_price_is_refused(unit_price: Any, code: str) -> None:
    pricing = {"model": "per_unit", "unit_price": unit_price}
    assert refusal(VersionTerms, with_pricing(pricing)) == {"outcome_types[0].pricing.unit_price": [code]}


@pytest.mark.parametrize(
    ("unit_price", "expected"),
    [
        ("0", Decimal(0)),
        ("0.000000000001", Decimal("0.000000000001")),
        ("0.90", Decimal("0.9")),
        ("1000000000", MAX_PRICE),
    ],
)
def test_price_at_the_bounds_is_accepted_and_normalized(unit_price: str, expected: Decimal) -> None:
    parsed = parse(
        OutcomeTypeTerms, outcome_type_terms(pricing={"model": "per_unit", "unit_price": unit_price})
    )
    assert parsed.pricing.model == "per_unit"
    assert parsed.pricing.unit_price == expected
    assert format(parsed.pricing.unit_price, "f") == format(expected, "f")
    assert parsed.pricing.unit_price.as_tuple().exponent == -len(format(expected, "f").partition(".")[2])


@pytest.mark.parametrize(
    "written", ["1E2", "1e2", "1E+2", "10E1", " 1", "1 ", "1_000", "+1", ".5", "5.", "\u0661"]
)
@pytest.mark.parametrize(
    ("pricing", "path"),
    [
        ({"model": "per_unit", "unit_price": "{}"}, "unit_price"),
        ({"model": "package", "package_size": 10, "package_price": "{}"}, "package_price"),
        ({"model": "volume", "tiers": [{"up_to": None, "unit_price": "{}"}]}, "tiers[0].unit_price"),
        (
            {"model": "volume", "tiers": [{"up_to": None, "unit_price": "1", "flat_fee": "{}"}]},
            "tiers[0].flat_fee",
        ),
        ({"model": "percentage", "percent": "{}"}, "percent"),
    ],
)
def test_decimal_not_written_as_plain_digits_is_refused(
    written: str, pricing: dict[str, Any], path: str
) -> None:
    # given a decimal Python's Decimal() would read, but written with an exponent, spaces or a "+"
    def fill(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: fill(item) for key, item in value.items()}
        if isinstance(value, list):
            return [fill(item) for item in value]
        return written if value == "{}" else value

    # when it is parsed, then it is refused on that very field as invalid_decimal
    assert refusal(
        OutcomeTypeTerms, outcome_type_terms(billing_basis="per_outcome", pricing=fill(pricing))
    ) == {f"pricing.{path}": ["invalid_decimal"]}


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("100", "100"),
        ("1000000000", "1000000000"),
        ("100.00", "100"),
        ("0.505", "0.505"),
        ("0.50", "0.5"),
        ("0.000000000001", "0.000000000001"),
        ("0.0000001", "0.0000001"),
        ("0", "0"),
        ("0.000", "0"),
    ],
)
def test_prices_are_stored_as_plain_normalized_digits(sent: str, stored: str) -> None:
    # given prices and a tier table holding the value as sent
    terms = version_terms(
        outcome_types=[
            outcome_type_terms(key="a", pricing={"model": "per_unit", "unit_price": sent}),
            outcome_type_terms(
                key="b",
                pricing={
                    "model": "graduated",
                    "tiers": [{"up_to": None, "unit_price": sent, "flat_fee": sent}],
                },
            ),
            outcome_type_terms(
                key="c", pricing={"model": "package", "package_size": 5, "package_price": sent}
            ),
        ]
    )

    # when they are parsed and dumped as they are stored
    dumped = parse(VersionTerms, terms).model_dump(mode="json")

    # then every price reads as plain digits, never in scientific notation
    per_unit, tiered, package = (item["pricing"] for item in dumped["outcome_types"])
    assert per_unit["unit_price"] == stored
    assert tiered["tiers"][0] == {"up_to": None, "unit_price": stored, "flat_fee": stored}
    assert package["package_price"] == stored


def test_a_percent_is_stored_as_plain_digits() -> None:
    pricing = {"model": "percentage", "percent": "10"}
    parsed = parse(OutcomeTypeTerms, outcome_type_terms(billing_basis="per_outcome", pricing=pricing))
    assert parsed.model_dump(mode="json")["pricing"]["percent"] == "10"


def test_pricing_stored_in_scientific_notation_reads_as_plain_digits_and_parses_again() -> None:
    # given pricing stored before prices were kept plain
    stored: dict[str, Any] = {
        "model": "graduated",
        "tiers": [
            {"up_to": 10, "unit_price": "1E+2", "flat_fee": "5E+1"},
            {"up_to": None, "unit_price": "1E-7", "flat_fee": "0"},
        ],
    }

    # when it is read
    read = pricing_as_plain(stored)

    # then it is plain, and a vendor re-submitting it unchanged is not refused
    assert read == {
        "model": "graduated",
        "tiers": [
            {"up_to": 10, "unit_price": "100", "flat_fee": "50"},
            {"up_to": None, "unit_price": "0.0000001", "flat_fee": "0"},
        ],
    }
    assert (
        parse(OutcomeTypeTerms, outcome_type_terms(pricing=read)).model_dump(mode="json")["pricing"] == read
    )
    assert stored["tiers"][0]["unit_price"] == "1E+2"  # the stored value itself is left alone


def test_float_tier_price_is_refused_as_decimal_as_string() -> None:
    table = {"model": "graduated", "tiers": [{"up_to": None, "unit_price": 0.5}]}
    assert refusal(VersionTerms, with_pricing(table)) == {
        "outcome_types[0].pricing.tiers[0].unit_price": ["decimal_as_string"]
    }


def test_tier_bound_beyond_a_trillion_is_refused() -> None:
    table = {
        "model": "volume",
        "tiers": [{"up_to": 10**12 + 1, "unit_price": "1"}, {"up_to": None, "unit_price": "1"}],
    }
    assert refusal(OutcomeTypeTerms, outcome_type_terms(pricing=table)) == {
        "pricing.tiers[0].up_to": ["less_than_equal"]
    }


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("platform_fee_minor", -1, "greater_than_equal"),
        ("platform_fee_minor", 10**15 + 1, "less_than_equal"),
        ("platform_fee_minor", 100.0, "int_type"),
        ("platform_fee_minor", "100", "int_type"),
        ("minimum_commitment_minor", -1, "greater_than_equal"),
        ("cap_amount_minor", 0, "greater_than"),
    ],
)
def test_bad_minor_amount_is_refused(field: str, value: Any, code: str) -> None:
    assert refusal(VersionTerms, version_terms(**{field: value})) == {field: [code]}


def test_minor_amounts_at_the_bounds_are_accepted() -> None:
    parsed = parse(
        VersionTerms,
        version_terms(platform_fee_minor=10**15, minimum_commitment_minor=0, cap_amount_minor=1),
    )
    assert (parsed.platform_fee_minor, parsed.minimum_commitment_minor, parsed.cap_amount_minor) == (
        10**15,
        0,
        1,
    )


def test_budget_alert_percents_are_sorted_and_deduplicated() -> None:
    parsed = parse(VersionTerms, version_terms(budget_alert_percents=[95, 50, 95, 100, 1]))
    assert parsed.budget_alert_percents == [1, 50, 95, 100]


# --- percentage, package, billing basis ----------------------------------------------------


@pytest.mark.parametrize(
    ("percent", "code"),
    [
        ("0", "greater_than"),
        ("-1", "greater_than"),
        ("100.000001", "less_than_equal"),
        (12.5, "decimal_as_string"),
    ],
)
def test_percent_out_of_range_is_refused(percent: Any, code: str) -> None:
    pricing = {"model": "percentage", "percent": percent}
    assert refusal(OutcomeTypeTerms, outcome_type_terms(pricing=pricing)) == {"pricing.percent": [code]}


@pytest.mark.parametrize("percent", ["100", "0.000001", "12.5"])
def test_percent_within_range_is_accepted(percent: str) -> None:
    parsed = parse(OutcomeTypeTerms, outcome_type_terms(pricing={"model": "percentage", "percent": percent}))
    assert parsed.pricing.model == "percentage"
    assert parsed.pricing.percent == Decimal(percent)


def test_minimum_fee_above_maximum_fee_is_refused() -> None:
    pricing = {"model": "percentage", "percent": "10", "min_fee_minor": 501, "max_fee_minor": 500}
    assert refusal(OutcomeTypeTerms, outcome_type_terms(pricing=pricing)) == {"pricing": ["min_above_max"]}


def test_minimum_fee_equal_to_maximum_fee_is_accepted() -> None:
    pricing = {"model": "percentage", "percent": "10", "min_fee_minor": 500, "max_fee_minor": 500}
    parsed = parse(OutcomeTypeTerms, outcome_type_terms(pricing=pricing))
    assert parsed.pricing.model == "percentage"
    assert (parsed.pricing.min_fee_minor, parsed.pricing.max_fee_minor) == (500, 500)


def test_package_of_zero_units_is_refused() -> None:
    pricing = {"model": "package", "package_size": 0, "package_price": "10.00"}
    assert refusal(OutcomeTypeTerms, outcome_type_terms(pricing=pricing)) == {
        "pricing.package_size": ["greater_than"]
    }


def test_percentage_billed_per_task_is_refused() -> None:
    data = outcome_type_terms(billing_basis="per_task", pricing={"model": "percentage", "percent": "5"})
    assert refusal(OutcomeTypeTerms, data) == {"non_field_errors": ["percentage_needs_per_outcome"]}


def test_unknown_pricing_model_is_refused() -> None:
    pricing = {"model": "auction", "unit_price": "1"}
    assert refusal(OutcomeTypeTerms, outcome_type_terms(pricing=pricing)) == {
        "pricing": ["union_tag_invalid"]
    }


# --- outcome types --------------------------------------------------------------------------


def test_duplicate_outcome_type_key_is_refused() -> None:
    data = version_terms(outcome_types=[outcome_type_terms(), outcome_type_terms(description="again")])
    assert refusal(VersionTerms, data) == {"non_field_errors": ["duplicate_outcome_type"]}


@pytest.mark.parametrize(
    "key", ["Ticket.Resolved", "ticket..resolved", "ticket.", "1ticket", "ticket resolved"]
)
def test_malformed_outcome_type_key_is_refused(key: str) -> None:
    data = version_terms(outcome_types=[outcome_type_terms(key=key)])
    assert refusal(VersionTerms, data) == {"outcome_types[0].key": ["invalid_key"]}


@pytest.mark.parametrize("key", ["ticket", "ticket.resolved", "crm.deal_won.v2"])
def test_well_formed_outcome_type_key_is_accepted(key: str) -> None:
    assert parse(OutcomeTypeTerms, outcome_type_terms(key=key)).key == key


def test_no_outcome_types_is_refused() -> None:
    assert refusal(VersionTerms, version_terms(outcome_types=[])) == {"outcome_types": ["too_short"]}


def test_unknown_fields_are_refused_at_every_level() -> None:
    # given unknown fields on the version, an outcome type and its pricing
    outcome_type = outcome_type_terms(
        colour="red", pricing={"model": "per_unit", "unit_price": "1", "vat": "0"}
    )
    data = version_terms(outcome_types=[outcome_type], surprise=True)

    # then each is refused where it was sent
    assert refusal(VersionTerms, data) == {
        "surprise": ["extra_forbidden"],
        "outcome_types[0].colour": ["extra_forbidden"],
        "outcome_types[0].pricing.vat": ["extra_forbidden"],
    }


def test_input_that_is_not_an_object_is_refused_as_a_whole() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse(VersionTerms, ["outcome_types"])
    assert caught.value.code == "invalid_body"
    assert caught.value.field_errors == {}


# --- contract header: currency, time zone, instants ------------------------------------------


@pytest.mark.parametrize(("sent", "stored"), [("USD", "USD"), ("usd", "USD"), ("Jpy", "JPY"), ("KWD", "KWD")])
def test_currency_is_accepted_and_upper_cased(sent: str, stored: str) -> None:
    assert parse(ContractHeader, header(currency=sent)).currency == stored


@pytest.mark.parametrize("currency", ["XXX", "XAU", "XDR", "ZZZ"])
def test_currency_without_a_minor_unit_or_unknown_is_refused(currency: str) -> None:
    assert refusal(ContractHeader, header(currency=currency)) == {"currency": ["unknown_currency"]}


@pytest.mark.parametrize("currency", ["IQD", "LYD", "VES", "iqd"])
def test_an_iso_currency_stripe_cannot_charge_is_refused_by_name(currency: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse(ContractHeader, header(currency=currency))
    [error] = caught.value.field_errors["currency"]
    assert error["code"] == "currency_not_supported"
    assert error["message"].startswith(f"{currency.upper()} is not a currency Stripe can charge")


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "UTC", "Asia/Kolkata"])
def test_iana_time_zone_is_accepted(zone: str) -> None:
    assert parse(ContractHeader, header(timezone=zone)).timezone == zone


@pytest.mark.parametrize("zone", ["europe/berlin", "Mars/Olympus", "CET+1", "+02:00"])
def test_unknown_time_zone_is_refused(zone: str) -> None:
    assert refusal(ContractHeader, header(timezone=zone)) == {"timezone": ["unknown_timezone"]}


@pytest.mark.parametrize("field", ["starts_at", "ends_at"])
def test_naive_datetime_is_refused(field: str) -> None:
    assert refusal(ContractHeader, header(**{field: "2026-06-01T00:00:00"})) == {field: ["naive_datetime"]}


def test_naive_effective_from_of_an_amendment_is_refused() -> None:
    data = {"effective_from": "2026-06-01T09:00:00", "terms": version_terms()}
    assert refusal(Amendment, data) == {"effective_from": ["naive_datetime"]}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("starts_at", "9999-12-31"),
        ("starts_at", "2100-01-01"),
        ("starts_at", "1999-12-31"),
        ("starts_at", "1970-01-01T00:00:00Z"),
        ("starts_at", "2099-12-31T23:00:00-05:00"),  # 2100-01-01 in UTC
        ("ends_at", "2100-01-01"),
        ("ends_at", "9999-12-31T00:00:00Z"),
    ],
)
def test_a_date_outside_the_sane_range_is_refused(field: str, value: str) -> None:
    assert refusal(ContractHeader, header(**{field: value})) == {field: ["date_out_of_range"]}


def test_an_amendment_effective_outside_the_sane_range_is_refused() -> None:
    data = {"effective_from": "9999-12-31", "terms": version_terms()}
    assert refusal(Amendment, data) == {"effective_from": ["date_out_of_range"]}


def test_dates_at_the_edges_of_the_sane_range_are_accepted() -> None:
    parsed = parse(ContractHeader, header(starts_at="2000-01-01", ends_at="2099-12-31T23:59:59Z"))
    assert (parsed.starts_at, parsed.ends_at) == (
        dt.date(2000, 1, 1),
        dt.datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC),
    )


def test_impossible_date_is_refused() -> None:
    assert refusal(ContractHeader, header(starts_at="2026-02-30")) == {"starts_at": ["date_parsing"]}


def test_datetime_with_offset_is_kept_as_that_instant() -> None:
    parsed = parse(ContractHeader, header(starts_at="2026-06-01T09:30:00+02:00"))
    assert parsed.starts_at_utc == dt.datetime(2026, 6, 1, 7, 30, tzinfo=UTC)


def test_date_means_local_midnight_in_the_contract_zone() -> None:
    parsed = parse(ContractHeader, header(timezone="America/New_York", starts_at="2026-01-01"))
    assert parsed.starts_at == dt.date(2026, 1, 1)
    assert parsed.starts_at_utc == dt.datetime(2026, 1, 1, 5, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "zone", "utc"),
    [
        # Berlin: midnight before the spring switch is still CET (+1), before the autumn one CEST (+2)
        (dt.date(2026, 3, 29), "Europe/Berlin", dt.datetime(2026, 3, 28, 23, 0, tzinfo=UTC)),
        (dt.date(2026, 3, 30), "Europe/Berlin", dt.datetime(2026, 3, 29, 22, 0, tzinfo=UTC)),
        (dt.date(2026, 10, 25), "Europe/Berlin", dt.datetime(2026, 10, 24, 22, 0, tzinfo=UTC)),
        (dt.date(2026, 10, 26), "Europe/Berlin", dt.datetime(2026, 10, 25, 23, 0, tzinfo=UTC)),
        # New York switches at 02:00 local, so midnight keeps the old offset on switch days
        (dt.date(2026, 3, 8), "America/New_York", dt.datetime(2026, 3, 8, 5, 0, tzinfo=UTC)),
        (dt.date(2026, 3, 9), "America/New_York", dt.datetime(2026, 3, 9, 4, 0, tzinfo=UTC)),
        (dt.date(2026, 11, 1), "America/New_York", dt.datetime(2026, 11, 1, 4, 0, tzinfo=UTC)),
        (dt.date(2026, 11, 2), "America/New_York", dt.datetime(2026, 11, 2, 5, 0, tzinfo=UTC)),
        # Santiago and Beirut skip midnight itself: the day starts at 01:00 local, the skipped hour's end
        (dt.date(2026, 9, 6), "America/Santiago", dt.datetime(2026, 9, 6, 4, 0, tzinfo=UTC)),
        (dt.date(2026, 3, 29), "Asia/Beirut", dt.datetime(2026, 3, 28, 22, 0, tzinfo=UTC)),
    ],
)
def test_resolve_instant_of_a_date_across_dst(day: dt.date, zone: str, utc: dt.datetime) -> None:
    resolved = resolve_instant(day, zone)
    assert resolved == utc
    assert resolved.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    ("day", "zone", "wall_clock", "offset_hours"),
    [
        (dt.date(2026, 3, 29), "Europe/Berlin", dt.time(0, 0), 1),
        (dt.date(2026, 10, 25), "Europe/Berlin", dt.time(0, 0), 2),
        (dt.date(2026, 9, 6), "America/Santiago", dt.time(1, 0), -3),
        (dt.date(2026, 9, 5), "America/Santiago", dt.time(0, 0), -4),
        (dt.date(2026, 3, 29), "Asia/Beirut", dt.time(1, 0), 3),
    ],
)
def test_local_midnight_is_the_first_instant_of_the_day(
    day: dt.date, zone: str, wall_clock: dt.time, offset_hours: int
) -> None:
    midnight = local_midnight(day, zone)
    assert midnight.tzinfo == zoneinfo.ZoneInfo(zone)
    assert (midnight.date(), midnight.time()) == (day, wall_clock)
    assert midnight.utcoffset() == dt.timedelta(hours=offset_hours)
    # one second earlier is still the previous calendar day there
    assert (midnight.astimezone(dt.UTC) - dt.timedelta(seconds=1)).astimezone(
        zoneinfo.ZoneInfo(zone)
    ).date() == day - dt.timedelta(days=1)


def test_resolve_instant_of_a_datetime_ignores_the_contract_zone() -> None:
    instant = dt.datetime(2026, 3, 29, 2, 30, tzinfo=dt.timezone(dt.timedelta(hours=5)))
    assert resolve_instant(instant, "Europe/Berlin") == dt.datetime(2026, 3, 28, 21, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "ends_at",
    [
        "2026-01-01",  # the same day: zero length
        "2025-12-31",
        "2025-12-31T23:00:00Z",  # exactly the Berlin midnight that starts 2026-01-01
    ],
)
def test_end_not_after_start_is_refused(ends_at: str) -> None:
    assert refusal(ContractHeader, header(starts_at="2026-01-01", ends_at=ends_at)) == {
        "non_field_errors": ["end_before_start"]
    }


def test_end_one_second_after_start_is_accepted() -> None:
    parsed = parse(ContractHeader, header(starts_at="2026-01-01", ends_at="2025-12-31T23:00:01Z"))
    assert parsed.ends_at_utc == dt.datetime(2025, 12, 31, 23, 0, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"collection_method": "send_invoice"}, {"non_field_errors": ["days_until_due_required"]}),
        ({"days_until_due": 30}, {"non_field_errors": ["days_until_due_not_allowed"]}),
        ({"anchor_day": 0}, {"anchor_day": ["greater_than_equal"]}),
        ({"anchor_day": 32}, {"anchor_day": ["less_than_equal"]}),
        ({"period_count": 13}, {"period_count": ["less_than_equal"]}),
        ({"reference": " padded"}, {"reference": ["string_pattern_mismatch"]}),
        ({"period_unit": "week"}, {"period_unit": ["literal_error"]}),
    ],
)
def test_inconsistent_header_is_refused(overrides: dict[str, Any], errors: dict[str, list[str]]) -> None:
    assert refusal(ContractHeader, header(**overrides)) == errors


def test_send_invoice_with_days_until_due_is_accepted() -> None:
    parsed = parse(ContractHeader, header(collection_method="send_invoice", days_until_due=0))
    assert (parsed.collection_method, parsed.days_until_due) == ("send_invoice", 0)


@pytest.mark.parametrize("mode", ["validation", "serialization"])
def test_a_price_is_described_in_standard_json_schema_keywords(mode: JsonSchemaMode) -> None:
    """Pydantic wrote the Field's bounds as `ge`, `le`, `max_digits`, `decimal_places`: no OpenAPI reader
    knows them. A price is a string of plain digits, its bounds in a pattern and in words."""
    pricing = VersionTerms.model_json_schema(mode=mode)["$defs"]
    unit_price = pricing["PerUnitPricing"]["properties"]["unit_price"]
    percent = pricing["PercentagePricing"]["properties"]["percent"]

    assert unit_price == {
        "type": "string",
        "pattern": r"^[0-9]{1,10}(\.[0-9]{1,12})?$",
        "description": "A decimal as a string of plain digits, from 0 to 1000000000, with at most 12 decimal places.",
        "title": "Unit Price",
    }
    assert percent["pattern"] == r"^[0-9]{1,3}(\.[0-9]{1,6})?$"
    assert set(percent) == {"type", "pattern", "description", "title"}

"""Contract terms as typed, validated models: the one validator the API, the portal and the admin share.

Prices are Decimal strings in major units of the contract currency (sub-cent allowed, e.g. "0.004"),
written and returned as plain digits ("100", never "1E+2"); per-period amounts (fees, commitments,
caps, per-outcome bounds) are integers in minor units. JSON numbers are refused for prices so a float
never enters money arithmetic. Dates a vendor enters are bounded to a sane range (FIRST_DAY..LAST_DAY).

A module per part: amounts (prices and minor amounts), pricing (the pricing models), outcome_types,
versions (version terms and amendments), header (the contract's own fields and instants), parse (the
models' base and the validator). This package's names are the terms API the other apps import.
"""

from contracts.terms.amounts import (
    MAX_MINOR_AMOUNT,
    MAX_PRICE,
    MinorAmount,
    PositiveMinorAmount,
    Price,
    plain_decimal,
)
from contracts.terms.header import (
    FIRST_DAY,
    LAST_DAY,
    ContractHeader,
    Instant,
    available_timezones,
    local_midnight,
    resolve_instant,
)
from contracts.terms.outcome_types import OutcomeTypeTerms
from contracts.terms.parse import Terms, parse
from contracts.terms.pricing import (
    PackagePricing,
    PercentagePricing,
    PerUnitPricing,
    Pricing,
    Tier,
    TieredPricing,
    pricing_as_plain,
)
from contracts.terms.versions import Amendment, VersionTerms
from core.currencies import currency_exponent  # the terms' currencies' exponents, as settlement reads them

__all__ = [
    "FIRST_DAY",
    "LAST_DAY",
    "MAX_MINOR_AMOUNT",
    "MAX_PRICE",
    "Amendment",
    "ContractHeader",
    "Instant",
    "MinorAmount",
    "OutcomeTypeTerms",
    "PackagePricing",
    "PerUnitPricing",
    "PercentagePricing",
    "PositiveMinorAmount",
    "Price",
    "Pricing",
    "Terms",
    "Tier",
    "TieredPricing",
    "VersionTerms",
    "available_timezones",
    "currency_exponent",
    "local_midnight",
    "parse",
    "plain_decimal",
    "pricing_as_plain",
    "resolve_instant",
]

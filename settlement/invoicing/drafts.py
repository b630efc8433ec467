"""What a draft invoice is made of while it is (re)built: the rows rating reads, the lines it
computes, and the period of a contract a draft covers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from contracts.models import Contract
from contracts.periods import Period, period_at
from settlement.models import (
    Invoice,
    InvoiceLine,
)

ZERO = Decimal(0)
# Where held_over_cap reports what the contract's own amount cap held (beside what each outcome type's
# cap held, under the type's key): never an outcome type key, which has no parentheses.
CONTRACT_CAP_KEY = "(contract)"


@dataclass
class LineDraft:
    kind: str
    description: str
    amount: Decimal  # exact minor units; rounded once when stored
    quantity: int = 0
    unit_price: str = ""
    outcome_type_key: str = ""
    version_id: int | None = None
    tier: int | None = None
    shares: dict[int, Decimal] = field(default_factory=dict)  # outcome id -> exact share
    outcomes: int = 0  # usage: the outcomes it bills (len(shares) unless rated from counts)
    details: dict[str, Any] = field(default_factory=dict)


def contract_period(contract: Contract, at: dt.datetime) -> Period:
    return period_at(
        at,
        tz_name=contract.timezone,
        anchor_day=contract.anchor_day,
        months=contract.period_count,
        contract_start=contract.starts_at,
        contract_end=contract.ends_at,
    )


class Billable(NamedTuple):
    """What rating reads of a billable outcome (a row, not a model instance: a draft may bill millions)."""

    pk: int
    version_id: int | None
    outcome_type_key: str
    price_percent: int
    value_minor: int | None


# Billable's fields as Outcome's columns.
BILLABLE_COLUMNS = ["id", "version_id", "outcome_type_key", "price_percent", "value_minor"]


class AuditRow(NamedTuple):
    """What the audit adjustment reads of one audit sample."""

    occurred_at: dt.datetime
    answer: str
    deadline: dt.datetime
    version_id: int | None
    outcome_type_key: str


@dataclass
class Draft:
    """One draft invoice being (re)built, with what its contract's batch reads for it."""

    invoice: Invoice
    period: Period
    outcomes: list[Billable] = field(default_factory=list)
    audit_samples: list[AuditRow] = field(default_factory=list)

    @property
    def contract(self) -> Contract:
        return self.invoice.contract


@dataclass
class Built:
    """What a rebuild stored for one draft: its lines, and the outcomes its usage lines bill."""

    lines: list[InvoiceLine] = field(default_factory=list)
    billed: list[int] = field(default_factory=list)


def unsaved_invoice(contract: Contract, period: Period, **fields: Any) -> Invoice:
    return Invoice(
        vendor_id=contract.vendor_id,
        contract=contract,
        period_start=period.start,
        period_end=period.end,
        currency=contract.currency,
        **fields,
    )

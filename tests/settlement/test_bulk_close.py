"""The bulk close: many periods closed in one transaction give exactly what closing them one by one gives."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from outcomes.models import Outcome
from settlement.invoicing.close import period_close, periods_close, periods_in_batches
from settlement.invoicing.rebuild import invoice_rebuild
from settlement.management.commands.close_periods import close
from settlement.models import Invoice, LineOutcome
from tests.factories import outcome_type_terms, version_terms
from tests.support.ingest import Ingest, make_ingest
from tests.support.settlement import APRIL, FAST, GRADUATED, MARCH, billable

pytestmark = pytest.mark.django_db

MAY = dt.datetime(2026, 5, 1, 4, 0, tzinfo=dt.UTC)


def snapshot(invoice: Invoice) -> tuple[Any, ...]:
    """Everything a draft says: its lines, total, held outcomes, and which outcome each line bills at what share."""
    invoice.refresh_from_db()
    return (
        invoice.total_minor,
        invoice.held_over_cap,
        [
            (line.kind, line.description, line.quantity, line.amount_minor, line.details)
            for line in invoice.lines.order_by("position")
        ],
        sorted(
            LineOutcome.objects.filter(line__invoice=invoice).values_list(
                "line__position", "outcome__natural_key", "share_minor"
            )
        ),
    )


def contracts_with_outcomes() -> list[Ingest]:
    per_unit = version_terms(
        platform_fee_minor=2_500,
        minimum_commitment_minor=50_000,
        outcome_types=[
            outcome_type_terms(
                pricing={"model": "per_unit", "unit_price": "0.333"},
                cap_amount_minor=100,
                verification_policy=FAST,
            )
        ],
    )
    graduated = version_terms(
        platform_fee_minor=10_000,
        outcome_types=[outcome_type_terms(pricing=GRADUATED, free_units=1, verification_policy=FAST)],
    )
    contracts = [
        make_ingest(terms=per_unit),
        make_ingest(terms=graduated),
    ]
    for count, ingest in zip((40, 7), contracts, strict=True):
        billable(ingest, count, MARCH + dt.timedelta(days=2))
    return contracts


def test_a_batch_of_contracts_closes_as_each_would_alone() -> None:
    contracts = contracts_with_outcomes()

    invoices = periods_close(periods=[(c.contract.pk, MARCH) for c in contracts], now=APRIL)

    assert [i.contract_id for i in invoices] == [c.contract.pk for c in contracts]
    batched = [snapshot(invoice) for invoice in invoices]
    capped, graduated = batched
    # 3 x 33.3 cents stay within the 100-cent cap; the other 37 are held, and the invoice says so.
    assert capped[1]["ticket.resolved"]["cap_amount_minor"] == 100
    assert len(capped[1]["ticket.resolved"]["outcomes"]) == 37
    assert capped[0] == 100 + 2_500 + 49_900  # usage 99.9 -> 100; true-up 50,000 - 99.9 -> 49,900
    assert graduated[0] == 10_000 + 200 + 202  # 1 free, 2 x 1.00, 4 x 0.505
    for invoice, expected in zip(invoices, batched, strict=True):
        assert snapshot(invoice_rebuild(invoice_id=invoice.pk, now=APRIL)) == expected  # a batch of one
        assert (
            snapshot(period_close(contract_id=invoice.contract_id, period_start=MARCH, now=APRIL)) == expected
        )
    assert Invoice.objects.count() == 2


def test_a_contracts_missed_periods_closed_together_split_its_outcomes_by_period() -> None:
    ingest = make_ingest(
        terms=version_terms(
            platform_fee_minor=0,
            outcome_types=[outcome_type_terms(pricing=GRADUATED, verification_policy=FAST)],
        )
    )
    billable(ingest, 3, MARCH + dt.timedelta(days=1))
    billable(ingest, 2, APRIL + dt.timedelta(days=1), prefix="U")

    march, april = periods_close(periods=[(ingest.contract.pk, MARCH), (ingest.contract.pk, APRIL)], now=MAY)

    def billed(invoice: Invoice) -> list[str]:
        return sorted(
            LineOutcome.objects.filter(line__invoice=invoice).values_list("outcome__natural_key", flat=True)
        )

    assert billed(march) == ["T-0", "T-1", "T-2"]
    assert billed(april) == ["U-0", "U-1"]  # March's open draft keeps March's outcomes
    assert (march.total_minor, april.total_minor) == (251, 200)
    assert Outcome.objects.count() == 5


def test_a_period_not_yet_ended_fails_the_batch_before_anything_is_written() -> None:
    first, second = contracts_with_outcomes()

    with pytest.raises(ValueError, match="has not ended yet"):
        periods_close(periods=[(first.contract.pk, MARCH), (second.contract.pk, APRIL)], now=APRIL)

    assert not Invoice.objects.exists()


def test_the_command_closes_the_rest_of_a_batch_when_one_period_fails() -> None:
    first, second = contracts_with_outcomes()

    labels = close([(first.contract.pk, MARCH), (second.contract.pk, dt.datetime.now(tz=dt.UTC))])

    assert labels == ["closed", "failed (ValueError)"]
    assert list(Invoice.objects.values_list("contract_id", flat=True)) == [first.contract.pk]


def test_batches_keep_a_contracts_periods_together_oldest_first() -> None:
    due = [("b", MAY), ("a", MARCH), ("b", MARCH), ("c", MARCH), ("b", APRIL)]

    assert list(periods_in_batches(due, 2)) == [
        [("a", MARCH), ("b", MARCH), ("b", APRIL), ("b", MAY)],
        [("c", MARCH)],
    ]

"""Each kind of invoice line on its own, through the public services (close a period, finalize it, credit
a reversal): usage by tier, the platform fee, the minimum commitment's true-up, the audit adjustment, the
credit balance applied and carried forward, and a reversal after billing clawed back by a credit note
(never a line). The end-to-end stories (tests/settlement/test_invoicing.py, tests/e2e) combine them."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from outcomes.models import Outcome, OutcomeState
from outcomes.rules.sampling import clopper_pearson_lower
from settlement.invoicing.close import period_close
from settlement.invoicing.finalize import invoice_finalize
from settlement.models import CreditEntry, CreditNoteStatus, Invoice, LineKind
from settlement.services.credit_notes import credit_note_create
from tests.factories import outcome_type_terms, version_terms
from tests.support.ingest import Ingest, make_ingest
from tests.support.settlement import (
    APRIL,
    FAST,
    MARCH,
    MAY,
    audit_answers,
    billable,
    close_and_finalize,
    graduated_terms,
    reverse_all,
)

pytestmark = pytest.mark.django_db

PER_UNIT = {"model": "per_unit", "unit_price": "1.00"}
FEBRUARY = dt.datetime(2026, 2, 1, 5, 0, tzinfo=dt.UTC)  # local midnight in New York (EST)


def lines(invoice: Invoice) -> list[tuple[Any, ...]]:
    """Each line as (kind, description, tier, quantity, unit price, amount), in order."""
    return [
        (line.kind, line.description, line.tier, line.quantity, line.unit_price, line.amount_minor)
        for line in invoice.lines.order_by("position")
    ]


def march(ingest: Ingest, outcomes: int) -> Invoice:
    billable(ingest, outcomes, MARCH + dt.timedelta(days=3))
    return period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL)


def per_unit_ingest(**terms: Any) -> Ingest:
    policy = terms.pop("policy", FAST)
    return make_ingest(
        terms=version_terms(
            **{"platform_fee_minor": 0, "minimum_commitment_minor": 0, **terms},
            outcome_types=[outcome_type_terms(pricing=PER_UNIT, verification_policy=policy)],
        )
    )


def test_usage_bills_the_free_units_then_each_tier_at_its_price(ingest: Ingest) -> None:
    invoice = march(ingest, 5)

    # 1 free unit, then graduated: 2 x 1.00, then 2 x 0.505 = 1.01 (101 cents); then the platform fee.
    assert lines(invoice)[:3] == [
        (LineKind.USAGE, "ticket.resolved (v1): 1 free", None, 1, "0", 0),
        (LineKind.USAGE, "ticket.resolved (v1, tier 1): 2 units", 0, 2, "1", 200),
        (LineKind.USAGE, "ticket.resolved (v1, tier 2): 2 units", 1, 2, "0.505", 101),
    ]
    assert invoice.lines.get(tier=1).details == {
        "units": 2,
        "flat_fee": "0",
        "exact_minor": "101.0",
        "price_percent": 100,
    }


def test_the_platform_fee_is_one_line_billed_without_usage_too(ingest: Ingest) -> None:
    invoice = period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL)

    assert lines(invoice) == [(LineKind.PLATFORM_FEE, "Platform fee", None, 1, "", 10_000)]
    assert invoice.lines.get().details == {
        "fraction": "1",
        "exact_minor": "10000",
        "platform_fee_minor": 10_000,
    }
    assert invoice.total_minor == 10_000


def test_the_minimum_true_up_makes_usage_up_to_the_commitment_and_nothing_above_it() -> None:
    below = per_unit_ingest(minimum_commitment_minor=1_000)
    above = make_ingest(reference="CTR-above", terms=graduated_terms(minimum_commitment_minor=300))

    short = march(below, 3)
    enough = march(above, 5)

    assert lines(short)[-1] == (LineKind.MINIMUM_TRUE_UP, "Minimum commitment true-up", None, 1, "", 700)
    assert short.lines.get(kind=LineKind.MINIMUM_TRUE_UP).details["usage_minor"] == "300"
    assert short.total_minor == 1_000
    assert not enough.lines.filter(kind=LineKind.MINIMUM_TRUE_UP).exists()  # usage 301 is above 300
    assert enough.total_minor == 10_301


def test_the_audit_adjustment_takes_the_error_rates_lower_bound_off_usage() -> None:
    ingest = per_unit_ingest()
    billable(ingest, 10, MARCH + dt.timedelta(days=3))
    audit_answers(ingest, sampled=4, denied=2, at=MARCH + dt.timedelta(days=4))

    invoice = period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL)

    rate = Decimal(str(round(clopper_pearson_lower(2, 4, 0.90), 9)))
    expected = -int((Decimal(1_000) * rate).quantize(Decimal(1), ROUND_HALF_UP))
    [kind, *_, amount] = lines(invoice)[-1]
    assert (kind, amount) == (LineKind.AUDIT_ADJUSTMENT, expected)
    assert [line[0] for line in lines(invoice)] == [LineKind.USAGE, LineKind.AUDIT_ADJUSTMENT]
    assert invoice.total_minor == 1_000 + expected


def test_a_credit_balance_is_applied_up_to_the_charges_and_the_rest_carried_forward(ingest: Ingest) -> None:
    february = close_and_finalize(ingest, FEBRUARY, MARCH)
    CreditEntry.objects.create(contract=ingest.contract, invoice=february, amount_minor=15_000, at=MARCH)

    invoice = invoice_finalize(invoice_id=march(ingest, 5).pk, now=APRIL)

    assert lines(invoice)[-1] == (
        LineKind.CREDIT_APPLIED,
        "Credit balance applied (150.00 USD available)",
        None,
        1,
        "",
        -10_301,
    )
    assert invoice.total_minor == 0
    assert CreditEntry.objects.get(invoice=invoice).amount_minor == -10_301  # consumed
    assert (
        sum(CreditEntry.objects.filter(contract=ingest.contract).values_list("amount_minor", flat=True))
        == 4_699
    )


def test_a_reversal_after_billing_is_clawed_back_by_a_credit_note_never_by_a_line(ingest: Ingest) -> None:
    billable(ingest, 3, MARCH + dt.timedelta(days=1))
    billed = close_and_finalize(ingest, MARCH, APRIL)
    assert billed.total_minor == 10_200  # 1 free, 2 x 1.00, the platform fee

    reverse_all(ingest, 1, APRIL + dt.timedelta(days=2))  # T-0 reversed: re-rated, two units bill 1.00
    note = credit_note_create(invoice_id=billed.pk, now=APRIL + dt.timedelta(days=3))
    april = close_and_finalize(ingest, APRIL, MAY)

    assert Outcome.objects.filter(contract=ingest.contract, state=OutcomeState.REVERSED).count() == 1
    assert note is not None
    assert (note.amount_minor, note.status) == (100, CreditNoteStatus.PENDING)
    assert lines(april) == [(LineKind.PLATFORM_FEE, "Platform fee", None, 1, "", 10_000)]
    assert not Invoice.objects.filter(lines__kind=LineKind.CLAWBACK).exists()

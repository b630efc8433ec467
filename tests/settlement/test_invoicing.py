"""A period's invoice: built from verified outcomes, rebuilt deterministically, finalized once."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest
import time_machine

from outcomes.models import Outcome, OutcomeState
from outcomes.rules.sampling import clopper_pearson_lower
from outcomes.services.building import outcomes_build_sweep
from settlement.invoicing.close import period_close
from settlement.invoicing.finalize import invoice_finalize
from settlement.models import CreditNoteStatus, Invoice, InvoiceStatus, LineKind, LineOutcome
from settlement.selectors.due import periods_due
from settlement.services.credit_notes import credit_note_create, invoices_to_credit
from tests.factories import outcome_type_terms, version_terms
from tests.support.ingest import Ingest, event, make_ingest
from tests.support.settlement import (
    APRIL,
    FAST,
    GRADUATED,
    MARCH,
    MAY,
    audit_answers,
    billable,
    close_and_finalize,
    reverse_all,
)

pytestmark = pytest.mark.django_db


def lines(invoice: Invoice) -> list[tuple[str, int, int]]:
    return [(line.kind, line.quantity, line.amount_minor) for line in invoice.lines.order_by("position")]


def test_a_month_of_outcomes_becomes_one_invoice_with_explained_lines(ingest: Ingest) -> None:
    billable(ingest, 5, MARCH + dt.timedelta(days=3))
    assert Outcome.objects.filter(state=OutcomeState.BILLABLE).count() == 5

    invoice = period_close(
        contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL + dt.timedelta(hours=1)
    )

    # 1 free; then graduated: 2 x 1.00, 2 x 0.505 = 1.01 -> 101 cents; platform fee 100.00.
    assert lines(invoice) == [
        (LineKind.USAGE, 1, 0),
        (LineKind.USAGE, 2, 200),
        (LineKind.USAGE, 2, 101),
        (LineKind.PLATFORM_FEE, 1, 10_000),
    ]
    assert invoice.total_minor == 10_301
    assert LineOutcome.objects.filter(line__invoice=invoice).count() == 5
    assert (invoice.period_start, invoice.period_end) == (MARCH, APRIL)


def test_closing_twice_yields_the_same_single_invoice(ingest: Ingest) -> None:
    billable(ingest, 3, MARCH + dt.timedelta(days=1))
    first = period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL)
    snapshot = lines(first)

    second = period_close(
        contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL + dt.timedelta(hours=5)
    )

    assert second.pk == first.pk
    assert Invoice.objects.count() == 1
    assert lines(second) == snapshot


def test_finalizing_numbers_without_gaps_bills_the_outcomes_and_is_idempotent(ingest: Ingest) -> None:
    billable(ingest, 2, MARCH + dt.timedelta(days=1))
    invoice = period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL)

    finalized = invoice_finalize(invoice_id=invoice.pk, now=APRIL + dt.timedelta(days=3))
    again = invoice_finalize(invoice_id=invoice.pk, now=APRIL + dt.timedelta(days=4))

    assert (finalized.status, finalized.number) == (InvoiceStatus.FINALIZED, 1)
    assert (again.number, again.finalized_at) == (1, finalized.finalized_at)
    assert Outcome.objects.filter(state=OutcomeState.BILLED).count() == 2


def test_a_late_outcome_lands_on_the_next_open_invoice_not_the_finalized_one(ingest: Ingest) -> None:
    billable(ingest, 1, MARCH + dt.timedelta(days=1))
    march = invoice_finalize(
        invoice_id=period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL).pk,
        now=APRIL + dt.timedelta(days=3),
    )
    march_lines = lines(march)
    # Happened in March, reported in April after March was finalized.
    with time_machine.travel(APRIL + dt.timedelta(days=4), tick=False):
        ingest.post(event(natural_key="late", occurred_at=(MARCH + dt.timedelta(days=20)).isoformat()))
    with time_machine.travel(APRIL + dt.timedelta(days=4, minutes=2), tick=False):
        outcomes_build_sweep()

    may = dt.datetime(2026, 5, 1, 4, 0, tzinfo=dt.UTC)
    april = period_close(contract_id=ingest.contract.pk, period_start=APRIL, now=may)

    march.refresh_from_db()
    assert lines(march) == march_lines
    assert LineOutcome.objects.filter(line__invoice=april, outcome__natural_key="late").exists()


def test_periods_missed_while_down_are_all_due(ingest: Ingest) -> None:
    due = periods_due(now=dt.datetime(2020, 4, 15, tzinfo=dt.UTC))
    starts = [start for contract_id, start in due if contract_id == ingest.contract.pk]
    assert len(starts) == 3  # January, February, March 2020


def test_a_reversal_after_billing_becomes_one_credit_note_of_what_re_rating_takes_off(ingest: Ingest) -> None:
    billable(ingest, 4, MARCH + dt.timedelta(days=1))
    march = close_and_finalize(ingest, MARCH, APRIL)
    assert march.total_minor == 200 + 51 + 10_000  # 1 free, 2 x 1.00, 1 x 0.505 (50.5 -> 51)

    reverse_all(ingest, 4, APRIL + dt.timedelta(days=2))
    reversed_ids = set(Outcome.objects.filter(state=OutcomeState.REVERSED).values_list("pk", flat=True))
    assert len(reversed_ids) == 4
    assert invoices_to_credit() == [march.pk]
    note = credit_note_create(invoice_id=march.pk, now=APRIL + dt.timedelta(days=3))
    april = close_and_finalize(ingest, APRIL, MAY)

    assert note is not None
    assert (note.amount_minor, note.status) == (251, CreditNoteStatus.PENDING)  # exactly what March billed
    assert note.details["rerated_minor"] == 10_000  # the platform fee stays
    assert set(note.outcome_links.values_list("outcome_id", flat=True)) == reversed_ids
    assert credit_note_create(invoice_id=march.pk) is None  # each reversal is credited once
    assert invoices_to_credit() == []
    march.refresh_from_db()
    assert march.total_minor == 10_251  # the finalized invoice is never edited
    assert april.total_minor == 10_000  # no clawback line on the next invoice: the credit is a note
    assert not april.lines.filter(kind=LineKind.CLAWBACK).exists()


@pytest.mark.parametrize(
    ("commitment", "reversed_count", "credit"),
    [
        (50_000, 4, 0),  # far below the minimum before and after: nothing to credit
        (250, 2, 1),  # 251 billed; the 2 left rate 100, the minimum 250 is still owed: 1 off
        (200, 4, 51),  # 251 billed, nothing left: the 200 minimum stays, 51 off
    ],
)
def test_a_reversal_in_a_period_that_owes_its_minimum_credits_only_what_the_minimum_leaves(
    commitment: int, reversed_count: int, credit: int
) -> None:
    terms = version_terms(
        platform_fee_minor=0,
        minimum_commitment_minor=commitment,
        outcome_types=[outcome_type_terms(pricing=GRADUATED, free_units=1, verification_policy=FAST)],
    )
    ingest = make_ingest(terms=terms)
    billable(ingest, 4, MARCH + dt.timedelta(days=1))
    march = close_and_finalize(ingest, MARCH, APRIL)
    assert march.total_minor == max(251, commitment)

    reverse_all(ingest, reversed_count, APRIL + dt.timedelta(days=2))
    note = credit_note_create(invoice_id=march.pk)

    assert note is not None
    assert note.amount_minor == credit
    assert note.status == (CreditNoteStatus.PENDING if credit else CreditNoteStatus.NOT_REQUIRED)
    assert note.outcome_links.count() == reversed_count
    assert credit_note_create(invoice_id=march.pk) is None


def test_reversals_in_two_steps_credit_the_difference_each_time(ingest: Ingest) -> None:
    billable(ingest, 4, MARCH + dt.timedelta(days=1))
    march = close_and_finalize(ingest, MARCH, APRIL)

    reverse_all(ingest, 1, APRIL + dt.timedelta(days=1))  # T-0
    first = credit_note_create(invoice_id=march.pk)
    reverse_all(ingest, 4, APRIL + dt.timedelta(days=2))  # T-1..T-3 now too
    second = credit_note_create(invoice_id=march.pk)

    assert first is not None
    assert second is not None
    # Without T-0 the remaining 3 rate 1 free + 1.00 + 1.00 = 200: 51 off. Without all: 0, 200 more off.
    assert (first.amount_minor, second.amount_minor) == (51, 200)


def capped_contract(contract_cap: int | None) -> Ingest:
    """Two outcome types at 1.00 each; ticket.resolved capped at 2.00 a period, the contract at `contract_cap`."""
    one_dollar = {"model": "per_unit", "unit_price": "1.00"}
    return make_ingest(
        terms=version_terms(
            platform_fee_minor=2_500,
            cap_amount_minor=contract_cap,
            outcome_types=[
                outcome_type_terms(pricing=one_dollar, cap_amount_minor=200, verification_policy=FAST),
                outcome_type_terms(
                    key="ticket.escalated", pricing=one_dollar, free_units=1, verification_policy=FAST
                ),
            ],
        )
    )


def bill_in_order(ingest: Ingest) -> dict[str, int]:
    """In billing order: resolved, escalated (free), resolved, resolved, escalated, escalated."""
    for day, (prefix, key) in enumerate(
        [
            ("R0", "ticket.resolved"),
            ("E0", "ticket.escalated"),
            ("R1", "ticket.resolved"),
            ("R2", "ticket.resolved"),
            ("E1", "ticket.escalated"),
            ("E2", "ticket.escalated"),
        ],
        start=1,
    ):
        billable(ingest, 1, MARCH + dt.timedelta(days=day), prefix=prefix, outcome_type=key)
    return dict(Outcome.objects.values_list("natural_key", "pk"))


def test_an_outcome_type_amount_cap_holds_that_types_latest_outcomes() -> None:
    ingest = capped_contract(contract_cap=None)
    ids = bill_in_order(ingest)

    invoice = close_and_finalize(ingest, MARCH, APRIL)

    # ticket.resolved: R0, R1 fill its 2.00 cap, R2 is held; ticket.escalated: E0 free, E1 and E2 billed.
    assert invoice.held_over_cap == {"ticket.resolved": {"outcomes": [ids["R2-0"]], "cap_amount_minor": 200}}
    assert invoice.total_minor == 200 + 200 + 2_500
    assert Outcome.objects.get(pk=ids["R2-0"]).state == OutcomeState.BILLABLE  # held, not billed


def test_an_outcome_type_amount_cap_counts_the_free_allowance_as_the_invoice_does() -> None:
    """ticket.resolved: 2 free, then 1.00 each, capped at 2.00: four outcomes bill 2.00, the fifth is held."""
    ingest = make_ingest(
        terms=version_terms(
            platform_fee_minor=0,
            outcome_types=[
                outcome_type_terms(
                    pricing={"model": "per_unit", "unit_price": "1.00"},
                    free_units=2,
                    cap_amount_minor=200,
                    verification_policy=FAST,
                )
            ],
        )
    )
    billable(ingest, 5, MARCH + dt.timedelta(days=1))
    latest = Outcome.objects.order_by("billable_at", "pk").last()
    assert latest is not None

    invoice = close_and_finalize(ingest, MARCH, APRIL)

    # Rated without the allowance, the first two would fill the cap and three would be held.
    assert invoice.held_over_cap == {"ticket.resolved": {"outcomes": [latest.pk], "cap_amount_minor": 200}}
    assert invoice.total_minor == 200
    assert LineOutcome.objects.filter(line__invoice=invoice).count() == 4


def test_the_contract_amount_cap_holds_the_latest_outcomes_of_every_type_after_the_types_caps() -> None:
    ingest = capped_contract(contract_cap=350)
    ids = bill_in_order(ingest)

    invoice = close_and_finalize(ingest, MARCH, APRIL)

    # After ticket.resolved's cap holds R2, R0 E0(free) R1 E1 E2 rate 4.00, over the contract's 3.50:
    # the longest prefix within it, R0 E0 R1 E1 (3.00), is billed; E2, the latest, is held.
    assert invoice.held_over_cap == {
        "ticket.resolved": {"outcomes": [ids["R2-0"]], "cap_amount_minor": 200},
        "(contract)": {"outcomes": [ids["E2-0"]], "cap_amount_minor": 350},
    }
    assert invoice.total_minor == 300 + 2_500  # the platform fee is not usage: never held by a cap
    billed = set(LineOutcome.objects.filter(line__invoice=invoice).values_list("outcome_id", flat=True))
    assert billed == {ids["R0-0"], ids["E0-0"], ids["R1-0"], ids["E1-0"]}
    assert set(
        Outcome.objects.filter(state=OutcomeState.BILLABLE, billed_at__isnull=True).values_list(
            "pk", flat=True
        )
    ) == {ids["R2-0"], ids["E2-0"]}


@pytest.mark.parametrize("confidence", [0.9, 0.99])
def test_denied_audit_samples_take_the_error_rates_lower_bound_off_usage_at_the_policys_confidence(
    confidence: float,
) -> None:
    """audit_sampling.confidence has an effect: the adjustment line takes off usage times the Clopper-Pearson lower
    bound of the sampled error rate at that confidence (a higher confidence, a smaller, safer adjustment)."""
    policy = FAST | {"audit_sampling": {"confidence": confidence}}
    per_unit = {"model": "per_unit", "unit_price": "1.00"}
    ingest = make_ingest(
        terms=version_terms(
            platform_fee_minor=0,
            minimum_commitment_minor=0,
            outcome_types=[outcome_type_terms(pricing=per_unit, verification_policy=policy)],
        )
    )
    billable(ingest, 40, MARCH + dt.timedelta(days=3))
    audit_answers(ingest, sampled=10, denied=3, at=MARCH + dt.timedelta(days=4))

    invoice = period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL)

    rate = Decimal(str(round(clopper_pearson_lower(3, 10, confidence), 9)))
    audit = invoice.lines.get(kind=LineKind.AUDIT_ADJUSTMENT)
    assert audit.amount_minor == -int((Decimal(4_000) * rate).quantize(Decimal(1), ROUND_HALF_UP))
    assert audit.details["confidence"] == confidence
    assert invoice.total_minor == 4_000 + audit.amount_minor
    # The one-sided lower bound of 3 errors in 10 is 11.58 % at 90 %, 4.75 % at 99 %: the setting moves money.
    assert audit.amount_minor == {0.9: -463, 0.99: -190}[confidence]

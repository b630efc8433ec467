"""Settlement stories: a contract whose outcomes become billable at once, outcomes made billable or
reversed at chosen instants, periods closed and finalized, and one in-process round of the settlement job."""

from __future__ import annotations

import contextlib
import datetime as dt

import time_machine
from django.conf import settings as django_settings

from outcomes.models import AuditSample, Outcome
from outcomes.services.building import outcomes_build_sweep
from outcomes.services.verification import outcomes_evaluate_due
from settlement.invoicing.close import period_close
from settlement.invoicing.finalize import invoice_finalize
from settlement.models import Invoice
from settlement.selectors.due import credit_notes_to_push, invoices_to_push
from settlement.services.credit_notes import credit_note_create, invoices_to_credit
from settlement.services.credit_withholding import credit_notes_release
from settlement.stripe_gateway import SettlementBlocked, StripeUnavailable, invoice_push
from settlement.stripe_gateway.credit_notes import credit_note_push
from tests.factories import outcome_type_terms, version_terms
from tests.support.ingest import Ingest, event
from tests.support.stripe import card_on_file

MARCH = dt.datetime(2026, 3, 1, 5, 0, tzinfo=dt.UTC)  # local midnight in New York (EST)
APRIL = dt.datetime(2026, 4, 1, 4, 0, tzinfo=dt.UTC)  # local midnight in New York (EDT)

GRADUATED = {
    "model": "graduated",
    "tiers": [{"up_to": 2, "unit_price": "1.00"}, {"up_to": None, "unit_price": "0.505"}],
}
FAST = {
    "confirmation": {"required": False},
    "maturation": {"hold_hours": 0},
    "suppression": {"enabled": False},
}


def billable(
    ingest: Ingest, count: int, at: dt.datetime, prefix: str = "T", outcome_type: str = "ticket.resolved"
) -> None:
    with time_machine.travel(at, tick=False):
        response = ingest.post(
            {
                "events": [
                    event(
                        contract=ingest.contract.reference,
                        outcome_type=outcome_type,
                        natural_key=f"{prefix}-{i}",
                        occurred_at=at.isoformat(),
                    )
                    for i in range(count)
                ]
            }
        )
        assert response.status_code == 200
    with time_machine.travel(at + dt.timedelta(minutes=2), tick=False):
        outcomes_build_sweep()
        outcomes_evaluate_due()


def reverse_all(ingest: Ingest, count: int, at: dt.datetime) -> None:
    with time_machine.travel(at, tick=False):
        ingest.post({"events": [event(natural_key=f"T-{i}", kind="outcome.reversed") for i in range(count)]})
    with time_machine.travel(at + dt.timedelta(minutes=2), tick=False):
        outcomes_build_sweep()


def close_and_finalize(ingest: Ingest, start: dt.datetime, end: dt.datetime) -> Invoice:
    return invoice_finalize(
        invoice_id=period_close(contract_id=ingest.contract.pk, period_start=start, now=end).pk, now=end
    )


MAY = dt.datetime(2026, 5, 1, 4, 0, tzinfo=dt.UTC)
JUNE = dt.datetime(2026, 6, 1, 4, 0, tzinfo=dt.UTC)


def graduated_terms(**overrides: object) -> dict[str, object]:
    """The settlement tests' usual terms: a 100.00 platform fee, 1 free unit, then 1.00, 1.00, 0.505 each."""
    defaults: dict[str, object] = {
        "platform_fee_minor": 10_000,
        "minimum_commitment_minor": 0,
        "outcome_types": [outcome_type_terms(pricing=GRADUATED, free_units=1, verification_policy=FAST)],
    }
    return version_terms(**(defaults | overrides))


def finalized_invoice(ingest: Ingest, outcomes: int = 3, card: str | None = "pm_card_visa") -> Invoice:
    """March's invoice, finalized; its customer has `card` on file in Stripe (None: no Stripe customer yet)."""
    if card is not None:
        card_on_file(ingest.contract.customer, django_settings.STRIPE_API_BASE, card)
    billable(ingest, outcomes, MARCH + dt.timedelta(days=2))
    invoice = period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL)
    return invoice_finalize(invoice_id=invoice.pk, now=APRIL)


def settlement_round() -> bool:
    """What the periodic job does, once, in-process: resume every settlement not complete on Stripe, credit
    reversals, release credit notes no longer withheld and issue credit notes (Stripe's outages and blocked steps are left for the next round).
    True once nothing is left to do."""
    for invoice_id in invoices_to_push():
        with contextlib.suppress(StripeUnavailable, SettlementBlocked):
            invoice_push(invoice_id=invoice_id)
    for invoice_id in invoices_to_credit():
        credit_note_create(invoice_id=invoice_id)
    credit_notes_release()
    for note_id in credit_notes_to_push():
        with contextlib.suppress(StripeUnavailable, SettlementBlocked):
            credit_note_push(credit_note_id=note_id)
    return not (invoices_to_push() or invoices_to_credit() or credit_notes_to_push())


def audit_answers(ingest: Ingest, *, sampled: int, denied: int, at: dt.datetime) -> None:
    """The contract's first `sampled` outcomes (by natural key) audited and answered at `at`: the first
    `denied` of them denied, the rest attested."""
    outcomes = Outcome.objects.filter(contract=ingest.contract).order_by("natural_key")[:sampled]
    AuditSample.objects.bulk_create(
        AuditSample(
            outcome=outcome,
            selected_at=at,
            deadline=at + dt.timedelta(days=14),
            answer=AuditSample.Answer.DENIED if i < denied else AuditSample.Answer.ATTESTED,
            answered_at=at,
        )
        for i, outcome in enumerate(outcomes)
    )

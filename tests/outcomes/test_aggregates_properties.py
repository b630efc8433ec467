"""The dashboards' aggregates (outcomes.counters: OutcomeStateDayCount, BillableCount, PricedDayCount),
over generated sequences of ingest and verification, reversals, disputes and their answers, period
closes and finalizing: after every step they equal a recount from the outcomes, a period's outcomes
counted from them equal a count of the outcomes, the period's invoice rated from them (the dashboard's
"billable so far") equals the invoice rated from the outcomes, and what the period bills against the
customer's amount cap, priced from them, equals the outcomes priced one by one as rule 11a does."""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db.models import Count
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from contracts.models import Contract
from core.errors import DomainError
from outcomes import counters
from outcomes.models import Dispute, Outcome
from outcomes.selectors import cap_amounts_used, outcome_counts_between
from outcomes.services.building import outcomes_build_sweep
from outcomes.services.cap_amounts import period_amount_read
from outcomes.services.review import dispute_open, dispute_respond
from outcomes.services.verification import outcomes_evaluate_due
from settlement.invoicing.close import period_close
from settlement.invoicing.drafts import contract_period, unsaved_invoice
from settlement.invoicing.finalize import invoice_finalize
from settlement.invoicing.lines import drafts_rate
from settlement.money import round_line
from tests.factories import outcome_type_terms, version_terms
from tests.support.ingest import Ingest, event, make_ingest
from tests.support.settlement import FAST, GRADUATED, MARCH

pytestmark = pytest.mark.django_db

PRICINGS = [
    # (pricing, free units, the type's amount cap)
    (GRADUATED, 1, None),
    ({"model": "per_unit", "unit_price": "0.90"}, 0, 250),  # the cap holds from the 3rd outcome on
    ({"model": "per_unit", "unit_price": "1.00"}, 2, 200),  # 2 free, then the cap holds from the 5th
    ({"model": "package", "package_size": 2, "package_price": "1.50"}, 0, None),
    ({"model": "percentage", "percent": "2.5"}, 0, None),
    ({"model": "percentage", "percent": "10", "min_fee_minor": 30}, 0, None),  # rated from the outcomes
]
# The second bills what the customer never confirmed at a share of the price, so a period's outcomes
# are at 100 % and at that share (with free units: rated from the outcomes, billing order decides).
UNVERIFIED = {**FAST, "confirmation": {"required": True, "on_unmatched": "bill_unverified"}}
POLICIES = [FAST, UNVERIFIED]


@dataclass(frozen=True)
class Step:
    kind: str  # claim, reverse, dispute, answer, close
    key: int  # which natural key (claim: the first of `count`; reverse, dispute)
    count: int  # outcomes a claim posts; a close finalizes its draft when even
    day: int  # days after March 1st it happens
    value: int  # a claim's reported value (minor units): odd, claimed by the vendor's agent


steps = st.builds(
    Step,
    kind=st.sampled_from(["claim", "claim", "claim", "reverse", "dispute", "answer", "close"]),
    key=st.integers(0, 5),
    count=st.integers(1, 4),
    day=st.integers(0, 75),
    value=st.integers(0, 10_000),
)


def post(ingest: Ingest, at: dt.datetime, events: list[dict[str, Any]], *, as_agent: bool = False) -> None:
    """Events at `at` (by the customer's system, or claimed by the vendor's agent: unconfirmed), merged
    and verified a couple of minutes later, as the sweep would."""
    with time_machine.travel(at, tick=False):
        response = ingest.post({"events": events}, as_agent=as_agent)
        assert response.status_code == 200, response.content
    with time_machine.travel(at + dt.timedelta(minutes=2), tick=False):
        outcomes_build_sweep()
        outcomes_evaluate_due()


def run(ingest: Ingest, step: Step, at: dt.datetime) -> None:
    with time_machine.travel(at, tick=False):
        outcomes_evaluate_due()  # what the beat does meanwhile: windows close, outcomes mature
    key = f"K-{step.key}"
    outcome = Outcome.objects.filter(contract=ingest.contract, natural_key=key).first()
    if step.kind == "claim":
        post(
            ingest,
            at,
            [
                event(
                    contract=ingest.contract.reference,
                    natural_key=f"K-{step.key + n}",
                    occurred_at=at.isoformat(),
                    value={"amount_minor": step.value * (n + 1), "currency": "USD"},
                )
                for n in range(step.count)
            ],
            as_agent=step.value % 2 == 1,
        )
    elif step.kind == "reverse" and outcome is not None:
        reversal = event(
            contract=ingest.contract.reference,
            natural_key=key,
            kind="outcome.reversed",
            occurred_at=at.isoformat(),
            evidence={"reason": "reopened"},
        )
        post(ingest, at, [reversal])
    elif step.kind == "dispute" and outcome is not None:
        # Refused unless billable or billed and within the window: the aggregates are checked either way.
        with time_machine.travel(at, tick=False), contextlib.suppress(DomainError):
            dispute_open(outcome=outcome, reason="Not ours.", actor="customer:test", now=at)
    elif step.kind == "answer":
        dispute = Dispute.objects.filter(
            outcome__contract=ingest.contract, status=Dispute.Status.OPEN
        ).first()
        if dispute is not None:
            with time_machine.travel(at, tick=False):
                dispute_respond(
                    dispute=dispute,
                    accept=step.value % 2 == 0,
                    response="Checked.",
                    evidence={"log": "kept"},
                    actor="vendor:test",
                )
    elif step.kind == "close":
        period = contract_period(ingest.contract, at)
        if period.start > MARCH:  # close the period before the one `at` is in
            previous = contract_period(ingest.contract, period.start - dt.timedelta(seconds=1))
            invoice = period_close(contract_id=ingest.contract.pk, period_start=previous.start, now=at)
            if invoice.is_draft and step.count % 2 == 0:  # else it stays open: the next draft reads outcomes
                invoice_finalize(invoice_id=invoice.pk, now=at)


def rated(contract: Contract, at: dt.datetime, *, counted: bool) -> tuple[list[Any], list[Any]]:
    """The current period's invoice lines as the preview rates them (from counts or from outcomes), and
    how many outcomes each cap holds."""
    invoice = unsaved_invoice(contract, contract_period(contract, at))
    [(lines, held)] = drafts_rate([invoice], lock=False, counted_at=at if counted else None)
    return (
        [
            (
                line.kind,
                line.description,
                round_line(line.amount, contract.currency),
                line.quantity,
                line.outcomes,
            )
            for line in lines
        ],
        sorted((key, len(entry["outcomes"])) for key, entry in held.items()),
    )


def period_counts(contract: Contract, at: dt.datetime) -> dict[tuple[Any, str, str], int]:
    """The current period's outcomes by type and state as the dashboards count them (a New York
    period: whole UTC days from the aggregates, the first day's cut part from the outcomes)."""
    period = contract_period(contract, at)
    return outcome_counts_between(ranges={contract.pk: (period.start, period.end)})


def period_counts_scanned(contract: Contract, at: dt.datetime) -> dict[tuple[Any, str, str], int]:
    period = contract_period(contract, at)
    return {
        (contract.pk, key, state): count
        for key, state, count in Outcome.objects.filter(
            contract=contract, occurred_at__gte=period.start, occurred_at__lt=period.end
        )
        .values_list("outcome_type_key", "state")
        .annotate(count=Count("id"))
        .order_by()
    }


def cap_amount_counted(contract: Contract, at: dt.datetime) -> Decimal:
    """What the current period bills against a customer's amount cap on the type, as the customer's
    overview reads it (from the priced counts, or the outcomes where they cannot price it exactly)."""
    period = contract_period(contract, at)
    return cap_amounts_used(caps=[(contract, "ticket.resolved", period)])[(contract.pk, "ticket.resolved")]


def cap_amount_read(contract: Contract, at: dt.datetime) -> Decimal:
    period = contract_period(contract, at)
    return period_amount_read(contract=contract, outcome_type_key="ticket.resolved", period=period).amount()


@example(  # billed, disputed and answered, reversed after billing, at two shares of the price
    history=[
        Step("claim", 0, 3, 0, 1_000),
        Step("claim", 3, 2, 1, 2_001),
        Step("dispute", 0, 1, 5, 0),
        Step("answer", 0, 1, 6, 1),
        Step("claim", 4, 1, 8, 3_001),
        Step("close", 0, 2, 32, 0),
        Step("reverse", 1, 1, 33, 0),
        Step("claim", 0, 2, 34, 11),
        Step("close", 0, 1, 62, 0),
        Step("claim", 5, 1, 63, 20),
    ],
    pricing=PRICINGS[1],
    policy=UNVERIFIED,
)
@example(
    history=[Step("claim", 0, 2, 0, 10), Step("claim", 2, 2, 0, 11), Step("claim", 4, 1, 20, 5)],
    pricing=PRICINGS[0],
    policy=UNVERIFIED,
)
@example(  # the free allowance within the type's cap, then past it
    history=[Step("claim", 0, 4, 0, 10), Step("claim", 4, 1, 1, 10), Step("claim", 5, 1, 2, 10)],
    pricing=PRICINGS[2],
    policy=FAST,
)
@example(
    history=[Step("claim", 0, 4, 2, 10), Step("claim", 4, 2, 3, 11), Step("close", 0, 2, 40, 0)],
    pricing=PRICINGS[4],
    policy=UNVERIFIED,
)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    history=st.lists(steps, min_size=1, max_size=6),
    pricing=st.sampled_from(PRICINGS),
    policy=st.sampled_from(POLICIES),
)
def test_the_aggregates_equal_a_recount_and_rate_as_the_outcomes_do(
    history: list[Step], pricing: tuple[dict[str, Any], int, int | None], policy: dict[str, Any]
) -> None:
    prices, free_units, cap = pricing
    terms = version_terms(
        platform_fee_minor=1_000,
        outcome_types=[
            outcome_type_terms(
                pricing=prices, free_units=free_units, cap_amount_minor=cap, verification_policy=policy
            )
        ],
    )
    ingest = make_ingest(terms=terms)
    for step in sorted(history, key=lambda s: s.day):
        at = MARCH + dt.timedelta(days=step.day, hours=len(history))
        run(ingest, step, at)

        assert counters.aggregates_stored() == counters.aggregates_recount()
        assert period_counts(ingest.contract, at) == period_counts_scanned(ingest.contract, at)
        assert rated(ingest.contract, at, counted=True) == rated(ingest.contract, at, counted=False)
        assert cap_amount_counted(ingest.contract, at) == cap_amount_read(ingest.contract, at)

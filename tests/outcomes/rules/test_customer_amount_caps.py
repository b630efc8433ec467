"""Rule 11a in amounts: the customer's own cap on what an outcome type bills per period, entered in major
units of the contract's currency. An outcome that would bill past it waits for the customer's approval; the
pipeline prices it as the invoice will (free units, tiers, contracts.terms.rating)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db.models import QuerySet

from contracts.models import AuditEntry, CustomerCap
from notifications.models import Event
from outcomes.models import Outcome, OutcomeState, OutcomeVerdict
from outcomes.rules.customer_caps import CUSTOMER_CAP_EXCEEDED, AmountUse, CustomerCaps
from outcomes.verdict_trail import verdicts_recorded
from settlement.invoicing.close import period_close
from settlement.models import InvoiceLine, LineKind
from tests.factories import outcome_type_terms
from tests.support.ingest import Ingest, make_ingest
from tests.support.settlement import APRIL, FAST, GRADUATED, MARCH, billable, graduated_terms
from tests.support.vendors import customer_api_client

TYPE = "ticket.resolved"
PERIOD_START = "2026-03-01T05:00:00+00:00"


def amount_cap(max_amount_minor: int, max_units: int | None = None) -> CustomerCap:
    return CustomerCap(
        outcome_type_key=TYPE, max_units=max_units, max_amount_minor=max_amount_minor, set_by="api_key:c"
    )


@pytest.mark.parametrize(
    ("so_far", "price", "decision", "amount_minor"),
    [
        ("400", "100", "accept", 500),  # reaching the cap exactly is within it
        ("400.4", "100", "flag", 400),  # 500.4 would pass it: held, the period's amount without it
    ],
)
def test_an_outcome_is_admitted_while_the_periods_amount_with_it_stays_within_the_cap(
    so_far: str, price: str, decision: str, amount_minor: int
) -> None:
    verdict = CustomerCaps().verdict(
        amount_cap(500),
        used=7,
        amount=AmountUse(Decimal(so_far), Decimal(price)),
        period_start=PERIOD_START,
        decided=False,
    )
    assert verdict.decision == decision
    assert {
        k: verdict.facts[k] for k in ("max_amount_minor", "amount_minor", "price_minor", "max_units")
    } == {
        "max_amount_minor": 500,
        "amount_minor": amount_minor,
        "price_minor": 100,
        "max_units": None,
    }
    if decision == "flag":
        assert (verdict.reason, verdict.facts["used"]) == (CUSTOMER_CAP_EXCEEDED, 7)
    else:
        assert verdict.facts["position"] == 8


def test_either_limit_holds_when_both_are_set() -> None:
    within_amount = AmountUse(Decimal(0), Decimal(10))
    units_full = CustomerCaps().verdict(
        amount_cap(500, max_units=3), used=3, amount=within_amount, period_start="", decided=False
    )
    assert units_full.reason == CUSTOMER_CAP_EXCEEDED
    amount_full = CustomerCaps().verdict(
        amount_cap(5, max_units=3), used=0, amount=within_amount, period_start="", decided=False
    )
    assert amount_full.reason == CUSTOMER_CAP_EXCEEDED
    both_within = CustomerCaps().verdict(
        amount_cap(10, max_units=3), used=2, amount=within_amount, period_start="", decided=False
    )
    assert (both_within.decision, both_within.facts["position"]) == ("accept", 3)


def test_a_free_outcome_passes_a_zero_amount_cap() -> None:
    verdict = CustomerCaps().verdict(
        amount_cap(0), used=0, amount=AmountUse(Decimal(0), Decimal(0)), period_start="", decided=False
    )
    assert verdict.decision == "accept"


@pytest.mark.django_db
def test_the_amount_cap_holds_what_would_bill_past_it_until_the_customer_approves_it() -> None:
    """1 free unit, then 1.00, 1.00, 0.505 each; the customer's cap 2.50 USD a period, alerts at 50 and 100 %."""
    ingest = make_ingest(terms=graduated_terms())
    contract = ingest.contract
    customer = customer_api_client(contract.customer)
    url = f"/api/v1/customer/contracts/{contract.pk}/caps/{TYPE}"
    with time_machine.travel(MARCH + dt.timedelta(days=1), tick=False):
        response = customer.put(url, {"max_amount_minor": 250, "alert_percents": [50, 100]}, format="json")
    assert response.status_code == 200, response.content
    assert {k: response.json()[k] for k in ("max_units", "max_amount_minor", "currency")} == {
        "max_units": None,
        "max_amount_minor": 250,
        "currency": "USD",
    }
    audit = AuditEntry.objects.get(action="customer_cap.set", vendor=contract.vendor)
    assert (audit.details["max_amount_minor"], audit.details["previous_max_amount_minor"]) == (250, None)

    billable(ingest, 5, MARCH + dt.timedelta(days=2))

    states = dict(ingest_outcomes(ingest).values_list("natural_key", "state"))
    assert states == {
        "T-0": OutcomeState.BILLABLE,  # free
        "T-1": OutcomeState.BILLABLE,  # 1.00
        "T-2": OutcomeState.BILLABLE,  # 1.00: 2.00 so far
        "T-3": OutcomeState.FLAGGED,  # 0.505 more would make 2.505
        "T-4": OutcomeState.FLAGGED,
    }
    held = latest(ingest, "T-3")
    assert (held.decision, held.reason) == ("flag", CUSTOMER_CAP_EXCEEDED)
    assert held.facts == {
        "used": 3,
        "max_units": None,
        "max_amount_minor": 250,
        "amount_minor": 200,
        "price_minor": 51,  # 50.5 cents, rounded once, half away from zero
        "period_start": PERIOD_START,
        "set_by": held.facts["set_by"],
    }
    assert latest(ingest, "T-2").facts["amount_minor"] == 200
    alerts = Event.objects.filter(type="customer_cap.amount_threshold_reached")
    assert [(e.data["percent"], e.data["threshold_minor"], e.data["amount_minor"]) for e in alerts] == [
        (50, 125, 200)
    ]
    assert not Event.objects.filter(type="customer_cap.threshold_reached").exists()  # no unit cap set

    # The customer approves T-3: billed over its own cap; T-4 still waits.
    with time_machine.travel(MARCH + dt.timedelta(days=3), tick=False):
        approved = customer.post(
            f"/api/v1/customer/outcomes/{ingest_outcomes(ingest).get(natural_key='T-3').pk}/review",
            {"flag_reason": CUSTOMER_CAP_EXCEEDED, "verdict": "accept"},
            format="json",
        )
    assert approved.status_code == 201, approved.content
    states = dict(ingest_outcomes(ingest).values_list("natural_key", "state"))
    assert (states["T-3"], states["T-4"]) == (OutcomeState.BILLABLE, OutcomeState.FLAGGED)

    # The invoice bills what the rule priced: 2.00 within the cap, then the approved 0.505; not T-4.
    invoice = period_close(contract_id=contract.pk, period_start=MARCH, now=APRIL)
    usage = InvoiceLine.objects.filter(invoice=invoice, kind=LineKind.USAGE)
    assert sorted(usage.values_list("amount_minor", flat=True)) == [0, 51, 200]
    states = dict(ingest_outcomes(ingest).values_list("natural_key", "state"))
    assert states["T-4"] == OutcomeState.FLAGGED


def ingest_outcomes(ingest: Ingest) -> QuerySet[Outcome]:
    return Outcome.objects.filter(contract=ingest.contract)


def latest(ingest: Ingest, key: str) -> OutcomeVerdict:
    outcome = ingest_outcomes(ingest).get(natural_key=key)
    verdict = next(
        (v for v in reversed(verdicts_recorded(outcome_ids=[outcome.pk])) if v.rule == "customer_caps"), None
    )
    assert verdict is not None
    return verdict


@pytest.mark.django_db
def test_lowering_then_raising_the_amount_cap_releases_what_it_held() -> None:
    ingest = make_ingest(
        terms=graduated_terms(outcome_types=[outcome_type_terms(pricing=GRADUATED, verification_policy=FAST)])
    )
    contract = ingest.contract
    customer = customer_api_client(contract.customer)
    url = f"/api/v1/customer/contracts/{contract.pk}/caps/{TYPE}"
    with time_machine.travel(MARCH + dt.timedelta(days=1), tick=False):
        assert customer.put(url, {"max_amount_minor": 100}, format="json").status_code == 200
    billable(ingest, 3, MARCH + dt.timedelta(days=2))
    assert ingest_outcomes(ingest).filter(state=OutcomeState.BILLABLE).count() == 1
    with time_machine.travel(MARCH + dt.timedelta(days=3), tick=False):
        raised = customer.put(url, {"max_amount_minor": 200, "max_units": 10}, format="json")
    assert raised.status_code == 200, raised.content
    assert ingest_outcomes(ingest).filter(state=OutcomeState.BILLABLE).count() == 2
    with time_machine.travel(MARCH + dt.timedelta(days=3), tick=False):
        assert customer.delete(url).status_code == 204
    assert ingest_outcomes(ingest).filter(state=OutcomeState.BILLABLE).count() == 3


@pytest.mark.django_db
def test_a_bad_amount_cap_is_refused_on_its_field_and_changes_nothing() -> None:
    """The type's amount cap is 10.00 USD, the contract's 8.00 USD (over every type): the lower holds."""
    ingest = make_ingest(
        terms=graduated_terms(
            cap_amount_minor=800,
            outcome_types=[
                outcome_type_terms(cap_amount_minor=1_000, cap_units=50, verification_policy=FAST)
            ],
        )
    )
    contract = ingest.contract
    customer = customer_api_client(contract.customer)
    url = f"/api/v1/customer/contracts/{contract.pk}/caps/{TYPE}"
    with time_machine.travel(MARCH + dt.timedelta(days=1), tick=False):
        assert customer.put(url, {"max_amount_minor": 500, "max_units": 20}, format="json").status_code == 200
        before = CustomerCap.objects.values().get()
        audited = AuditEntry.objects.filter(action="customer_cap.set").count()
        for body, field, code, message in [
            ({"max_amount_minor": -1}, "max_amount_minor", "min_value", None),
            ({"max_amount_minor": 1.5}, "max_amount_minor", "invalid", None),
            ({"max_amount_minor": "abc"}, "max_amount_minor", "invalid", None),
            ({"max_amount_minor": 1_001}, "max_amount_minor", "above_contract_cap", None),
            ({"max_amount_minor": 801}, "max_amount_minor", "above_contract_cap", None),
            ({"max_units": 51, "max_amount_minor": 100}, "max_units", "above_contract_cap", None),
            ({}, "max_units", "cap_required", None),
            ({"max_units": None, "max_amount_minor": None}, "max_units", "cap_required", None),
        ]:
            response = customer.put(url, body, format="json")
            assert response.status_code == 400, body
            error = response.json()["field_errors"][field][0]
            assert error["code"] == code, body
            if message is not None:
                assert error["message"] == message
            assert CustomerCap.objects.values().get() == before, body  # nothing stored changed
            assert AuditEntry.objects.filter(action="customer_cap.set").count() == audited
        at_contracts = customer.put(url, {"max_amount_minor": 801}, format="json").json()
        assert at_contracts["field_errors"]["max_amount_minor"][0]["message"] == (
            "The contract caps everything it bills at 8.00 USD per period: the customer's own cap may be at most that."
        )
        assert (
            customer.put(url, {"max_amount_minor": 800}, format="json").status_code == 200
        )  # at the cap: allowed
    assert CustomerCap.objects.get().max_amount_minor == 800

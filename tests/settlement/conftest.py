"""Shared by the settlement tests: a contract whose outcomes become billable at once, and helpers."""

from __future__ import annotations

import datetime as dt

import pytest
import stripe
import time_machine

from contracts.models import Customer
from outcomes.services.building import outcomes_build_sweep
from outcomes.services.verification import outcomes_evaluate_due
from tests.factories import outcome_type_terms, version_terms
from tests.outcomes.conftest import Ingest, event, make_ingest

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


def billable(ingest: Ingest, count: int, at: dt.datetime, prefix: str = "T") -> None:
    with time_machine.travel(at, tick=False):
        response = ingest.post(
            {
                "events": [
                    event(
                        contract=ingest.contract.reference,
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


@pytest.fixture
def ingest() -> Ingest:
    terms = version_terms(
        platform_fee_minor=10_000,
        minimum_commitment_minor=0,
        outcome_types=[outcome_type_terms(pricing=GRADUATED, free_units=1, verification_policy=FAST)],
    )
    return make_ingest(terms=terms)


def card_on_file(customer: Customer, base_url: str, payment_method: str = "pm_card_visa") -> str:
    """Give the customer a Stripe customer with a test card as its default, the way Stripe's test mode
    does it (`payment_method` attached at creation, then made the invoices' default), and link it."""
    api = stripe.StripeClient("sk_test_verity", base_addresses={"api": base_url})
    created = api.v1.customers.create(
        params={
            "email": customer.billing_email,
            "name": customer.name,
            "payment_method": payment_method,
            "invoice_settings": {"default_payment_method": payment_method},
        }
    )
    Customer.objects.filter(pk=customer.pk).update(stripe_customer_id=created.id)
    customer.refresh_from_db()
    return str(created.id)

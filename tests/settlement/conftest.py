"""Shared by the settlement tests: a contract whose outcomes become billable at once, and helpers."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

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

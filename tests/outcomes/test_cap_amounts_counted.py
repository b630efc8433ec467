"""What a period bills against the customer's amount cap (rule 11a), read for the customer's overview
from the priced counts (outcomes.models.PricedDayCount) instead of the period's outcomes: the same
amount as the outcomes priced one by one, in a bounded number of queries. Generated histories, every
pricing and shares of the price: tests/outcomes/test_aggregates_properties.py."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from outcomes import counters
from outcomes.models import Outcome, OutcomeState
from outcomes.selectors import cap_amounts_used
from outcomes.services.cap_amounts import period_amount_read
from settlement.invoicing.close import period_close
from settlement.invoicing.drafts import contract_period
from settlement.invoicing.finalize import invoice_finalize
from tests.factories import outcome_type_terms, version_terms
from tests.support.ingest import make_ingest
from tests.support.settlement import FAST, MARCH, billable

pytestmark = pytest.mark.django_db

KEY = "ticket.resolved"
FEBRUARY = dt.datetime(2026, 2, 1, 5, 0, tzinfo=dt.UTC)  # local midnight in New York (EST)
READ_ONE_BY_ONE = 'ORDER BY "outcomes_outcome"."billable_at"'  # period_amount_read's query


def test_the_amount_used_is_priced_from_the_counts_without_reading_the_outcomes() -> None:
    """At 0.90 each, February in New York: 2 outcomes on a whole UTC day and 1 on the period's last,
    cut UTC day (1 March 04:00 UTC), billed when February is finalized, and 1 billable still; one on
    1 March 06:00 UTC is March's. February: 4 x 0.90 = 3.60 USD; March: 0.90 USD."""
    ingest = make_ingest(terms=version_terms(outcome_types=[outcome_type_terms(verification_policy=FAST)]))
    assert ingest.contract.timezone == "America/New_York"
    billable(ingest, 2, FEBRUARY + dt.timedelta(days=2), prefix="A")
    billable(ingest, 1, MARCH - dt.timedelta(hours=1), prefix="B")
    february = period_close(contract_id=ingest.contract.pk, period_start=FEBRUARY, now=MARCH)
    invoice_finalize(invoice_id=february.pk, now=MARCH + dt.timedelta(minutes=30))
    billable(ingest, 1, MARCH - dt.timedelta(hours=2), prefix="C")  # late: billed by March's invoice
    billable(ingest, 1, MARCH + dt.timedelta(hours=1), prefix="D")
    assert Outcome.objects.filter(state=OutcomeState.BILLED).count() == 3
    periods = {
        name: contract_period(ingest.contract, at)
        for name, at in (("february", FEBRUARY), ("march", MARCH + dt.timedelta(days=1)))
    }

    used = {}
    for name, period in periods.items():
        with CaptureQueriesContext(connection) as queries:
            [used[name]] = cap_amounts_used(caps=[(ingest.contract, KEY, period)]).values()
        # The whole days' counts, the cut days' outcomes grouped, the type's terms; never the outcomes
        # one by one in billing order, as the rule reads them.
        assert len(queries.captured_queries) == 3
        assert not any(READ_ONE_BY_ONE in q["sql"] for q in queries.captured_queries)

    assert used == {"february": Decimal("360.00"), "march": Decimal("90.00")}
    assert used == {
        name: period_amount_read(contract=ingest.contract, outcome_type_key=KEY, period=period).amount()
        for name, period in periods.items()
    }


def test_free_units_over_outcomes_at_two_shares_of_the_price_are_priced_from_the_outcomes() -> None:
    """Which outcomes the free unit takes depends on billing order when they bill at different shares:
    the counts cannot say, so that cap's outcomes are read and priced as the rule does."""
    ingest = make_ingest(
        terms=version_terms(outcome_types=[outcome_type_terms(free_units=1, verification_policy=FAST)])
    )
    billable(ingest, 2, MARCH + dt.timedelta(days=2))
    ingest.contract.outcomes.filter(natural_key="T-0").update(price_percent=50)
    counters.rebuild()  # the share changed behind the services' back, as a bulk load would
    period = contract_period(ingest.contract, MARCH + dt.timedelta(days=3))

    with CaptureQueriesContext(connection) as queries:
        used = cap_amounts_used(caps=[(ingest.contract, KEY, period)])

    read = period_amount_read(contract=ingest.contract, outcome_type_key=KEY, period=period).amount()
    assert used == {(ingest.contract.pk, KEY): read}
    assert any(READ_ONE_BY_ONE in q["sql"] for q in queries.captured_queries)

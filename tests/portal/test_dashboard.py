"""The dashboard: each active contract's current period (outcomes by state, the amount rated so far,
flags, disputes, anomalies) and the two charts, for known data; counted by queries that do not grow
with the outcomes; scoped to the vendor; read-only."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contracts.models import Role
from outcomes import counters
from outcomes.models import Decision, Outcome, OutcomeState, OutcomeVerdict
from outcomes.services.building import outcomes_build_sweep
from outcomes.services.review import dispute_open
from outcomes.services.verification import outcomes_evaluate_due
from settlement.invoicing.close import period_close
from settlement.invoicing.finalize import invoice_finalize
from settlement.models import Invoice
from tests.factories import outcome_type_terms, version_terms
from tests.portal.test_invoices import contract_ingest, rows, text
from tests.settlement.collection_scenes import blocked, finalized, on_stripe, payment_failed, stripe_says
from tests.support.ingest import Ingest, event, make_ingest
from tests.support.portal import make_member, signed_in
from tests.support.settlement import FAST, MARCH, billable

pytestmark = pytest.mark.django_db

FEBRUARY = dt.datetime(2026, 2, 1, 5, 0, tzinfo=dt.UTC)  # local midnight in New York (EST)
NOW = dt.datetime(2026, 3, 20, 15, 0, tzinfo=dt.UTC)


def flag_as_anomaly(outcome: Outcome) -> None:
    """What the anomaly rule leaves on an outcome it flags (its verdict, the state)."""
    OutcomeVerdict.objects.create(
        outcome=outcome, rule="anomaly", decision=Decision.FLAG, reason="velocity_anomaly", facts={}, at=NOW
    )
    Outcome.objects.filter(pk=outcome.pk).update(state=OutcomeState.FLAGGED)
    counters.rebuild()  # written behind the services' back, as a bulk load is


@pytest.fixture
def ingest() -> Ingest:
    """February billed (2 outcomes: 1 free + 1.00, fee 100.00 = 101.00 USD, finalized); in March so
    far 5 outcomes: 3 billable, 1 disputed, 1 flagged as an anomaly."""
    ingest = contract_ingest()
    billable(ingest, 2, FEBRUARY + dt.timedelta(days=5), prefix="F")
    february = period_close(contract_id=ingest.contract.pk, period_start=FEBRUARY, now=MARCH)
    invoice_finalize(invoice_id=february.pk, now=MARCH + dt.timedelta(hours=1))
    billable(ingest, 5, MARCH + dt.timedelta(days=3))
    march = Outcome.objects.filter(contract=ingest.contract, natural_key__startswith="T-").order_by(
        "natural_key"
    )
    with time_machine.travel(NOW - dt.timedelta(days=1), tick=False):
        dispute_open(outcome=march[0], reason="Solved by our own staff.", actor="customer:test")
    flag_as_anomaly(march[1])
    return ingest


def dashboard(client: Client, path: str = "/") -> str:
    with time_machine.travel(NOW, tick=False):
        return text(client.get(path))


def chart_data(html: str, element_id: str) -> Any:
    [raw] = re.findall(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html)
    return json.loads(raw)


def test_the_current_period_figures_are_right(ingest: Ingest) -> None:
    client = signed_in(make_member(role=Role.VIEWER, vendor=ingest.api.vendor))

    html = dashboard(client)

    [row] = rows(html, "current-periods")
    assert row == [
        "CTR-ingest " + ingest.contract.customer.name,
        "1\N{EN DASH}31 March 2026 America/New_York",
        "3",  # the billable ones, the very outcomes "billable so far" rates
        "2.00 USD",  # 3 billable: 1 free, 2 x 1.00, rated as the March invoice will be
        "102.00 USD",  # with the platform fee
        "1",
        "1",
        "Velocity anomaly: 1",
    ]
    [states] = rows(html, "states-by-contract")
    assert dict(zip(OutcomeState.values, states[1:], strict=True)) == {
        "received": "0",
        "pending": "0",
        "maturing": "0",
        "billable": "3",
        "billed": "0",  # February's two are billed, but not in this period
        "rejected": "0",
        "flagged": "1",
        "disputed": "1",
        "reversed": "0",
    }
    kpis = dict(re.findall(r'data-kpi="(\w+)">(?:<a [^>]*>)?(\d+)', html))
    assert kpis == {"outcomes": "5", "flagged": "1", "disputed": "1", "anomalies": "1"}


def test_outcomes_and_money_are_counted_on_one_basis_late_arrivals_included() -> None:
    """Two outcomes of February arrive on March 4th, after February's invoice was finalized: March's
    invoice bills them. The row counted outcomes by when they occurred and money by when they became
    billable, so it read "0 outcomes, 1.00 USD billable"; both now count the outcomes the invoice takes."""
    ingest = contract_ingest()
    billable(ingest, 2, FEBRUARY + dt.timedelta(days=5), prefix="F")
    february = period_close(contract_id=ingest.contract.pk, period_start=FEBRUARY, now=MARCH)
    invoice_finalize(invoice_id=february.pk, now=MARCH + dt.timedelta(hours=1))
    with time_machine.travel(MARCH + dt.timedelta(days=3), tick=False):
        late = [
            event(natural_key=f"LATE-{n}", occurred_at=(MARCH - dt.timedelta(days=2)).isoformat())
            for n in (1, 2)
        ]
        assert ingest.post({"events": late}).status_code == 200
    with time_machine.travel(MARCH + dt.timedelta(days=3, minutes=2), tick=False):
        outcomes_build_sweep()
        outcomes_evaluate_due()
    assert Outcome.objects.filter(natural_key__startswith="LATE-", state=OutcomeState.BILLABLE).count() == 2

    html = dashboard(signed_in(make_member(role=Role.VIEWER, vendor=ingest.api.vendor)))

    [row] = rows(html, "current-periods")
    assert row[1:5] == [
        "1\N{EN DASH}31 March 2026 America/New_York",
        "2",  # billable outcomes: February's late two
        "1.00 USD",  # billable so far: 1 free + 1 x 1.00
        "101.00 USD",  # with the platform fee
    ]
    # What occurred in March, said to be so: nothing yet.
    [states] = rows(html, "states-by-contract")
    assert states[1:] == ["0"] * len(OutcomeState.values)
    assert re.search(r'data-kpi="outcomes">(\d+)', html).group(1) == "0"  # type: ignore[union-attr]
    assert "Outcomes that occurred this period" in html
    assert "count the same outcomes, by when they became billable" in html


def test_the_charts_count_outcomes_per_day_and_sum_billed_periods(ingest: Ingest) -> None:
    html = dashboard(signed_in(make_member(role=Role.OWNER, vendor=ingest.api.vendor)))

    per_day = chart_data(html, "outcomes-per-day")
    assert len(per_day["labels"]) == 60
    assert (per_day["labels"][0], per_day["labels"][-1]) == ("2026-01-20", "2026-03-20")
    series = {s["state"]: dict(zip(per_day["labels"], s["counts"], strict=True)) for s in per_day["series"]}
    assert set(series) == {"billable", "billed", "flagged", "disputed"}
    assert series["billed"]["2026-02-06"] == 2
    assert (series["billable"]["2026-03-04"], series["flagged"]["2026-03-04"]) == (3, 1)
    assert sum(sum(days.values()) for days in series.values()) == 7

    assert chart_data(html, "billed-per-period") == {
        "labels": ["2026-02-01"],
        "series": [{"currency": "USD", "exponent": 2, "totals_minor": [10_100]}],
    }
    assert '<canvas id="chart-outcomes"' in html
    assert '<canvas id="chart-billed"' in html
    assert "portal/vendor/chartjs/chart.umd.min.js" in html


def test_the_dashboard_queries_do_not_grow_with_the_outcomes(ingest: Ingest) -> None:
    client = signed_in(make_member(role=Role.OWNER, vendor=ingest.api.vendor))
    second = contract_ingest("CTR-second", api=ingest.api)
    billable(second, 2, MARCH + dt.timedelta(days=1), prefix="S")
    with CaptureQueriesContext(connection) as before:
        dashboard(client)

    billable(ingest, 6, MARCH + dt.timedelta(days=4), prefix="MORE")
    billable(second, 6, MARCH + dt.timedelta(days=4), prefix="MORE")
    with CaptureQueriesContext(connection) as after:
        html = dashboard(client)

    assert [row[2] for row in rows(html, "current-periods")] == ["9", "8"]
    assert len(after.captured_queries) == len(before.captured_queries)


def test_another_vendor_sees_none_of_it(ingest: Ingest) -> None:
    html = dashboard(signed_in(make_member(role=Role.OWNER)))

    assert "CTR-ingest" not in html
    assert "No active contract yet" in html
    assert chart_data(html, "outcomes-per-day")["series"] == []
    assert chart_data(html, "billed-per-period") == {"labels": [], "series": []}


def test_a_viewer_reads_it_without_edit_controls_and_cannot_post(ingest: Ingest) -> None:
    client = signed_in(make_member(role=Role.VIEWER, vendor=ingest.api.vendor))

    html = dashboard(client)

    main = html.split('<main id="main"', 1)[1]
    assert "<form" not in main
    assert "<button" not in main
    assert client.post("/").status_code == 403


def test_a_contract_not_started_yet_is_left_out(ingest: Ingest) -> None:
    later = contract_ingest("CTR-later", api=ingest.api)
    type(later.contract).objects.filter(pk=later.contract.pk).update(
        starts_at=timezone.now() + dt.timedelta(days=400)
    )

    html = dashboard(signed_in(make_member(role=Role.OWNER, vendor=ingest.api.vendor)))

    assert [row[0].split()[0] for row in rows(html, "current-periods")] == ["CTR-ingest"]


def test_at_a_glance_the_contracts_making_the_most_come_first_and_the_rest_are_a_link_away(
    ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An intended change (issue 18): the current periods list the AT_A_GLANCE contracts with the most
    billable so far, not every contract in force by reference; `?contracts=all` lists them all, in the
    same order. The totals above count every contract."""
    monkeypatch.setattr("settlement.views.AT_A_GLANCE", 2)
    second = contract_ingest("CTR-second", api=ingest.api)
    billable(second, 2, MARCH + dt.timedelta(days=1), prefix="S")  # 1 free + 1.00
    third = contract_ingest("CTR-third", api=ingest.api)
    billable(third, 4, MARCH + dt.timedelta(days=1), prefix="T3")  # 1 free + 2 x 1.00 + 0.505
    client = signed_in(make_member(role=Role.OWNER, vendor=ingest.api.vendor))

    html = dashboard(client)

    assert [(row[0].split()[0], row[3]) for row in rows(html, "current-periods")] == [
        ("CTR-third", "2.51 USD"),
        ("CTR-ingest", "2.00 USD"),
    ]
    assert [row[0] for row in rows(html, "states-by-contract")] == ["CTR-third", "CTR-ingest"]
    assert "CTR-second" not in html
    assert (
        'The 2 contracts with the most billable so far, of 3 in force. <a href="?contracts=all#periods-title">'
        "Show all 3</a>" in html
    )
    assert re.search(r'data-kpi="outcomes">(\d+)', html).group(1) == "11"  # type: ignore[union-attr]

    every = dashboard(client, "/?contracts=all")

    assert [row[0].split()[0] for row in rows(every, "current-periods")] == [
        "CTR-third",
        "CTR-ingest",
        "CTR-second",
    ]
    assert [row[0] for row in rows(every, "states-by-contract")] == ["CTR-third", "CTR-ingest", "CTR-second"]
    assert (
        'All 3 contracts in force, the most billable so far first. <a href="/#periods-title">Show the top 2</a>'
        in every
    )


def to_collect(html: str) -> dict[str, tuple[str, str, str]]:
    """The "To collect" panel: problem -> (count, its link, amounts)."""
    panel = html.split('id="to-collect"', 1)[1].split("</section>", 1)[0]
    return {
        problem: (count, link.replace("&amp;", "&"), " ".join(amounts.split()))
        for problem, link, count, amounts in re.findall(
            r'data-collection="(\w+)">.*?<a href="([^"]+)"[^>]*>(\d+)</a>.*?<div class="amounts">(.*?)</div>',
            panel,
        )
    }


def test_to_collect_counts_and_sums_invoices_overdue_failed_and_blocked(ingest: Ingest) -> None:
    february = on_stripe(Invoice.objects.get(contract=ingest.contract, period_start=FEBRUARY))
    payment_failed(february, MARCH + dt.timedelta(days=2), next_attempt=MARCH + dt.timedelta(days=5))
    stripe_says(february, "invoice.overdue", MARCH + dt.timedelta(days=10))
    euro = make_ingest(
        ingest.api,
        reference="CTR-euro",
        currency="EUR",
        terms=version_terms(
            platform_fee_minor=5_000,
            minimum_commitment_minor=0,
            outcome_types=[outcome_type_terms(verification_policy=FAST)],
        ),
    )
    billable(euro, 1, FEBRUARY + dt.timedelta(days=3), prefix="E")
    blocked(finalized(euro, FEBRUARY, MARCH), MARCH + dt.timedelta(hours=2))  # 0.90 + 50.00 EUR
    paid = on_stripe(finalized(contract_ingest("CTR-paid", api=ingest.api), FEBRUARY, MARCH))
    stripe_says(paid, "invoice.overdue", MARCH + dt.timedelta(days=10))
    stripe_says(paid, "invoice.paid", MARCH + dt.timedelta(days=11), status="paid")

    html = dashboard(signed_in(make_member(role=Role.VIEWER, vendor=ingest.api.vendor)))

    assert to_collect(html) == {
        "overdue": ("1", "/invoices/?collection=overdue", "101.00 USD"),
        "failed": ("1", "/invoices/?collection=failed", "101.00 USD"),
        "blocked": ("1", "/invoices/?collection=blocked", "50.90 EUR"),
    }
    assert to_collect(dashboard(signed_in(make_member(role=Role.OWNER)))) == {
        "overdue": ("0", "/invoices/?collection=overdue", "nothing"),
        "failed": ("0", "/invoices/?collection=failed", "nothing"),
        "blocked": ("0", "/invoices/?collection=blocked", "nothing"),
    }

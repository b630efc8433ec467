"""Rule 16 through the pipeline, outcomes arriving one at a time (each verified as it is built).

Regression: the baseline once skipped the outcomes it had itself rejected, so it slid on to every new
outcome and the whole period was rejected as "within_baseline".
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from outcomes.models import Outcome, OutcomeVerdict
from outcomes.verdict_trail import verdicts_recorded
from tests.factories import outcome_type_terms, version_terms
from tests.support.ingest import Ingest, event, make_ingest

pytestmark = pytest.mark.django_db(transaction=True)

T0 = dt.datetime(2026, 6, 2, 12, 0, tzinfo=dt.UTC)
POLICY: dict[str, Any] = {
    "confirmation": {"required": False},
    "maturation": {"hold_hours": 0},
    "evidence": {"required_fields": {"ticket_status": "string"}},
    "baseline_lift": {"enabled": True, "baseline_units_per_period": 2},
}


def lift_ingest() -> Ingest:
    terms = version_terms(outcome_types=[outcome_type_terms(verification_policy=POLICY)])
    return make_ingest(reference="CTR-lift", terms=terms)


def post_one_by_one(ingest: Ingest, evidence: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """Post claim i at T0 + i hours, then return each outcome's state and its baseline verdict."""
    for i, fields in enumerate(evidence):
        at = T0 + dt.timedelta(hours=i)
        with time_machine.travel(at, tick=False):
            response = ingest.post(
                event(contract="CTR-lift", natural_key=f"K-{i}", occurred_at=at.isoformat(), evidence=fields)
            )
        assert response.status_code == 200, response.content
    trail = {}
    for outcome in Outcome.objects.order_by("natural_key"):
        lift = [v for v in verdicts_recorded(outcome_ids=[outcome.pk]) if v.rule == "baseline_lift"][-1]
        trail[outcome.natural_key] = (outcome.state, lift.reason if lift else "")
    return trail


def test_only_the_first_units_of_the_period_are_within_the_baseline() -> None:
    trail = post_one_by_one(lift_ingest(), [{"ticket_status": "solved"}] * 5)

    assert trail == {
        "K-0": ("rejected", "within_baseline"),
        "K-1": ("rejected", "within_baseline"),
        "K-2": ("billable", "above_baseline"),
        "K-3": ("billable", "above_baseline"),
        "K-4": ("billable", "above_baseline"),
    }


def test_an_outcome_refused_for_another_reason_takes_no_baseline_unit() -> None:
    trail = post_one_by_one(lift_ingest(), [{}] + [{"ticket_status": "solved"}] * 3)

    assert trail["K-0"][0] == "rejected"
    assert OutcomeVerdict.objects.filter(outcome__natural_key="K-0", rule="evidence").get().reason == (
        "evidence_missing"
    )
    assert (trail["K-1"], trail["K-2"], trail["K-3"]) == (
        ("rejected", "within_baseline"),
        ("rejected", "within_baseline"),
        ("billable", "above_baseline"),
    )

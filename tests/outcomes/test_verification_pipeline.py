"""The pipeline end to end through webhooks: claims, confirmations, maturation, idempotent re-evaluation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from outcomes.models import Outcome, OutcomeState, OutcomeTransition
from outcomes.services.building import outcomes_build_sweep
from outcomes.services.verification import outcomes_evaluate, outcomes_evaluate_due
from outcomes.verdict_trail import verdicts_recorded
from tests.support.ingest import Ingest, event

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def post_at(ingest: Ingest, at: dt.datetime, payload: Any, *, as_agent: bool = False) -> None:
    with time_machine.travel(at, tick=False):
        response = ingest.post(payload, as_agent=as_agent)
    assert response.status_code == 200, response.content


def build_and_evaluate(at: dt.datetime) -> Outcome:
    with time_machine.travel(at + dt.timedelta(minutes=2), tick=False):
        outcomes_build_sweep()
    outcomes_evaluate(outcome_ids=Outcome.objects.values_list("id", flat=True), now=at)
    return Outcome.objects.get()


def test_confirmed_claim_matures_then_becomes_billable(ingest: Ingest) -> None:
    post_at(ingest, T0, event(natural_key="T-1", occurred_at=T0.isoformat()), as_agent=True)
    post_at(
        ingest,
        T0 + dt.timedelta(hours=1),
        event(
            natural_key="T-1", kind="outcome.confirmed", occurred_at=(T0 + dt.timedelta(hours=1)).isoformat()
        ),
    )

    outcome = build_and_evaluate(T0 + dt.timedelta(hours=2))
    assert outcome.state == OutcomeState.MATURING
    assert outcome.hold_until == T0 + dt.timedelta(hours=25)

    summary = outcomes_evaluate_due(now=T0 + dt.timedelta(hours=25))
    outcome.refresh_from_db()
    assert summary.evaluated == 1
    assert outcome.state == OutcomeState.BILLABLE
    assert outcome.billable_at == T0 + dt.timedelta(hours=25)
    assert list(OutcomeTransition.objects.order_by("id").values_list("to_state", flat=True)) == [
        "received",
        "pending",
        "maturing",
        "billable",
    ]
    verdicts = {v.rule: (v.decision, v.reason) for v in verdicts_recorded()}
    assert verdicts["confirmation"] == ("accept", "confirmed")
    assert verdicts["maturation"] == ("accept", "matured")


def test_unconfirmed_claim_is_rejected_after_the_match_window(ingest: Ingest) -> None:
    post_at(ingest, T0, event(natural_key="T-2", occurred_at=T0.isoformat()), as_agent=True)

    outcome = build_and_evaluate(T0 + dt.timedelta(hours=71, minutes=59, seconds=59))
    assert (outcome.state, outcome.hold_until) == (OutcomeState.MATURING, T0 + dt.timedelta(hours=72))

    outcomes_evaluate_due(now=T0 + dt.timedelta(hours=72))
    outcome.refresh_from_db()
    assert outcome.state == OutcomeState.REJECTED
    assert [v for v in verdicts_recorded() if v.rule == "confirmation"][-1].reason == "unconfirmed"


def test_re_evaluation_without_new_evidence_writes_nothing(ingest: Ingest) -> None:
    post_at(ingest, T0, event(natural_key="T-3", occurred_at=T0.isoformat()), as_agent=True)
    build_and_evaluate(T0 + dt.timedelta(hours=1))
    counts = (len(verdicts_recorded()), OutcomeTransition.objects.count())

    summary = outcomes_evaluate(
        outcome_ids=Outcome.objects.values_list("id", flat=True), now=T0 + dt.timedelta(hours=1)
    )

    assert (summary.verdicts, summary.transitions) == (0, 0)
    assert (len(verdicts_recorded()), OutcomeTransition.objects.count()) == counts


def test_a_customer_accepting_a_flag_counts_as_its_confirmation(ingest: Ingest) -> None:
    from outcomes.models import Party, ReviewDecision

    post_at(ingest, T0, event(natural_key="T-9", occurred_at=T0.isoformat()), as_agent=True)
    outcome = build_and_evaluate(T0 + dt.timedelta(hours=1))
    assert outcome.state == OutcomeState.MATURING  # awaiting the customer's confirmation
    ReviewDecision.objects.create(
        outcome=outcome,
        flag_reason="velocity_anomaly",
        verdict=ReviewDecision.Verdict.ACCEPT,
        party=Party.CUSTOMER,
        actor="api_key:customer",
        justification="",
        at=T0 + dt.timedelta(hours=2),
    )

    outcomes_evaluate(outcome_ids=[outcome.pk], now=T0 + dt.timedelta(hours=80))

    outcome.refresh_from_db()
    assert outcome.state == OutcomeState.BILLABLE  # not rejected as unconfirmed after the 72 h window
    assert outcome.confirmed_at == T0 + dt.timedelta(hours=2)

"""Caps under concurrency against real Postgres, and the beat schedule that moves outcomes with time.

Rule 11: per-period count ceilings are enforced inside the transaction (a locked counter row per
contract, outcome type and period), so 20 concurrent claims against 5 remaining units bill exactly 5
and hold the other 15 until the period ends.
"""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from config.celery import app as celery_app
from contracts.models import CustomerCap
from contracts.periods import period_at
from outcomes.models import CapCounter, Decision, Outcome, OutcomeState, OutcomeTransition, OutcomeVerdict
from outcomes.services import building
from outcomes.services.verification import EvaluationSummary, outcomes_evaluate, outcomes_evaluate_due
from outcomes.tasks import evaluate_due_outcomes, sweep_unprocessed_events
from outcomes.verdict_trail import verdicts_recorded
from tests.factories import outcome_type_terms, version_terms
from tests.support.ingest import Ingest, event, make_ingest

CAP = 8
ALREADY_BILLABLE = 3
REMAINING = CAP - ALREADY_BILLABLE
CLAIMS = 20
ROUNDS = 5

# Billable at once: no confirmation to wait for, no maturation hold; only the cap stands in the way.
IMMEDIATE_POLICY = {"confirmation": {"required": False}, "maturation": {"hold_hours": 0}}


def capped_ingest(round_no: int) -> Ingest:
    terms = version_terms(
        outcome_types=[outcome_type_terms(cap_units=CAP, verification_policy=IMMEDIATE_POLICY)]
    )
    return make_ingest(reference=f"CTR-caps-{round_no}", terms=terms)


def post_claims(ingest: Ingest, keys: list[str], occurred_at: dt.datetime) -> None:
    body = {
        "events": [
            event(contract=ingest.contract.reference, natural_key=key, occurred_at=occurred_at.isoformat())
            for key in keys
        ]
    }
    response = ingest.post(body, as_agent=True)
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == len(keys)


def evaluate_concurrently(outcome_ids: list[int]) -> list[EvaluationSummary]:
    """One thread per outcome, all released at once; each thread uses (and closes) its own connection."""
    barrier = threading.Barrier(len(outcome_ids))

    def evaluate(outcome_id: int) -> EvaluationSummary:
        try:
            barrier.wait(timeout=30)
            return outcomes_evaluate(outcome_ids=[outcome_id])
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(outcome_ids)) as pool:
        return list(pool.map(evaluate, outcome_ids))


def latest_verdict(outcome: Outcome, rule: str) -> OutcomeVerdict:
    return [v for v in verdicts_recorded(outcome_ids=[outcome.pk]) if v.rule == rule][-1]


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_claims_against_five_remaining_units_bill_exactly_five(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for round_no in range(ROUNDS):
        ingest = capped_ingest(round_no)
        occurred_at = timezone.now() - dt.timedelta(hours=1)
        contract = ingest.contract
        period = period_at(
            occurred_at,
            tz_name=contract.timezone,
            anchor_day=contract.anchor_day,
            months=contract.period_count,
            contract_start=contract.starts_at,
            contract_end=contract.ends_at,
        )
        in_period = Outcome.objects.filter(
            contract=contract, occurred_at__gte=period.start, occurred_at__lt=period.end
        )

        # Three units of the period are used: built and verified as they arrive (eager Celery).
        post_claims(ingest, [f"USED-{i}" for i in range(ALREADY_BILLABLE)], occurred_at)
        assert in_period.filter(state=OutcomeState.BILLABLE).count() == ALREADY_BILLABLE

        # Twenty more are built but not yet verified: they wait in `pending` for the race below.
        with monkeypatch.context() as patch:
            patch.setattr(building, "outcomes_evaluate", lambda **kwargs: EvaluationSummary())
            post_claims(ingest, [f"NEW-{i}" for i in range(CLAIMS)], occurred_at)
        new = in_period.filter(natural_key__startswith="NEW-")
        assert list(new.values_list("state", flat=True).distinct()) == [OutcomeState.PENDING]
        if round_no % 2:
            # Odd rounds also race on creating the period's counter row, not only on locking it.
            CapCounter.objects.filter(contract=contract).delete()

        summaries = evaluate_concurrently(list(new.values_list("id", flat=True)))

        assert sum(s.evaluated for s in summaries) == CLAIMS
        assert in_period.filter(state=OutcomeState.BILLABLE).count() == CAP, f"round {round_no}"
        assert new.filter(state=OutcomeState.BILLABLE).count() == REMAINING
        held = new.filter(state=OutcomeState.MATURING)
        assert held.count() == CLAIMS - REMAINING
        assert set(held.values_list("hold_until", flat=True)) == {period.end}
        assert CapCounter.objects.filter(contract=contract).count() == 1

        positions = []
        for outcome in new:
            cap = latest_verdict(outcome, "caps")
            if outcome.state == OutcomeState.BILLABLE:
                assert (cap.decision, cap.reason) == (Decision.ACCEPT, "within_cap")
                positions.append(cap.facts["position"])
                assert list(outcome.transitions.order_by("id").values_list("to_state", flat=True)) == [
                    "received",
                    "pending",
                    "maturing",
                    "billable",
                ]
            else:
                assert (cap.decision, cap.reason) == (Decision.HOLD, "cap_exceeded")
                assert cap.hold_until == period.end
                assert cap.facts["used"] == CAP
                assert cap.facts["cap_units"] == CAP
                last = outcome.transitions.order_by("id").last()
                assert last is not None
                assert (last.to_state, last.reason) == (OutcomeState.MATURING, "cap_exceeded")
        # Each admitted unit took its own place: the counter serialized them, none was counted twice.
        assert sorted(positions) == list(range(ALREADY_BILLABLE + 1, CAP + 1))

        # Looking again changes nothing: the held ones stay held, no verdict or transition is written.
        counts = (len(verdicts_recorded()), OutcomeTransition.objects.count())
        outcomes_evaluate(outcome_ids=list(new.values_list("id", flat=True)))
        assert (len(verdicts_recorded()), OutcomeTransition.objects.count()) == counts
        assert in_period.filter(state=OutcomeState.BILLABLE).count() == CAP


@pytest.mark.django_db(transaction=True)
def test_a_held_outcome_is_looked_at_once_when_its_period_ends_then_no_more() -> None:
    """At period end the cap still holds the excess; it must not come due again every minute."""
    ingest = capped_ingest(0)
    occurred_at = timezone.now() - dt.timedelta(hours=1)
    post_claims(ingest, [f"U-{i}" for i in range(CAP + 2)], occurred_at)
    held = Outcome.objects.filter(contract=ingest.contract, state=OutcomeState.MATURING)
    assert held.count() == 2
    period_end = held.values_list("hold_until", flat=True).distinct().get()
    assert period_end is not None

    after = period_end + dt.timedelta(minutes=1)
    assert outcomes_evaluate_due(now=after).evaluated == 2
    assert set(held.values_list("state", flat=True)) == {OutcomeState.MATURING}
    assert Outcome.objects.filter(contract=ingest.contract, state=OutcomeState.BILLABLE).count() == CAP
    # Nothing more can free a unit of a closed period by time alone: the next minute finds nothing due.
    assert outcomes_evaluate_due(now=after + dt.timedelta(minutes=1)).evaluated == 0
    for outcome in held:
        assert (latest_verdict(outcome, "caps").reason, outcome.hold_until) == ("cap_exceeded", None)


# --- the beat schedule ------------------------------------------------------------------------


def test_beat_schedule_runs_due_evaluation_and_the_sweep_every_minute() -> None:
    schedule: dict[str, dict[str, Any]] = celery_app.conf.beat_schedule
    by_task = {entry["task"]: entry for entry in schedule.values()}

    for task in (evaluate_due_outcomes, sweep_unprocessed_events):
        assert task.name in by_task, f"{task.name} is not scheduled"
        assert by_task[task.name]["schedule"] == 60.0
        assert task.name in celery_app.tasks


@pytest.mark.django_db
def test_evaluate_due_outcomes_moves_a_maturing_outcome_whose_hold_came_due(ingest: Ingest) -> None:
    t0 = timezone.now().replace(microsecond=0) - dt.timedelta(days=2)
    with time_machine.travel(t0, tick=False):
        response = ingest.post(event(natural_key="T-due", occurred_at=t0.isoformat()))
    assert response.status_code == 200, response.content
    with time_machine.travel(t0 + dt.timedelta(minutes=2), tick=False):
        assert sweep_unprocessed_events.delay().get() == 1
    outcome = Outcome.objects.get(natural_key="T-due")
    assert (outcome.state, outcome.hold_until) == (OutcomeState.MATURING, t0 + dt.timedelta(hours=24))

    with time_machine.travel(t0 + dt.timedelta(hours=23, minutes=59), tick=False):
        assert evaluate_due_outcomes.delay().get() == 0
    outcome.refresh_from_db()
    assert outcome.state == OutcomeState.MATURING

    with time_machine.travel(t0 + dt.timedelta(hours=24), tick=False):
        assert evaluate_due_outcomes.delay().get() == 1
    outcome.refresh_from_db()
    assert (outcome.state, outcome.hold_until) == (OutcomeState.BILLABLE, None)
    assert outcome.billable_at == t0 + dt.timedelta(hours=24)
    last = outcome.transitions.order_by("id").last()
    assert last is not None
    assert (last.from_state, last.to_state, last.actor) == ("maturing", "billable", "system:verification")
    assert latest_verdict(outcome, "maturation").reason == "matured"


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_claims_against_the_customers_amount_cap_bill_exactly_what_fits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rule 11a in amounts, counted under the same lock: at 0.90 each, a cap of 7.20 leaves room for 5
    after 3 billable; of 20 racing claims exactly 5 are admitted, 15 wait for the customer."""
    ingest = make_ingest(
        reference="CTR-amount-caps",
        terms=version_terms(outcome_types=[outcome_type_terms(verification_policy=IMMEDIATE_POLICY)]),
    )
    contract = ingest.contract
    CustomerCap.objects.create(
        contract=contract,
        outcome_type_key="ticket.resolved",
        max_amount_minor=CAP * 90,
        set_by="api_key:c",
        set_at=timezone.now(),
    )
    occurred_at = timezone.now() - dt.timedelta(hours=1)
    post_claims(ingest, [f"USED-{i}" for i in range(ALREADY_BILLABLE)], occurred_at)
    outcomes = Outcome.objects.filter(contract=contract)
    assert outcomes.filter(state=OutcomeState.BILLABLE).count() == ALREADY_BILLABLE
    with monkeypatch.context() as patch:
        patch.setattr(building, "outcomes_evaluate", lambda **kwargs: EvaluationSummary())
        post_claims(ingest, [f"NEW-{i}" for i in range(CLAIMS)], occurred_at)
    new = outcomes.filter(natural_key__startswith="NEW-")

    summaries = evaluate_concurrently(list(new.values_list("id", flat=True)))

    assert sum(s.evaluated for s in summaries) == CLAIMS
    assert new.filter(state=OutcomeState.BILLABLE).count() == REMAINING
    assert new.filter(state=OutcomeState.FLAGGED).count() == CLAIMS - REMAINING
    admitted = sorted(
        latest_verdict(outcome, "customer_caps").facts["amount_minor"]
        for outcome in new.filter(state=OutcomeState.BILLABLE)
    )
    # Each admission priced after the one before it: the counter serialized them.
    assert admitted == [90 * n for n in range(ALREADY_BILLABLE + 1, CAP + 1)]
    for outcome in new.filter(state=OutcomeState.FLAGGED):
        held = latest_verdict(outcome, "customer_caps")
        assert (held.reason, held.facts["amount_minor"], held.facts["price_minor"]) == (
            "customer_cap_exceeded",
            CAP * 90,
            90,
        )

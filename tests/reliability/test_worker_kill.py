"""Workers killed with SIGKILL in the middle of a period close and of outcome processing.

A lock held by the test stops the task mid-way (its worker's session waits for it), the worker is
killed, and after the recovery the project has (the message redelivered, for a lost pool process; a
restarted worker and the beat's jobs, for a lost worker) every invoice and outcome is as an
undisturbed run of the same input leaves it: same lines and totals, same states, transitions and
verdicts, nothing doubled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from contracts.models import Contract
from outcomes.models import Outcome, OutcomeState
from outcomes.tasks import evaluate_due_outcomes, sweep_unprocessed_events
from outcomes.verdict_trail import verdicts_recorded
from settlement.invoicing.close import period_close
from settlement.models import Invoice, LineOutcome
from settlement.tasks import close_due_periods, close_period
from tests.factories import outcome_type_terms, version_terms
from tests.support.faults import (
    LockHolder,
    forget_unacknowledged_messages,
    kill,
    pool_processes,
    waiting_for_a_lock,
)
from tests.support.ingest import Ingest, event, make_ingest
from tests.support.polling import until_equal, wait_until
from tests.support.settlement import FAST, GRADUATED, billable
from tests.support.workers import real_celery_worker

pytestmark = pytest.mark.django_db(transaction=True)

OCTOBER = dt.datetime(2026, 10, 1, 4, 0, tzinfo=dt.UTC)  # local midnight in New York (EDT)


@pytest.fixture(autouse=True)
def no_stray_messages() -> Iterator[None]:
    yield
    forget_unacknowledged_messages()


def invoice_story(contract: Contract) -> list[Any]:
    """What closing October leaves, without ids and timestamps. (Only October: once a later period has
    ended too, the beat's close_due_periods rightly closes it as well.)"""
    return [
        (
            invoice.status,
            invoice.period_start,
            invoice.total_minor,
            [
                (line.kind, line.description, line.quantity, line.unit_price, line.amount_minor)
                for line in invoice.lines.order_by("position")
            ],
            LineOutcome.objects.filter(line__invoice=invoice).count(),
        )
        for invoice in Invoice.objects.filter(contract=contract, period_start=OCTOBER)
    ]


def outcome_story(contract: Contract) -> dict[str, Any]:
    """What processing leaves of each outcome, without ids and timestamps."""
    return {
        outcome.natural_key: (
            outcome.state,
            [(t.from_state, t.to_state, t.reason) for t in outcome.transitions.order_by("id")],
            sorted((v.rule, v.decision, v.reason) for v in verdicts_recorded(outcome_ids=[outcome.pk])),
            outcome.event_links.count(),
        )
        for outcome in Outcome.objects.filter(contract=contract)
    }


def october_contract() -> Ingest:
    """A contract from October 1 whose outcomes are billable at once, with six of them in October."""
    terms = version_terms(
        platform_fee_minor=10_000,
        minimum_commitment_minor=0,
        outcome_types=[outcome_type_terms(pricing=GRADUATED, free_units=1, verification_policy=FAST)],
    )
    ingest = make_ingest(terms=terms, starts_at=OCTOBER.date().isoformat())
    billable(ingest, 6, OCTOBER + dt.timedelta(days=10))
    return ingest


@pytest.fixture
def undisturbed_close() -> list[Any]:
    """The same contract and outcomes, closed in this process without any fault: what to expect."""
    baseline = october_contract()
    period_close(contract_id=baseline.contract.pk, period_start=OCTOBER)
    story = invoice_story(baseline.contract)
    assert story[0][3], "the undisturbed close bills something"
    return story


def locking_its_outcomes(contract: Contract) -> LockHolder:
    """A close rates a period's billable outcomes under FOR UPDATE: holding them stops it half-way."""
    return LockHolder("SELECT id FROM outcomes_outcome WHERE contract_id = %s FOR UPDATE", [contract.pk])


def test_a_pool_process_killed_mid_close_loses_nothing_the_message_comes_back(
    undisturbed_close: list[Any],
) -> None:
    """acks_late + task_reject_on_worker_lost: the message of a task whose process died is requeued."""
    ingest = october_contract()

    with locking_its_outcomes(ingest.contract) as held, real_celery_worker(pool="prefork") as worker:
        close_period.delay(str(ingest.contract.pk), OCTOBER.isoformat())
        wait_until(waiting_for_a_lock, message="the close to be under way")
        [pool_process] = pool_processes(worker)
        kill(pool_process)
        held.release()

        story = until_equal(lambda: invoice_story(ingest.contract), undisturbed_close)

        assert worker.poll() is None
    assert story == undisturbed_close


def test_a_worker_killed_mid_close_is_caught_up_by_the_beat_after_restart(
    undisturbed_close: list[Any],
) -> None:
    """A lost worker's message only comes back after the broker's visibility timeout (an hour); the
    beat's close_due_periods finds the period still due, because the close left nothing half-done."""
    ingest = october_contract()

    with locking_its_outcomes(ingest.contract) as held:
        with real_celery_worker() as worker:
            close_period.delay(str(ingest.contract.pk), OCTOBER.isoformat())
            wait_until(waiting_for_a_lock, message="the close to be under way")
            kill(worker.pid)
            worker.wait(timeout=10)
        held.release()
    assert invoice_story(ingest.contract) == []  # no empty draft left behind

    with real_celery_worker():
        close_due_periods.delay()  # what the beat sends every five minutes
        story = until_equal(lambda: invoice_story(ingest.contract), undisturbed_close)

    assert story == undisturbed_close


def test_a_worker_killed_mid_outcome_processing_is_caught_up_by_the_beat_after_restart() -> None:
    """Killed after the events were merged into outcomes and before they were verified: the beat's
    evaluate_due_outcomes verifies them (they are due from the merge on), once."""
    batch = [event(natural_key=f"T-kill-{i}") for i in range(4)]
    baseline = make_ingest()
    assert baseline.post({"events": batch}).status_code == 200  # processed in this process, no fault
    expected = outcome_story(baseline.contract)
    assert {story[0] for story in expected.values()} == {OutcomeState.MATURING}
    ingest = make_ingest()

    # Verification writes verdicts; holding the table stops it after the merge has committed.
    with LockHolder("LOCK TABLE outcomes_outcomeverdict IN SHARE MODE") as held:
        with real_celery_worker() as worker:
            assert ingest.post({"events": batch}).status_code == 200
            wait_until(waiting_for_a_lock, message="the verification to be under way")
            kill(worker.pid)
            worker.wait(timeout=10)
        held.release()
    half_done = outcome_story(ingest.contract)
    assert {story[0] for story in half_done.values()} == {OutcomeState.PENDING}
    assert len(half_done) == len(batch)

    with real_celery_worker():
        sweep_unprocessed_events.delay()  # what the beat sends every minute
        evaluate_due_outcomes.delay()
        story = until_equal(lambda: outcome_story(ingest.contract), expected)

    assert story == expected

"""Stories for the per-rule tests: a contract whose one outcome type carries the policy under test,
events posted (signed) at chosen instants by the vendor's agent or the customer's system of record,
then built and evaluated at chosen instants."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import time_machine

from contracts.models import Contract
from outcomes.models import Outcome, OutcomeState, OutcomeVerdict
from outcomes.services.building import SWEEP_GRACE, outcomes_build_sweep
from outcomes.services.verification import EvaluationSummary, outcomes_evaluate
from outcomes.verdict_trail import verdicts_recorded
from tests.factories import outcome_type_terms, version_terms
from tests.support.ingest import Ingest, event, make_ingest

T0 = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)

# One sha256 hex digest, for evidence that must look like a transcript hash.
DIGEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def policy_terms(policy: dict[str, Any] | None = None, **type_overrides: Any) -> dict[str, Any]:
    """Version terms whose ticket.resolved type carries `policy` as its verification policy."""
    return version_terms(
        outcome_types=[outcome_type_terms(verification_policy=policy or {}, **type_overrides)]
    )


@dataclass
class Story:
    ingest: Ingest
    last_arrival: dt.datetime | None = None

    @property
    def contract(self) -> Contract:
        return self.ingest.contract

    def event(
        self, *, key: str, at: dt.datetime, kind: str = "outcome.claimed", **fields: Any
    ) -> dict[str, Any]:
        """One event of this contract that happened at `at`."""
        return event(
            contract=self.contract.reference, natural_key=key, kind=kind, occurred_at=at.isoformat(), **fields
        )

    def send(
        self, at: dt.datetime, payload: Any, *, as_agent: bool = False, sender: str = "127.0.0.1"
    ) -> None:
        """Post signed at `at` (the clock frozen there) from `sender`; the delivery must be accepted."""
        with time_machine.travel(at, tick=False):
            response = self.ingest.post(payload, as_agent=as_agent, sender=sender)
        self.last_arrival = max(at, self.last_arrival or at)
        assert response.status_code == 200, response.content
        expected = len(payload["events"]) if "events" in payload else 1
        assert response.json()["accepted"] == expected, response.content

    def post(
        self,
        at: dt.datetime,
        key: str,
        *,
        kind: str = "outcome.claimed",
        occurred_at: dt.datetime | None = None,
        as_agent: bool = False,
        sender: str = "127.0.0.1",
        **fields: Any,
    ) -> None:
        self.send(
            at,
            self.event(key=key, at=occurred_at or at, kind=kind, **fields),
            as_agent=as_agent,
            sender=sender,
        )

    def claim(self, at: dt.datetime, key: str, **fields: Any) -> None:
        """The vendor's agent claims the outcome."""
        self.post(at, key, as_agent=True, **fields)

    def confirm(self, at: dt.datetime, key: str, **fields: Any) -> None:
        """The customer's system of record confirms it."""
        self.post(at, key, kind="outcome.confirmed", **fields)

    def reverse(self, at: dt.datetime, key: str, reason: str | None = None, **fields: Any) -> None:
        """The customer's system reports a disqualifier (a reversal without a reason disqualifies too)."""
        evidence = {} if reason is None else {"reason": reason}
        self.post(at, key, kind="outcome.reversed", evidence=evidence, **fields)

    def build(self, at: dt.datetime) -> None:
        """Merge what arrived, as the sweep does once its grace minute has passed: at `at`, or a minute
        after the last arrival if that is later (the sweep also evaluates what it merged, then)."""
        if self.last_arrival is None:
            return
        with time_machine.travel(max(at, self.last_arrival + SWEEP_GRACE), tick=False):
            outcomes_build_sweep()

    def evaluate(self, at: dt.datetime) -> EvaluationSummary:
        """Build what arrived, then evaluate every outcome of the contract at `at`."""
        self.build(at)
        return outcomes_evaluate(outcome_ids=self.outcomes().values_list("id", flat=True), now=at)

    def outcomes(self) -> Any:
        return Outcome.objects.filter(contract=self.contract)

    def outcome(self, key: str) -> Outcome:
        return self.outcomes().get(natural_key=key)

    def state(self, key: str) -> str:
        return self.outcome(key).state

    def verdict(self, key: str, rule: str) -> OutcomeVerdict:
        """The rule's latest recorded verdict on the outcome (its current standing)."""
        verdicts = [v for v in verdicts_recorded(outcome_ids=[self.outcome(key).pk]) if v.rule == rule]
        assert verdicts, f"{rule} recorded no verdict on {key}"
        return verdicts[-1]

    def decided(self, key: str, rule: str) -> tuple[str, str]:
        verdict = self.verdict(key, rule)
        return verdict.decision, verdict.reason

    def rules(self, key: str) -> set[str]:
        """Every rule that recorded a verdict on the outcome."""
        return {v.rule for v in verdicts_recorded(outcome_ids=[self.outcome(key).pk])}

    def mark_billed(self, key: str, at: dt.datetime) -> None:
        """What an invoice does to a billable outcome (settlement is not under test here)."""
        outcome = self.outcome(key)
        assert outcome.state == OutcomeState.BILLABLE
        self.outcomes().filter(pk=outcome.pk).update(state=OutcomeState.BILLED, billed_at=at, updated_at=at)


def make_story(policy: dict[str, Any] | None = None, **type_overrides: Any) -> Story:
    """An active contract (in force since 2020) whose ticket.resolved type has `policy`."""
    return Story(make_ingest(terms=policy_terms(policy, **type_overrides)))

"""Rule 4: the outcome happened while a contract version covering its type was in force, not in the
future, and was reported within the late-arrival window (late ones land on the next open invoice)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field

from contracts.models import ContractStatus
from contracts.policy import HOUR, RuleParams
from outcomes.rules.base import OutcomeFacts, Reason, Rule, Verdict, accept, hold, iso, reject


class EventTimeParams(RuleParams):
    """Rule 4: the outcome happened while the contract was in force, not in the future, not too late."""

    title = "Event time"
    max_clock_skew_seconds: Annotated[
        int,
        Field(ge=0, le=HOUR, description="Seconds an event's time may lie ahead of our clock (0 to 3600)."),
    ] = 300
    late_arrival_days: Annotated[
        int,
        Field(
            ge=0, le=366, description="Days after it happened that an outcome may still arrive (0 to 366)."
        ),
    ] = 35

    def describe(self) -> str:
        return (
            f"Events may run {self.max_clock_skew_seconds} s ahead of our clock and arrive up to "
            f"{self.late_arrival_days} days late."
        )


SUSPENSION_RECHECK = dt.timedelta(hours=24)


class EventTime(Rule[EventTimeParams]):
    name = "event_time"
    params_model = EventTimeParams
    policy_key = "event_time"
    reasons = (
        Reason("outside_contract", "It happened while no version of the contract was in force."),
        Reason("type_not_in_version", "The contract version in force does not cover this outcome type."),
        Reason("occurred_in_future", "It says it happened after it was received."),
        Reason("arrived_too_late", "It was reported after the late-arrival window."),
        Reason("contract_suspended", "The contract is suspended: held until it resumes."),
        Reason("in_force", "It happened while a contract version covering its type was in force."),
    )

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict:
        params = self.params(facts)
        occurred_at = facts.outcome.occurred_at
        received_at = facts.received_at
        contract = facts.contract
        if facts.version is None:
            return reject(
                "outside_contract",
                occurred_at=iso(occurred_at),
                contract_starts_at=iso(contract.starts_at),
                contract_ends_at=iso(contract.ends_at),
            )
        if facts.outcome_type is None:
            return reject(
                "type_not_in_version",
                version=facts.version.number,
                outcome_type=facts.outcome.outcome_type_key,
            )
        skew = dt.timedelta(seconds=params.max_clock_skew_seconds)
        # The time billed may be a later event's (the customer's record, rule 4a): it is compared with the
        # receipt of the event that reported it.
        reported_at = min(
            (e.received_at for e in facts.events if e.occurred_at == occurred_at), default=received_at
        )
        if occurred_at > reported_at + skew:
            return reject("occurred_in_future", occurred_at=iso(occurred_at), received_at=iso(reported_at))
        late_by = received_at - occurred_at
        if late_by > dt.timedelta(days=params.late_arrival_days):
            return reject(
                "arrived_too_late",
                occurred_at=iso(occurred_at),
                received_at=iso(received_at),
                late_arrival_days=params.late_arrival_days,
            )
        if contract.status == ContractStatus.SUSPENDED and not facts.is_billed:
            return hold(now + SUSPENSION_RECHECK, "contract_suspended", contract=contract.reference)
        return accept("in_force", version=facts.version.number, occurred_at=iso(occurred_at))

"""Rule 15: a customer may dispute a billable or billed outcome within the dispute window; a disputed
outcome is held while the rest is billed; the vendor accepts (no bill or a credit) or rejects with
evidence; an unanswered dispute resolves at its deadline as the policy says."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

from pydantic import Field

from contracts.policy import RuleParams
from core.events import DomainEvent, events_publish
from outcomes.domain_events import dispute_opened, dispute_resolved
from outcomes.models import Dispute
from outcomes.rules.base import OutcomeFacts, Reason, Rule, Verdict, accept, hold, iso, reject


class DisputeParams(RuleParams):
    """Rule 15: the customer may dispute within a window; an unanswered dispute resolves at its deadline."""

    title = "Disputes"
    window_days: Annotated[
        int,
        Field(
            ge=0,
            le=366,
            description="Days after an outcome became billable in which the customer may dispute it.",
        ),
    ] = 30
    response_days: Annotated[
        int, Field(gt=0, le=90, description="Days the vendor has to answer a dispute.")
    ] = 14
    unanswered: Annotated[
        Literal["credit_customer", "bill"],
        Field(description="What happens to a dispute the vendor leaves unanswered."),
    ] = "credit_customer"

    def describe(self) -> str:
        unanswered = "the customer is credited" if self.unanswered == "credit_customer" else "it is billed"
        return (
            f"Disputes within {self.window_days} days; the vendor answers within "
            f"{self.response_days} days, else {unanswered}."
        )


UPHELD = {Dispute.Status.ACCEPTED, Dispute.Status.EXPIRED_CREDITED}


def dispute_window_closes(
    *, billable_at: dt.datetime | None, billed_at: dt.datetime | None, window_days: int
) -> dt.datetime | None:
    """Disputes are open from the claim until window_days after the outcome became billable."""
    anchor = billable_at or billed_at
    return None if anchor is None else anchor + dt.timedelta(days=window_days)


class Disputes(Rule[DisputeParams]):
    name = "disputes"
    params_model = DisputeParams
    policy_key = "disputes"
    claws_back = True
    holds_as_dispute = True
    reasons = (
        Reason(
            "dispute_open",
            "Disputed by the customer: held off the invoice until the vendor answers or the deadline.",
        ),
        Reason("dispute_upheld", "The dispute was upheld: not billed, or credited."),
        Reason("dispute_rejected", "The dispute was rejected: billed."),
        Reason("dispute_out_of_window", "Disputed after the dispute window: recorded, nothing changes."),
    )

    def prepare(self, batch: Sequence[OutcomeFacts], now: dt.datetime) -> dict[int, Dispute]:
        """Open a dispute for each disputed event inside the window; resolve open ones past their deadline."""
        disputes = {f.outcome.pk: f.dispute for f in batch if f.dispute is not None}
        to_open = []
        for facts in batch:
            if facts.dispute is not None or not facts.disputes:
                continue
            first = min(facts.disputes, key=lambda e: (e.occurred_at, e.event_id))
            closes = dispute_window_closes(
                billable_at=facts.outcome.billable_at,
                billed_at=facts.outcome.billed_at,
                window_days=self.params(facts).window_days,
            )
            if closes is not None and first.occurred_at > closes:
                continue
            to_open.append(
                Dispute(
                    outcome=facts.outcome,
                    opened_at=first.received_at,
                    reason=str(first.evidence.get("reason", "")),
                    opened_by=f"source:{first.source_id}",
                    deadline=first.received_at + dt.timedelta(days=self.params(facts).response_days),
                )
            )
        Dispute.objects.bulk_create(to_open, ignore_conflicts=True)
        by_outcome = {f.outcome.pk: f for f in batch}
        events: list[DomainEvent] = []
        if to_open:
            opened = {
                d.outcome_id: d for d in Dispute.objects.filter(outcome__in=[d.outcome for d in to_open])
            }
            disputes.update(opened)
            # One opened by the customer's API meanwhile is announced there too: the dedup key keeps one.
            events += [self._event(dispute_opened, d, by_outcome[d.outcome_id]) for d in opened.values()]
        policies = {f.outcome.pk: self.params(f) for f in batch}
        for dispute in disputes.values():
            if dispute.status == Dispute.Status.OPEN and now >= dispute.deadline:
                credited = policies[dispute.outcome_id].unanswered == "credit_customer"
                status = Dispute.Status.EXPIRED_CREDITED if credited else Dispute.Status.EXPIRED_BILLED
                # Only if still open: a vendor's answer racing the deadline wins if it committed first.
                if Dispute.objects.filter(pk=dispute.pk, status=Dispute.Status.OPEN).update(
                    status=status, resolved_at=dispute.deadline, resolved_by="system:deadline"
                ):
                    dispute.status, dispute.resolved_at, dispute.resolved_by = (
                        status,
                        dispute.deadline,
                        "system:deadline",
                    )
                    events.append(self._event(dispute_resolved, dispute, by_outcome[dispute.outcome_id]))
                else:
                    dispute.refresh_from_db()
        # In the pipeline's transaction: announced if and only if the dispute's change commits.
        events_publish(events)
        return disputes

    @staticmethod
    def _event(builder: Callable[..., DomainEvent], dispute: Dispute, facts: OutcomeFacts) -> DomainEvent:
        return builder(dispute=dispute, outcome=facts.outcome, customer_id=facts.contract.customer_id)

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict | None:
        dispute = prepared[self.name].get(facts.outcome.pk)
        if dispute is None:
            if facts.disputes:
                return accept("dispute_out_of_window", window_days=self.params(facts).window_days)
            return None
        details = {
            "dispute_id": dispute.pk,
            "opened_at": iso(dispute.opened_at),
            "deadline": iso(dispute.deadline),
        }
        if dispute.status == Dispute.Status.OPEN:
            return hold(dispute.deadline, "dispute_open", **details)
        if dispute.status in UPHELD:
            return reject("dispute_upheld", status=dispute.status, resolved_by=dispute.resolved_by, **details)
        return accept("dispute_rejected", status=dispute.status, resolved_by=dispute.resolved_by, **details)

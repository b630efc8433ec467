"""Rule 9b: contested disqualifiers. When the vendor's own evidence contradicts a customer's disqualifier
(an attendance record against a no-show, a transcript against a reopened ticket), the disqualifier is
neither applied nor dropped: the outcome is held, flagged with both sides' evidence, until the customer
answers before a deadline or a person decides; at the deadline, silence resolves as the policy says.

Which of the vendor's evidence fields contradict which disqualifier is the policy's
(`contradicting_evidence`, nothing by default). Only the vendor's events count (a source that is not the
customer's system of record), on the outcome (its claim, or a later event for the same natural key),
received before the disqualifier or at most `vendor_window_hours` after it: while that window is open and no
such evidence is in, the disqualifier waits (no void, no credit), so evidence sent just before or just
after the disqualifier gives the same result. The disqualifier is the one the reversal rule would apply:
the customer's first timely disqualifying reversal that moves money (maturation.money_moving_reversal).

No one decides alone what pays them: the vendor may concede (reject the flag: the disqualifier stands);
the customer may withdraw its disqualifier (accept the flag: billed) or uphold it with evidence, which
stops the clock and leaves the decision to a neutral operator; neither keeps its side alone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field

from contracts.policy import RuleParams, listing_text
from core.events import events_publish
from outcomes.domain_events import disqualifier_contest_opened
from outcomes.models import Decision, DisqualifierContest, EventKind, Party
from outcomes.rules.base import (
    EventFact,
    FlagReason,
    OutcomeFacts,
    Reason,
    Rule,
    Verdict,
    accept,
    flag,
    hold,
    iso,
)
from outcomes.rules.maturation import money_moving_reversal

# How much of a side's evidence value the trail keeps (a transcript hash fits; a whole transcript does not).
TRUNCATE = 200
FIELD_LIST = r"^[A-Za-z0-9_.\-]{1,64}(,[A-Za-z0-9_.\-]{1,64}){0,9}$"


class ContestedDisqualifierParams(RuleParams):
    """Rule 9b: a disqualifier the vendor's evidence contradicts is held for the customer's answer."""

    title = "Contested disqualifiers"
    contradicting_evidence: Annotated[
        dict[
            Annotated[str, Field(min_length=1, max_length=64)],
            Annotated[str, Field(pattern=FIELD_LIST)],
        ],
        Field(
            max_length=30,
            description=(
                "Per disqualifier, the vendor's evidence fields that contradict it, one per line, several "
                "separated by commas without spaces (e.g. no_show: attendance_record). Such a "
                "disqualifier is held for the customer's answer instead of voiding the outcome."
            ),
        ),
    ] = Field(default_factory=dict)
    vendor_window_hours: Annotated[
        int,
        Field(
            ge=0,
            le=30 * 24,
            description=(
                "Hours after such a disqualifier arrives in which the vendor's evidence may still come; "
                "the disqualifier waits meanwhile (0 to 720)."
            ),
        ),
    ] = 24
    answer_window_days: Annotated[
        int, Field(ge=1, le=90, description="Days the customer has to answer a contested disqualifier.")
    ] = 7
    unanswered: Annotated[
        Literal["keep_billed", "reverse"],
        Field(
            description=(
                "What happens when the customer leaves a contested disqualifier unanswered: bill the "
                "outcome (the vendor's evidence stands) or let the disqualifier void it."
            )
        ),
    ] = "keep_billed"

    def fields_for(self, disqualifier: str) -> tuple[str, ...]:
        """The vendor's evidence fields that contradict this disqualifier (none: it is not contestable)."""
        fields = self.contradicting_evidence.get(disqualifier)
        return () if fields is None else tuple(fields.split(","))

    def describe(self) -> str | None:
        if not self.contradicting_evidence:
            return None
        pairs = [
            f"a {listing_text([name])} by the vendor's "
            + " or ".join(listing_text([field]) for field in self.fields_for(name))
            for name in sorted(self.contradicting_evidence)
        ]
        silence = "it is billed" if self.unanswered == "keep_billed" else "the disqualifier stands"
        return (
            f"A disqualifier the vendor's evidence contradicts ({'; '.join(pairs)}, sent up to "
            f"{self.vendor_window_hours} h after it) is held; the customer answers within "
            f"{self.answer_window_days} days, else {silence}."
        )


# Accepting the flag refuses the customer's disqualifier (the outcome is billed): the customer
# withdrawing it, or an operator, never the vendor. Rejecting it lets the disqualifier stand: the vendor
# may concede that; the customer, whose disqualifier it is, never decides it alone (upholding it with
# evidence stops the clock and leaves it to an operator).
DISQUALIFIER_CONTESTED = FlagReason(
    "disqualifier_contested",
    (
        "The customer's disqualifier is contradicted by the vendor's own evidence: held, neither voided "
        "nor credited, until the customer answers, a person decides or the customer's deadline passes."
    ),
    suspicion="contested disqualifier",
    deciders=frozenset({Party.VENDOR}),
    evidence_to_clear=False,
    who_decides=(
        "A contested disqualifier flag holds a customer's disqualifier that the vendor's evidence "
        "contradicts. The vendor may reject the flag, conceding the disqualifier (void or credit); "
        "clearing it refuses the disqualifier and bills the outcome, so only the customer (withdrawing "
        "it) or a neutral operator clears it. The customer upholds it with evidence through "
        "POST /api/v1/customer/outcomes/{id}/contest; then an operator decides."
    ),
)
UNANSWERED_BILLED = "disqualifier_unanswered_billed"


def _present(value: Any) -> bool:
    return value is not None and value is not False and value != "" and value != [] and value != {}


def _truncated(value: Any) -> Any:
    if isinstance(value, bool | int | float) or value is None:
        return value
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= TRUNCATE else text[:TRUNCATE] + "…"


@dataclass(frozen=True)
class Contest:
    """A contestable disqualifier and the vendor's events contradicting it (none yet: it may still come)."""

    disqualifier: EventFact
    fields: tuple[str, ...]
    answerable_until: dt.datetime  # the vendor's evidence counts when received by then
    evidence: tuple[EventFact, ...]

    @property
    def opened_at(self) -> dt.datetime:
        """When both sides' evidence were in: the later of the disqualifier and the vendor's first."""
        return max(self.disqualifier.received_at, min(e.received_at for e in self.evidence))

    def trail(self) -> dict[str, Any]:
        """Both sides' evidence, each value truncated."""
        vendor: dict[str, Any] = {}
        for event in self.evidence:
            for name in self.fields:
                if _present(event.evidence.get(name)):
                    vendor.setdefault(name, _truncated(event.evidence[name]))
        return {
            "disqualifier": {
                "event_id": self.disqualifier.event_id,
                "reason": self.disqualifier.evidence.get("reason"),
                "received_at": iso(self.disqualifier.received_at),
                "evidence": {k: _truncated(v) for k, v in sorted(self.disqualifier.evidence.items())},
            },
            "vendor": {
                "event_ids": [e.event_id for e in self.evidence],
                "evidence": vendor,
            },
        }


def contest_of(facts: OutcomeFacts) -> Contest | None:
    """The outcome's contestable disqualifier with the vendor's contradicting events, or None when its
    disqualifier (if any) moves no money or the policy lists no contradicting evidence for it."""
    params = ContestedDisqualifiers.params(facts)
    if not params.contradicting_evidence:
        return None
    held = money_moving_reversal(facts)
    if held is None:
        return None
    disqualifier = held[0]
    fields = params.fields_for(str(disqualifier.evidence.get("reason", "")))
    if not fields:
        return None
    until = disqualifier.received_at + dt.timedelta(hours=params.vendor_window_hours)
    evidence = tuple(
        sorted(
            (
                e
                for e in facts.events
                if not e.from_customer
                and e.kind != EventKind.OUTCOME_REVERSED
                and e.received_at <= until
                and any(_present(e.evidence.get(name)) for name in fields)
            ),
            key=lambda e: (e.received_at, e.event_id),
        )
    )
    return Contest(disqualifier=disqualifier, fields=fields, answerable_until=until, evidence=evidence)


class ContestedDisqualifiers(Rule[ContestedDisqualifierParams]):
    name = "contested_disqualifier"
    params_model = ContestedDisqualifierParams
    policy_key = "disqualifier_contest"
    reasons = (
        DISQUALIFIER_CONTESTED,
        Reason(
            "disqualifier_answerable",
            "A disqualifier the vendor may still contradict with its evidence: held until its window ends.",
        ),
        Reason(
            "disqualifier_uncontested",
            "No evidence of the vendor's contradicts the disqualifier: it applies as usual.",
        ),
        Reason(UNANSWERED_BILLED, "The customer did not answer the contest in time: the outcome is billed."),
        Reason(
            "disqualifier_unanswered_reversed",
            "The customer did not answer the contest in time: the disqualifier stands.",
        ),
    )

    def holds_reversal(self, verdict: Verdict) -> bool:
        return verdict.decision in (Decision.FLAG, Decision.HOLD) or verdict.reason in (
            f"{DISQUALIFIER_CONTESTED.code}_cleared",
            UNANSWERED_BILLED,
        )

    def prepare(self, batch: Sequence[OutcomeFacts], now: dt.datetime) -> dict[int, DisqualifierContest]:
        """Open a contest for each contested disqualifier; resolve open ones past their deadline (unless
        a person decided meanwhile). In the pipeline's transaction, under its lock on the outcomes."""
        contested = {
            f.outcome.pk: (f, contest)
            for f in batch
            if (contest := contest_of(f)) is not None and contest.evidence
        }
        if not contested:
            return {}
        rows = {r.outcome_id: r for r in DisqualifierContest.objects.filter(outcome_id__in=list(contested))}
        new = [
            DisqualifierContest(
                outcome=f.outcome,
                event_id=contest.disqualifier.event_id,
                disqualifier=str(contest.disqualifier.evidence.get("reason", "")),
                opened_at=contest.opened_at,
                deadline=contest.opened_at + dt.timedelta(days=self.params(f).answer_window_days),
            )
            for pk, (f, contest) in contested.items()
            if pk not in rows
        ]
        if new:
            DisqualifierContest.objects.bulk_create(new, ignore_conflicts=True)
            opened = {
                r.outcome_id: r
                for r in DisqualifierContest.objects.filter(outcome_id__in=[r.outcome_id for r in new])
            }
            rows.update(opened)
            # In the pipeline's transaction: announced if and only if the contest commits (once: its key).
            announced = []
            for row in opened.values():
                facts, contest = contested[row.outcome_id]
                announced.append(
                    disqualifier_contest_opened(
                        contest=row,
                        outcome=facts.outcome,
                        customer_id=facts.contract.customer_id,
                        vendor_evidence=contest.trail()["vendor"]["evidence"],
                        unanswered=self.params(facts).unanswered,
                    )
                )
            events_publish(announced)
        for row in rows.values():
            facts = contested[row.outcome_id][0]
            if (
                row.status != DisqualifierContest.Status.OPEN
                or now < row.deadline
                or DISQUALIFIER_CONTESTED.code in facts.decisions
            ):
                continue
            status = (
                DisqualifierContest.Status.EXPIRED_BILLED
                if self.params(facts).unanswered == "keep_billed"
                else DisqualifierContest.Status.EXPIRED_REVERSED
            )
            # Only if still open: the customer's answer racing the deadline wins if it committed first.
            if DisqualifierContest.objects.filter(pk=row.pk, status=DisqualifierContest.Status.OPEN).update(
                status=status, resolved_at=row.deadline
            ):
                row.status, row.resolved_at = status, row.deadline
            else:
                row.refresh_from_db()
        return rows

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict | None:
        contest = contest_of(facts)
        if contest is None:
            return None
        trail = contest.trail()
        if not contest.evidence:
            if now < contest.answerable_until:
                return hold(
                    contest.answerable_until,
                    "disqualifier_answerable",
                    vendor_fields=list(contest.fields),
                    answerable_until=iso(contest.answerable_until),
                    **trail,
                )
            return accept(
                "disqualifier_uncontested",
                vendor_fields=list(contest.fields),
                answerable_until=iso(contest.answerable_until),
                **trail,
            )
        row = prepared[self.name][facts.outcome.pk]
        details = {
            **trail,
            "contest_id": row.pk,
            "opened_at": iso(row.opened_at),
            "deadline": iso(row.deadline),
            "status": row.status,
            "unanswered": self.params(facts).unanswered,
        }
        if row.status == DisqualifierContest.Status.UPHELD:
            details["customer"] = {
                "answer": _truncated(row.answer),
                "evidence": {k: _truncated(v) for k, v in sorted(row.answer_evidence.items())},
                "answered_by": row.answered_by,
                "answered_at": iso(row.answered_at),
            }
        if row.status == DisqualifierContest.Status.EXPIRED_BILLED:
            return accept(UNANSWERED_BILLED, **details)
        if row.status == DisqualifierContest.Status.EXPIRED_REVERSED:
            return accept("disqualifier_unanswered_reversed", **details)
        raised = flag(DISQUALIFIER_CONTESTED.code, **details)
        # While open, look again at the deadline (silence resolves then); once upheld, a person decides.
        if row.status == DisqualifierContest.Status.OPEN:
            return dataclasses.replace(raised, hold_until=row.deadline)
        return raised

"""Flags have a deadline: a flag no one decides in time is decided by the contract's default on silence.

A flag waits for a person (outcomes.services.review: who may decide it which way). Without a deadline,
silence decides for whoever gains from nothing happening: a customer suspected of suppressing its
confirmations who never answers is never billed; a vendor suspected of inflation is never refused
either, its outcomes simply stay unbilled for ever. This rule judges no outcome itself: the pipeline
asks it (`flag_decided`) about every other rule's flag. A person's decision replaces the flag as
before; otherwise the flag stands until `response_days` after it was first raised (its verdict's
`hold_until`, shown in the review queue as its deadline, is when the pipeline looks again), and then
`on_silence` decides:

* `against_suspected` (the default): the flag is decided against the party it suspects (its
  FlagReason.silence_against), so doing nothing never pays the suspected side. A suspected inflation is
  rejected (not billed); a suspected suppression is accepted (billed: the customer who stays silent
  agrees); a suspected reversal anomaly is accepted (the reversal refused, the outcome stays billed).
  The suspected party avoids it by deciding against itself, or by asking the operator in time.
* `keep_open`: no deadline; the flag waits for a person for ever (Verity's behaviour before deadlines).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field

from contracts.policy import RuleParams
from outcomes.models import Decision, ReviewDecision
from outcomes.rules.base import FlagReason, OutcomeFacts, Rule, Verdict, accept, iso, reject

# A flag decided by silence: its code with one of these suffixes (outcomes.rules.DECIDED_FLAG words them).
ACCEPTED_ON_SILENCE = "_accepted_on_silence"
REJECTED_ON_SILENCE = "_rejected_on_silence"
SILENCE_SUFFIXES = (ACCEPTED_ON_SILENCE, REJECTED_ON_SILENCE)


class FlagDeadlineParams(RuleParams):
    """Flags are decided within a deadline, else by the default on silence."""

    title = "Flag deadlines"
    response_days: Annotated[
        int,
        Field(
            ge=1,
            le=90,
            description="Days after a flag is raised in which a person decides it (1 to 90).",
        ),
    ] = 14
    on_silence: Annotated[
        Literal["against_suspected", "keep_open"],
        Field(
            description=(
                "What a flag no one decided by its deadline becomes: against_suspected decides it against "
                "the party it suspects (a suspected inflation is not billed, a suspected suppression is "
                "billed); keep_open leaves it waiting for a person with no deadline."
            )
        ),
    ] = "against_suspected"

    def describe(self) -> str:
        if self.on_silence == "keep_open":
            return "Flags wait for a person's decision with no deadline."
        return (
            f"A flag not decided within {self.response_days} days is decided against the party it suspects."
        )


def _flag_of(decision: str, reason: str) -> str | None:
    """The flag a stored verdict stands for: a raised flag, or one decided by silence; else None."""
    if decision == Decision.FLAG:
        return reason
    for suffix in SILENCE_SUFFIXES:
        if reason.endswith(suffix):
            return reason.removesuffix(suffix)
    return None


def flag_raised_since(
    previous: tuple[str, dt.datetime] | None, decision: str, reason: str, at: dt.datetime
) -> tuple[str, dt.datetime] | None:
    """Folding a rule's stored verdicts on an outcome, oldest first: the flag standing after this one
    and when it was first raised (a flag raised again with new facts keeps its first instant, and so
    its deadline), or None when this verdict is no flag."""
    flag = _flag_of(decision, reason)
    if flag is None:
        return None
    if previous is not None and previous[0] == flag:
        return previous
    return flag, at


class FlagDeadlines(Rule[FlagDeadlineParams]):
    name = "flag_deadlines"
    params_model = FlagDeadlineParams
    policy_key = "flag_deadlines"

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict | None:
        return None  # it judges flags, not outcomes: see flag_decided

    def flag_decided(
        self,
        verdict: Verdict,
        flag: FlagReason | None,
        facts: OutcomeFacts,
        raised_at: dt.datetime | None,
        now: dt.datetime,
    ) -> Verdict:
        """A rule's verdict with people and time applied: a flag a person decided becomes that decision;
        one past its deadline, the default on silence; one still open carries its deadline."""
        if verdict.decision != Decision.FLAG:
            return verdict
        decision = facts.decisions.get(verdict.reason)
        if decision is not None:
            return _decided_by_person(verdict, decision)
        params = self.params(facts)
        if params.on_silence == "keep_open" or flag is None or flag.silence_against is None:
            return verdict
        raised_at = raised_at or now
        deadline = raised_at + dt.timedelta(days=params.response_days)
        if now < deadline:
            return Verdict(verdict.decision, verdict.reason, verdict.facts, hold_until=deadline)
        return _decided_by_silence(verdict, flag, raised_at, deadline, params.response_days)


def _decided_by_silence(
    verdict: Verdict, flag: FlagReason, raised_at: dt.datetime, deadline: dt.datetime, response_days: int
) -> Verdict:
    """The default on silence: the flag decided against the party it suspects, which does not get what
    accepting gives when accepting favours it."""
    details = {
        "flag_facts": verdict.facts,
        "raised_at": iso(raised_at),
        "deadline": iso(deadline),
        "response_days": response_days,
        "decided_against": flag.silence_against,
    }
    if flag.accept_favours == flag.silence_against:
        return reject(f"{verdict.reason}{REJECTED_ON_SILENCE}", **details)
    return accept(f"{verdict.reason}{ACCEPTED_ON_SILENCE}", **details)


def _decided_by_person(verdict: Verdict, decision: ReviewDecision) -> Verdict:
    """A human decision replaces the flag it answers, with who decided and why."""
    details = {
        "flag_facts": verdict.facts,
        "decided_by": decision.actor,
        "party": decision.party,
        "justification": decision.justification,
        "decided_at": iso(decision.at),
    }
    if decision.verdict == ReviewDecision.Verdict.ACCEPT:
        return accept(f"{verdict.reason}_cleared", **details)
    return reject(f"{verdict.reason}_rejected_on_review", **details)

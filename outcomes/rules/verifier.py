"""Rule 6b: an external verifier. A policy may name a verifier the operator configured (settings.VERIFIERS:
an HTTP endpoint signed both ways, or a Python entry point), e.g. an LLM judging the transcript; it
answers accept, reject or flag, with reasons and its version.

The rule never calls it: verification runs in a transaction holding the outcomes' row locks, and a
network call there would hold them for as long as the verifier takes. The rule asks (a pending
VerifierResult, created once per outcome in `prepare`) and holds the outcome (`verifier_pending`) until
the answer is stored by outcomes.services.verifiers, which calls the verifier outside any transaction
and re-evaluates. A timeout, an error, a bad signature or an answer it cannot read keeps the outcome
held, retried with backoff, never accepted; after `max_failures` the outcome is flagged for a person
(`verifier_unavailable`). A share of the verifier's accepts (`sample_percent`, drawn by the audit
sample's HMAC under another purpose, so the vendor cannot tell which) is flagged for a person, whose
decisions measure the verifier's accuracy (outcomes.selectors.verifier_accuracy).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field

from contracts.policy import RuleParams, percent_text
from outcomes.models import Party, VerifierResult
from outcomes.rules.base import (
    FlagReason,
    OutcomeFacts,
    Reason,
    Rule,
    Verdict,
    accept,
    flag,
    hold,
    iso,
    reject,
)
from outcomes.rules.sampling import sample_draw

SAMPLE_PURPOSE = "verifier"


class VerifierParams(RuleParams):
    """Rule 6b: an external verifier the operator configured judges each outcome's evidence."""

    title = "External verifier"
    enabled: Annotated[
        bool, Field(description="Have an external verifier your operator configured judge each outcome.")
    ] = False
    verifier: Annotated[
        str,
        Field(
            min_length=1,
            max_length=40,
            pattern=r"^[a-z0-9_-]+$",
            description="Name of the verifier, as your operator configured it (e.g. transcript-judge).",
        ),
    ] = "default"
    sample_percent: Annotated[
        float,
        Field(
            ge=0,
            le=100,
            description="Percent of the verifier's accepts sent to a person as well, to measure its accuracy.",
        ),
    ] = 5.0
    timeout_seconds: Annotated[
        int, Field(ge=1, le=60, description="Seconds the verifier has to answer before the call fails.")
    ] = 10
    retry_minutes: Annotated[
        int,
        Field(
            ge=1,
            le=1440,
            description="Minutes before a failed call is tried again (doubling after each failure).",
        ),
    ] = 15
    max_failures: Annotated[
        int,
        Field(ge=1, le=20, description="Failed calls after which the outcome goes to a person instead."),
    ] = 5

    def describe(self) -> str | None:
        if not self.enabled:
            return None
        return (
            f"The {self.verifier} verifier judges each outcome (a {self.timeout_seconds} s limit; after "
            f"{self.max_failures} failed calls a person decides); "
            f"{percent_text(Decimal(str(self.sample_percent)))} of its accepts are checked by a person."
        )


# Each of these bills the customer when accepted: the customer (whom they protect) or a neutral operator
# accepts them; the customer may also reject them, and the vendor may concede (reject) as usual.
VERIFIER_FLAGGED = FlagReason(
    "verifier_flagged",
    "The external verifier could not say the evidence shows the outcome: a person decides.",
    suspicion="verifier flag",
    who_decides=(
        "A verifier flag is the customer's: accepting it bills the customer, so only the customer or a "
        "neutral operator accepts it; the customer may reject it."
    ),
    deciders=frozenset({Party.CUSTOMER}),
    silence_against=Party.VENDOR,  # the verifier doubts the vendor's outcome: undecided by the deadline, not billed
    evidence_to_clear=False,
)
VERIFIER_UNAVAILABLE = FlagReason(
    "verifier_unavailable",
    "The external verifier failed to answer too many times (timeouts, errors or bad signatures): a person "
    "decides instead.",
    suspicion="unverified outcome",
    who_decides=(
        "An outcome the verifier never judged is the customer's to accept (it bills them), or a neutral "
        "operator's; the customer may reject it."
    ),
    deciders=frozenset({Party.CUSTOMER}),
    evidence_to_clear=False,
)
VERIFIER_ACCURACY_SAMPLE = FlagReason(
    "verifier_accuracy_sample",
    "The external verifier accepted it, and it was drawn at random for a person to check: the decisions "
    "measure the verifier's accuracy.",
    suspicion="verifier accuracy sample",
    who_decides=(
        "A verifier accuracy sample is the customer's: accepting it (upholding the verifier) bills the "
        "customer, so only the customer or a neutral operator accepts it; the customer may reject it."
    ),
    deciders=frozenset({Party.CUSTOMER}),
    # The sample measures the verifier and doubts no one: a customer that never checks it does not
    # unbill an outcome the verifier accepted, so by the deadline it is accepted (flag_deadlines).
    silence_against=Party.CUSTOMER,
    evidence_to_clear=False,
)


def accuracy_sampled(facts: OutcomeFacts, sample_percent: float) -> bool:
    """Whether the outcome's verifier accept goes to a person too: the draw is below the share."""
    return sample_draw(facts.outcome, SAMPLE_PURPOSE) * 100 < sample_percent


class Verifier(Rule[VerifierParams]):
    name = "verifier"
    params_model = VerifierParams
    policy_key = "verifier"
    reasons = (
        Reason(
            "verifier_pending", "Waiting for the external verifier's answer (held, never accepted meanwhile)."
        ),
        Reason("verifier_accepted", "The external verifier accepted the evidence."),
        Reason("verifier_rejected", "The external verifier rejected the evidence."),
        VERIFIER_FLAGGED,
        VERIFIER_UNAVAILABLE,
        VERIFIER_ACCURACY_SAMPLE,
    )

    def prepare(self, batch: Sequence[OutcomeFacts], now: dt.datetime) -> dict[int, VerifierResult]:
        """The batch's results for the verifier each policy names, asking (a pending row, once per outcome
        and verifier) for the unbilled outcomes that have none."""
        wanted = {f.outcome.pk: self.params(f).verifier for f in batch if self.params(f).enabled}
        if not wanted:
            return {}
        results = {
            r.outcome_id: r
            for r in VerifierResult.objects.filter(outcome_id__in=list(wanted))
            if wanted[r.outcome_id] == r.verifier
        }
        asked = [
            VerifierResult(
                outcome=f.outcome, verifier=wanted[f.outcome.pk], requested_at=now, next_attempt_at=now
            )
            for f in batch
            if f.outcome.pk in wanted and f.outcome.pk not in results and not f.is_billed
        ]
        if asked:
            VerifierResult.objects.bulk_create(asked, ignore_conflicts=True)
            results |= {
                r.outcome_id: r
                for r in VerifierResult.objects.filter(outcome_id__in=[a.outcome_id for a in asked])
                if wanted[r.outcome_id] == r.verifier
            }
        return results

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict | None:
        params = self.params(facts)
        result: VerifierResult | None = prepared[self.name].get(facts.outcome.pk)
        if not params.enabled or result is None:
            return None
        if result.status == VerifierResult.Status.PENDING:
            # Looked at again once the next call is due and has had time to answer (the call itself
            # re-evaluates at once; this is the fallback).
            retry_at = (result.next_attempt_at or now) + dt.timedelta(minutes=params.retry_minutes)
            return hold(
                retry_at,
                "verifier_pending",
                verifier=result.verifier,
                failures=result.failures,
                last_error=result.last_error or None,
            )
        if result.status == VerifierResult.Status.UNAVAILABLE:
            return flag(
                "verifier_unavailable",
                verifier=result.verifier,
                failures=result.failures,
                last_error=result.last_error or None,
            )
        answer = {
            "verifier": result.verifier,
            "version": result.version,
            "reasons": result.reasons,
            "answered_at": iso(result.answered_at),
        }
        if result.status == VerifierResult.Status.REJECT:
            return reject("verifier_rejected", **answer)
        if result.status == VerifierResult.Status.FLAG:
            return flag("verifier_flagged", **answer)
        if accuracy_sampled(facts, params.sample_percent):
            return flag("verifier_accuracy_sample", sample_percent=params.sample_percent, **answer)
        return accept("verifier_accepted", **answer)

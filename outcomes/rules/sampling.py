"""Rule 13: audit sampling. A share of outcomes, chosen by an HMAC with a server secret (so the vendor
cannot predict which), must be attested by the customer; a denial or no answer by the deadline is an
error. The period's adjustment extrapolates the error rate at the lower bound of a one-sided
confidence interval computed exactly (Clopper-Pearson), never the raw point estimate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.conf import settings
from pydantic import Field

from contracts.policy import RuleParams, percent_text
from core.events import events_publish
from outcomes.domain_events import audit_sample_requested
from outcomes.models import AuditSample, Outcome
from outcomes.rules.base import OutcomeFacts, Reason, Rule, Verdict, accept, hold, iso, reject


class AuditSamplingParams(RuleParams):
    """Rule 13: an unpredictable sample the customer must attest; errors extrapolated conservatively."""

    title = "Audit sampling"
    enabled: Annotated[bool, Field(description="Ask the customer to attest a random sample of outcomes.")] = (
        False
    )
    rate: Annotated[float, Field(gt=0, le=1, description="Share of outcomes sampled (0.02 is 2 %).")] = 0.02
    attestation_days: Annotated[
        int, Field(gt=0, le=90, description="Days the customer has to attest a sampled outcome.")
    ] = 14
    confidence: Annotated[
        float,
        Field(
            ge=0.5, lt=1, description="Confidence with which sampled errors are extrapolated (0.9 is 90 %)."
        ),
    ] = 0.90
    unanswered: Annotated[
        Literal["error", "not_counted"],
        Field(
            description=(
                "What a sample the customer leaves unanswered past its deadline is: an error (not billed, "
                "and counted in the audit), or not counted (billed as the other rules decide, left out "
                "of the audit)."
            )
        ),
    ] = "error"

    def describe(self) -> str | None:
        if not self.enabled:
            return None
        silence = "counts as an error" if self.unanswered == "error" else "is not counted"
        return (
            f"{percent_text(Decimal(str(self.rate)) * 100)} of outcomes are sampled for the customer "
            f"to attest within {self.attestation_days} days ({percent_text(Decimal(str(self.confidence)) * 100)}"
            f" confidence); no answer {silence}."
        )

    def counts(self, *, answered: bool, deadline_passed: bool) -> bool:
        """Whether a sample counts in the audit: answered, or past its deadline when silence is an error."""
        return answered or (deadline_passed and self.unanswered == "error")


def sampling_secret() -> bytes:
    return (settings.AUDIT_SAMPLING_SECRET or f"verity-audit-sampling:{settings.SECRET_KEY}").encode()


def sample_draw(outcome: Outcome, purpose: str = "") -> float:
    """A number in [0, 1) fixed by the outcome's natural identity and a secret the vendor never sees.
    Each `purpose` (another sample than the audit's, e.g. "verifier") draws independently."""
    identity = f"{outcome.contract_id}:{outcome.outcome_type_key}:{outcome.natural_key}"
    message = (f"{purpose}:{identity}" if purpose else identity).encode()
    digest = hmac.new(sampling_secret(), message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _binomial_tail_at_least(successes: int, trials: int, p: float) -> float:
    """P(X >= successes) for X ~ Binomial(trials, p), summed exactly in log space."""
    if p <= 0:
        return 0.0 if successes > 0 else 1.0
    if p >= 1:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [
        math.lgamma(trials + 1)
        - math.lgamma(k + 1)
        - math.lgamma(trials - k + 1)
        + k * log_p
        + (trials - k) * log_q
        for k in range(successes, trials + 1)
    ]
    top = max(terms)
    return math.exp(top) * sum(math.exp(t - top) for t in terms)


def clopper_pearson_lower(errors: int, trials: int, confidence: float) -> float:
    """Exact one-sided lower confidence bound of a binomial proportion: the p with P(X >= errors | p) = 1 - confidence."""
    if trials <= 0 or errors <= 0:
        return 0.0
    alpha = 1 - confidence
    low, high = 0.0, errors / trials
    for _ in range(200):  # bisection to well below a part per billion
        mid = (low + high) / 2
        if _binomial_tail_at_least(errors, trials, mid) < alpha:
            low = mid
        else:
            high = mid
    return low


class AuditSampling(Rule[AuditSamplingParams]):
    name = "audit_sampling"
    params_model = AuditSamplingParams
    policy_key = "audit_sampling"
    reasons = (
        Reason(
            "awaiting_attestation",
            "Sampled for the customer's audit: waiting for their answer until the deadline.",
        ),
        Reason("attested", "Sampled, and the customer attested it."),
        Reason("audit_denied", "Sampled, and the customer denied it."),
        Reason(
            "audit_unanswered",
            "Sampled, and the customer did not answer by the deadline: counted as an error.",
        ),
        Reason(
            "audit_unanswered_not_counted",
            "Sampled, and the customer did not answer by the deadline: left out of the audit, as the "
            "contract says.",
        ),
    )

    def prepare(self, batch: Sequence[OutcomeFacts], now: dt.datetime) -> dict[int, AuditSample]:
        """Select this batch's unbilled outcomes that the HMAC draws, creating their sample once."""
        chosen = [
            f
            for f in batch
            if self.params(f).enabled
            and f.sample is None
            and not f.is_billed
            and sample_draw(f.outcome) < self.params(f).rate
        ]
        AuditSample.objects.bulk_create(
            [
                AuditSample(
                    outcome=f.outcome,
                    selected_at=now,
                    deadline=now + dt.timedelta(days=self.params(f).attestation_days),
                )
                for f in chosen
            ],
            ignore_conflicts=True,
        )
        samples = {f.outcome.pk: f.sample for f in batch if f.sample is not None}
        if chosen:
            drawn = AuditSample.objects.in_bulk([f.outcome.pk for f in chosen])
            samples.update(drawn)
            # In the pipeline's transaction, once per sample (its dedup key).
            events_publish(
                [
                    audit_sample_requested(
                        sample=drawn[f.outcome.pk], outcome=f.outcome, customer_id=f.contract.customer_id
                    )
                    for f in chosen
                ]
            )
        return samples

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict | None:
        sample = prepared[self.name].get(facts.outcome.pk)
        if sample is None:
            return None
        details = {"selected_at": iso(sample.selected_at), "deadline": iso(sample.deadline)}
        if sample.answer == AuditSample.Answer.ATTESTED:
            return accept("attested", answered_by=sample.answered_by, **details)
        if sample.answer == AuditSample.Answer.DENIED:
            return reject("audit_denied", answered_by=sample.answered_by, note=sample.note, **details)
        if now < sample.deadline:
            return hold(sample.deadline, "awaiting_attestation", **details)
        if self.params(facts).unanswered == "not_counted":
            return accept("audit_unanswered_not_counted", **details)
        return reject("audit_unanswered", **details)

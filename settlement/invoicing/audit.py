"""The audit adjustment: the period's audit errors, extrapolated at the lower confidence bound onto
the usage billed."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from contracts.models import OutcomeType
from outcomes.models import AuditSample
from outcomes.rules.policy import VerificationPolicy
from outcomes.rules.sampling import AuditSampling, AuditSamplingParams, clopper_pearson_lower
from settlement.invoicing.drafts import AuditRow, Draft, LineDraft
from settlement.models import (
    LineKind,
)


def audit_samples(drafts: list[Draft]) -> None:
    """Each draft's audit samples (of outcomes that occurred in its period), for all in one query."""
    by_contract: dict[Any, list[Draft]] = defaultdict(list)
    for draft in drafts:
        by_contract[draft.invoice.contract_id].append(draft)
    for contract_id, *sample in (
        AuditSample.objects.filter(
            outcome__contract_id__in=by_contract,
            outcome__occurred_at__gte=min(draft.period.start for draft in drafts),
            outcome__occurred_at__lt=max(draft.period.end for draft in drafts),
        )
        .order_by("pk")
        .values_list(
            "outcome__contract_id",
            "outcome__occurred_at",
            "answer",
            "deadline",
            "outcome__version_id",
            "outcome__outcome_type_key",
        )
    ):
        audited = AuditRow._make(sample)
        for draft in by_contract[contract_id]:
            if draft.period.contains(audited.occurred_at):
                draft.audit_samples.append(audited)


def audit_line(
    draft: Draft, types: dict[tuple[int, str], OutcomeType], usage_total: Decimal
) -> LineDraft | None:
    """Extrapolate the period's audit errors at the lower confidence bound onto the usage billed."""
    if not draft.audit_samples or usage_total <= 0:
        return None
    first = draft.audit_samples[0]
    outcome_type = (
        types.get((first.version_id, first.outcome_type_key)) if first.version_id is not None else None
    )
    params = AuditSamplingParams()
    if outcome_type is not None:
        policy = VerificationPolicy.model_validate(outcome_type.verification_policy)
        params = AuditSampling.params_in(policy)
    confidence = params.confidence
    decided = [
        s
        for s in draft.audit_samples
        if params.counts(answered=bool(s.answer), deadline_passed=s.deadline <= draft.period.end)
    ]
    errors = sum(1 for s in decided if s.answer != AuditSample.Answer.ATTESTED)
    if not decided or errors == 0:
        return None
    rate = Decimal(str(round(clopper_pearson_lower(errors, len(decided), confidence), 9)))
    if rate <= 0:
        return None
    return LineDraft(
        kind=LineKind.AUDIT_ADJUSTMENT,
        description=f"Audit adjustment: {errors} of {len(decided)} sampled outcomes in error, "
        f"{rate:%} at the {confidence:.0%} lower bound",
        amount=-(usage_total * rate),
        quantity=1,
        details={
            "errors": errors,
            "sampled": len(decided),
            "rate_lower_bound": str(rate),
            "confidence": confidence,
        },
    )

"""People in the loop: decisions on flags, disputes and audit samples, each followed by re-evaluation.

No one decides alone what pays them. The rule that raises a flag declares (its FlagReason, in
outcomes.rules.FLAGS) what accepting it does to the customer's money, who else may decide it and
whether clearing it needs the vendor's evidence; `decision_refusal` turns that into who may accept
and who may reject, and every path that decides a flag (the vendor's and the customer's API, the
portal, the operator's admin) goes through `review_decide` or `review_decide_group`, which apply it:

* the party acceptance favours never accepts alone: a flag whose acceptance bills the customer is
  accepted by the customer or a neutral operator, never the vendor (nor a vendor admin, who is the
  vendor however well justified); one whose acceptance credits the customer, by the vendor or an
  operator, never the customer;
* either party may decide against its own interest (the customer agreeing to pay, the vendor giving
  up a bill); rejecting in one's own favour only a party the flag declares (the one it protects), so a
  flag raised against a party is never one it can clear itself, and a flag one side triggers on
  purpose is never one it then decides;
* a vendor admin or an operator gives a justification both parties see; an operator clearing a flag
  that needs the vendor's evidence gives that evidence.

Decisions are final for money only through the lifecycle.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from pydantic import BaseModel

from contracts.audit import audit_record, audit_record_many
from contracts.models import Contract, Vendor
from core.db.bulk import any_of
from core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from core.events import events_publish
from outcomes import selectors
from outcomes.domain_events import (
    dispute_opened,
    dispute_resolved,
    disqualifier_contest_upheld,
    review_decided,
)
from outcomes.models import (
    AuditSample,
    Decision,
    Dispute,
    DisqualifierContest,
    Outcome,
    OutcomeState,
    OutcomeVerdict,
    Party,
    ReviewDecision,
)
from outcomes.rules import FLAGS
from outcomes.rules.contested_disqualifiers import DISQUALIFIER_CONTESTED
from outcomes.rules.disputes import Disputes, dispute_window_closes
from outcomes.rules.policy import VerificationPolicy
from outcomes.services.verification import outcomes_evaluate
from outcomes.verdict_trail import verdict_trail

# Who decides a flag no rule declares: as for suspected inflation, the customer (or a vendor admin),
# and accepting it bills the customer.
UNDECLARED_FLAG_DECIDERS = frozenset({Party.CUSTOMER, Party.VENDOR_ADMIN})
# The side each party decides for: a vendor admin is the vendor, however well justified.
SIDE: dict[str, str] = {
    Party.CUSTOMER: Party.CUSTOMER,
    Party.VENDOR: Party.VENDOR,
    Party.VENDOR_ADMIN: Party.VENDOR,
    Party.OPERATOR: Party.OPERATOR,
}
# How refusals name the parties.
PARTY_NAMES: dict[str, str] = {
    Party.CUSTOMER: "the customer",
    Party.VENDOR: "the vendor",
    Party.VENDOR_ADMIN: "a vendor admin",
    Party.OPERATOR: "a neutral operator",
}
# Parties whose decision needs a justification both sides can see.
JUSTIFYING = frozenset({Party.VENDOR_ADMIN, Party.OPERATOR})
ACCEPT, REJECT = ReviewDecision.Verdict.ACCEPT, ReviewDecision.Verdict.REJECT


def _declared(flag_reason: str) -> frozenset[str]:
    flag = FLAGS.get(flag_reason)
    return UNDECLARED_FLAG_DECIDERS if flag is None else flag.deciders


def accept_favours(flag_reason: str) -> str:
    """The party accepting a flag pays: the vendor when it bills the customer, the customer when it credits."""
    flag = FLAGS.get(flag_reason)
    return Party.VENDOR if flag is None else flag.accept_favours


def vendor_party(flag_reason: str) -> str:
    """The party a vendor's key or portal admin acts as on a flag: the vendor itself when the rule names
    the vendor (deciding with its own evidence), otherwise a vendor admin (who must justify, for the
    customer to see)."""
    return Party.VENDOR if Party.VENDOR in _declared(flag_reason) else Party.VENDOR_ADMIN


def _parties(flag_reason: str) -> tuple[str, ...]:
    """Who may come to a flag: the customer, the vendor as `vendor_party` says, and the operator."""
    return (Party.CUSTOMER, vendor_party(flag_reason), Party.OPERATOR)


def _may(flag_reason: str, verdict: str, party: str) -> bool:
    if party == Party.OPERATOR:
        return True
    favoured = accept_favours(flag_reason)
    if verdict == REJECT:
        favoured = Party.CUSTOMER if favoured == Party.VENDOR else Party.VENDOR
    if SIDE[party] != favoured:
        return True  # against its own interest: agreeing to pay, or giving up a bill
    return verdict == REJECT and party in _declared(flag_reason)


def who_may(flag_reason: str, verdict: str) -> tuple[str, ...]:
    """The parties that may give this verdict on a flag alone, in a stable order."""
    return tuple(p for p in _parties(flag_reason) if _may(flag_reason, verdict, p))


def deciders(flag_reason: str) -> frozenset[str]:
    """The parties that may decide a flag one way or the other (see `who_may` for which way)."""
    return frozenset(who_may(flag_reason, ACCEPT) + who_may(flag_reason, REJECT))


def evidence_to_clear(flag_reason: str, party: str | None = None) -> bool:
    """Whether accepting (clearing) a flag needs the vendor's evidence, as the rule raising it declares:
    not from the party acceptance goes against, which needs none to agree."""
    flag = FLAGS.get(flag_reason)
    if flag is None or not flag.evidence_to_clear:
        return False
    return party is None or SIDE.get(party) == Party.OPERATOR or SIDE.get(party) == flag.accept_favours


def decision_refusal(*, flag_reason: str, verdict: str, party: str) -> DomainError | None:
    """Why `party` may not give `verdict` on this kind of flag alone, or None when it may."""
    if party in who_may(flag_reason, verdict):
        return None
    allowed = " or ".join(PARTY_NAMES[p] for p in who_may(flag_reason, verdict))
    if party not in deciders(flag_reason):
        return PermissionDenied(
            f"A {flag_reason} flag is decided by {' or '.join(sorted(deciders(flag_reason)))}, not by {party}.",
            code="not_your_decision",
        )
    money = "bills the customer" if accept_favours(flag_reason) == Party.VENDOR else "credits the customer"
    what = (
        f"Accepting a {flag_reason} flag {money}" if verdict == ACCEPT else f"Rejecting a {flag_reason} flag"
    )
    return PermissionDenied(
        f"{what}: no one decides alone what pays them, so {PARTY_NAMES[party]} may not {verdict} it. "
        f"It is for {allowed}.",
        code="decision_needs_other_party",
    )


def open_flags(outcome: Outcome) -> dict[str, OutcomeVerdict]:
    """The flags currently raised on an outcome (the latest verdict of each rule that is a flag), from
    its prefetched verdicts when a page loaded them (one query for a whole list), else from the database."""
    return _latest_flags(
        verdict_trail(
            evaluations=outcome.evaluations.all(), verdicts=outcome.verdicts.all(), by_instant=False
        )
    )


def _latest_flags(verdicts: Iterable[OutcomeVerdict]) -> dict[str, OutcomeVerdict]:
    """From an outcome's verdicts in the order recorded (outcomes.verdict_trail)."""
    latest: dict[str, OutcomeVerdict] = {}
    for verdict in verdicts:
        latest[verdict.rule] = verdict
    return {v.reason: v for v in latest.values() if v.decision == Decision.FLAG}


def review_decide(
    *,
    outcome: Outcome,
    flag_reason: str,
    verdict: str,
    party: str,
    actor: str,
    justification: str = "",
    evidence: dict[str, Any] | None = None,
) -> ReviewDecision:
    """Record one decision on an open flag, then re-evaluate the outcome."""
    review_check(
        outcome=outcome,
        flag_reason=flag_reason,
        verdict=verdict,
        party=party,
        justification=justification,
        evidence=evidence,
    )
    with transaction.atomic():
        (decision,) = _decisions_record(
            outcomes=[outcome],
            flag_reason=flag_reason,
            verdict=verdict,
            party=party,
            actor=actor,
            justification=justification,
            evidence=evidence,
        )
    return decision


def review_check(
    *,
    outcome: Outcome,
    flag_reason: str,
    verdict: str,
    party: str,
    justification: str = "",
    evidence: dict[str, Any] | None = None,
) -> None:
    """Refuse (a DomainError) a decision `review_decide` would refuse, changing nothing: a form checks
    with it before saving (the operator's admin)."""
    _refuse_unknown_verdict(verdict)
    if ReviewDecision.objects.filter(outcome=outcome, flag_reason=flag_reason).exists():
        # Checked before the open flags: once decided, a flag is no longer open, and "no such flag"
        # would hide that someone already answered it.
        raise Conflict("This flag was already decided.", code="already_decided")
    # Fresh: never a page's prefetched copy.
    flags = _latest_flags(
        verdict_trail(
            evaluations=outcome.evaluations.order_by("id"),
            verdicts=outcome.verdicts.order_by("id"),
            by_instant=False,
        )
    )
    if outcome.state != OutcomeState.FLAGGED or flag_reason not in flags:
        raise Conflict(
            f"Outcome {outcome.pk} has no open flag {flag_reason!r}.",
            code="no_such_flag",
            field_errors={"flag_reason": [{"code": "not_open", "message": f"Open flags: {sorted(flags)}."}]},
        )
    _refuse_undue_decider(flag_reason, verdict, party, justification, evidence)


def review_decide_group(
    *,
    vendor: Vendor,
    contract_id: uuid.UUID,
    flag_reason: str,
    day: dt.date,
    verdict: str,
    party: str,
    actor: str,
    justification: str = "",
    evidence: dict[str, Any] | None = None,
    newest_outcome_id: int | None = None,
) -> list[ReviewDecision]:
    """Decide, as one action, every flag of a review queue group still open (those of a contract's
    outcomes that occurred on one day of its zone), each recorded and re-evaluated as `review_decide`
    does one. With `newest_outcome_id` (the group as the person saw it), outcomes created since are
    left for another look. A flag decided meanwhile is skipped: the decisions returned say how many were
    made. Another vendor's contract is not found."""
    group = selectors.flag_group_get(vendor=vendor, contract_id=contract_id, flag_reason=flag_reason, day=day)
    _refuse_unknown_verdict(verdict)
    _refuse_undue_decider(flag_reason, verdict, party, justification, evidence)
    candidates = selectors.flag_group_outcomes(group=group).prefetch_related(None).order_by("pk")
    if newest_outcome_id is not None:
        candidates = candidates.filter(pk__lte=newest_outcome_id)
    with transaction.atomic():
        # Lock in id order, as the verification pipeline does: a decision or an evaluation of the same
        # outcomes waits for this one (or this one for it), never deadlocks. A flag decided meanwhile
        # is no longer open in the second read, made under the lock, and is skipped.
        locked = list(
            Outcome.objects.select_for_update()
            .filter(pk__in=any_of(candidates.values_list("pk", flat=True)))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        return _decisions_record(
            outcomes=list(candidates.filter(pk__in=any_of(locked))),
            flag_reason=flag_reason,
            verdict=verdict,
            party=party,
            actor=actor,
            justification=justification,
            evidence=evidence,
        )


def _refuse_unknown_verdict(verdict: str) -> None:
    if verdict not in ReviewDecision.Verdict.values:
        raise ValidationFailed.on_field("verdict", "invalid_choice", "verdict must be accept or reject.")


def _refuse_undue_decider(
    flag_reason: str, verdict: str, party: str, justification: str, evidence: dict[str, Any] | None
) -> None:
    """Refuse a party that may not decide this kind of flag this way alone, or a decision without what
    it needs; checked before anything is written."""
    refusal = decision_refusal(flag_reason=flag_reason, verdict=verdict, party=party)
    if refusal is not None:
        raise refusal
    if party in JUSTIFYING and not justification.strip():
        raise ValidationFailed.on_field(
            "justification",
            "required",
            # A vendor admin's reason is for the customer; an operator's, for both.
            "A vendor admin's decision needs a justification the customer can see."
            if party == Party.VENDOR_ADMIN
            else "An operator's decision needs a justification both parties can see.",
        )
    if evidence_to_clear(flag_reason, party) and verdict == ReviewDecision.Verdict.ACCEPT and not evidence:
        raise ValidationFailed.on_field(
            "evidence",
            "required",
            f"Clearing a {FLAGS[flag_reason].suspicion} flag needs the vendor's evidence.",
        )


def _decisions_record(
    *,
    outcomes: Sequence[Outcome],
    flag_reason: str,
    verdict: str,
    party: str,
    actor: str,
    justification: str,
    evidence: dict[str, Any] | None,
) -> list[ReviewDecision]:
    """One decision on the open `flag_reason` flag of each outcome, with an audit entry per outcome,
    then the outcomes re-evaluated (the verdict that says who decided and why, and the transition).
    The caller runs it in a transaction and has found the flags open; one decided meanwhile (past
    the caller's checks) is a Conflict, as the database keeps one decision per flag."""
    if not outcomes:
        return []
    now = timezone.now()
    try:
        with transaction.atomic():
            decisions = ReviewDecision.objects.bulk_create(
                ReviewDecision(
                    outcome=outcome,
                    flag_reason=flag_reason,
                    verdict=verdict,
                    party=party,
                    actor=actor,
                    justification=justification,
                    evidence=evidence or {},
                    at=now,
                )
                for outcome in outcomes
            )
            customers = dict(
                Contract.objects.filter(pk__in={o.contract_id for o in outcomes}).values_list(
                    "pk", "customer_id"
                )
            )
            events_publish(
                [
                    review_decided(
                        outcome=outcome,
                        customer_id=customers[outcome.contract_id],
                        flag_reason=flag_reason,
                        verdict=verdict,
                        party=party,
                        actor=actor,
                        justification=justification,
                        evidence=evidence or {},
                        at=now,
                    )
                    for outcome in outcomes
                ]
            )
    except IntegrityError:
        message = "This flag was already decided." if len(outcomes) == 1 else "A flag was decided meanwhile."
        raise Conflict(message, code="already_decided") from None
    audit_record_many(
        vendor_id=outcomes[0].vendor_id,
        actor=actor,
        action="outcome.flag_decided",
        at=now,
        entries=[
            (
                decision.outcome,
                {
                    "flag_reason": flag_reason,
                    "verdict": verdict,
                    "party": party,
                    "decided_together": len(decisions),
                },
            )
            for decision in decisions
        ],
    )
    outcomes_evaluate(outcome_ids=[outcome.pk for outcome in outcomes], now=now)
    return decisions


def dispute_open(*, outcome: Outcome, reason: str, actor: str, now: dt.datetime | None = None) -> Dispute:
    """A customer disputes a billable or billed outcome within the window (or one still in verification);
    the vendor's audit log records it (`dispute.opened`), whichever way the customer came."""
    now = now or timezone.now()
    if not reason.strip():
        raise ValidationFailed.on_field("reason", "required", "Say why the outcome is disputed.")
    if outcome.state in (OutcomeState.REJECTED, OutcomeState.REVERSED):
        raise Conflict(
            f"A {outcome.state} outcome is not billed; there is nothing to dispute.", code="not_disputable"
        )
    if outcome.version is None:
        raise Conflict("This outcome is not verified yet.", code="not_disputable")
    policy = _policy_of(outcome)
    closes = dispute_closes_at(outcome)
    if closes is not None and now > closes:
        raise Conflict(f"The dispute window closed at {closes.isoformat()}.", code="dispute_window_closed")
    try:
        with transaction.atomic():
            dispute = Dispute.objects.create(
                outcome=outcome,
                opened_at=now,
                reason=reason,
                opened_by=actor,
                deadline=now + dt.timedelta(days=Disputes.params_in(policy).response_days),
            )
            events_publish(
                [dispute_opened(dispute=dispute, outcome=outcome, customer_id=outcome.contract.customer_id)]
            )
            audit_record(
                vendor=outcome.contract.vendor,
                actor=actor,
                action="dispute.opened",
                target=dispute,
                at=now,
                details={
                    "outcome_id": outcome.pk,
                    "reason": reason,
                    "deadline": dispute.deadline.isoformat(),
                },
            )
    except IntegrityError:
        raise Conflict("This outcome is already disputed.", code="already_disputed") from None
    outcomes_evaluate(outcome_ids=[outcome.pk], now=now)
    return dispute


def _policy_of(outcome: Outcome) -> BaseModel:
    assert outcome.version is not None
    return VerificationPolicy.model_validate(
        outcome.version.outcome_types.get(key=outcome.outcome_type_key).verification_policy
    )


def dispute_closes_at(outcome: Outcome) -> dt.datetime | None:
    """When a verified outcome's dispute window closes under its contract version's policy (None: it
    has not started, the outcome not being billable yet)."""
    return dispute_window_closes(
        billable_at=outcome.billable_at,
        billed_at=outcome.billed_at,
        window_days=Disputes.params_in(_policy_of(outcome)).window_days,
    )


def dispute_respond(
    *, dispute: Dispute, accept: bool, response: str, evidence: dict[str, Any] | None, actor: str
) -> Dispute:
    """The vendor accepts the dispute (no bill, or a credit) or rejects it with evidence."""
    if not response.strip():
        raise ValidationFailed.on_field("response", "required", "Explain the answer to the customer.")
    if not accept and not evidence:
        raise ValidationFailed.on_field("evidence", "required", "Rejecting a dispute needs evidence.")
    now = timezone.now()
    status = Dispute.Status.ACCEPTED if accept else Dispute.Status.REJECTED
    with transaction.atomic():
        updated = Dispute.objects.filter(pk=dispute.pk, status=Dispute.Status.OPEN, deadline__gt=now).update(
            status=status,
            response=response,
            response_evidence=evidence or {},
            resolved_at=now,
            resolved_by=actor,
        )
        dispute.refresh_from_db()
        if updated:
            outcome = Outcome.objects.select_related("contract").get(pk=dispute.outcome_id)
            events_publish(
                [dispute_resolved(dispute=dispute, outcome=outcome, customer_id=outcome.contract.customer_id)]
            )
            audit_record(
                vendor=outcome.contract.vendor,
                actor=actor,
                action=f"dispute.{status}",
                target=dispute,
                at=now,
                details={"outcome_id": outcome.pk, "response": response, "with_evidence": bool(evidence)},
            )
    if not updated:
        raise Conflict(
            f"This dispute is {dispute.status}; it can no longer be answered.", code="dispute_closed"
        )
    outcomes_evaluate(outcome_ids=[dispute.outcome_id], now=now)
    dispute.refresh_from_db()
    return dispute


def disqualifier_contest_answer(
    *,
    outcome: Outcome,
    uphold: bool,
    response: str,
    evidence: dict[str, Any] | None,
    actor: str,
) -> DisqualifierContest:
    """The customer answers a contested disqualifier before its deadline: it withdraws it (a decision
    accepting the flag: the outcome is billed), or upholds it with evidence, which stops the clock and
    leaves the decision to an operator (or the vendor conceding): the customer never keeps it alone.
    Either answer is in the vendor's audit log (`disqualifier_contest.withdrawn` / `.upheld`)."""
    contest = DisqualifierContest.objects.filter(outcome=outcome).first()
    if contest is None:
        raise NotFound("This outcome has no contested disqualifier.", code="no_contest")
    if not response.strip():
        raise ValidationFailed.on_field("response", "required", "Explain the answer to the vendor.")
    now = timezone.now()
    open_statuses = [DisqualifierContest.Status.OPEN] + (
        [] if uphold else [DisqualifierContest.Status.UPHELD]
    )
    if contest.status not in open_statuses or (
        contest.status == DisqualifierContest.Status.OPEN and now >= contest.deadline
    ):
        closed = (
            "its deadline passed" if contest.status == DisqualifierContest.Status.OPEN else contest.status
        )
        raise Conflict(
            f"This contested disqualifier can no longer be answered ({closed}).", code="contest_closed"
        )
    if not uphold:
        review_decide(
            outcome=outcome,
            flag_reason=DISQUALIFIER_CONTESTED.code,
            verdict=ACCEPT,
            party=Party.CUSTOMER,
            actor=actor,
            justification=response,
            evidence=evidence,
        )
        contest.refresh_from_db()
        # Beside the decision's own entry (`outcome.flag_decided`), once it stands: what the customer answered.
        _contest_answer_audit(contest=contest, outcome=outcome, answer="withdrawn", actor=actor, at=now)
        return contest
    if not evidence:
        raise ValidationFailed.on_field("evidence", "required", "Upholding a disqualifier needs evidence.")
    with transaction.atomic():
        # Only while open and before the deadline: an evaluation expiring it at the deadline wins if it
        # committed first.
        updated = DisqualifierContest.objects.filter(
            pk=contest.pk, status=DisqualifierContest.Status.OPEN, deadline__gt=now
        ).update(
            status=DisqualifierContest.Status.UPHELD,
            answer=response,
            answer_evidence=evidence,
            answered_at=now,
            answered_by=actor,
        )
        if updated:
            contest.refresh_from_db()
            events_publish(
                [
                    disqualifier_contest_upheld(
                        contest=contest, outcome=outcome, customer_id=outcome.contract.customer_id
                    )
                ]
            )
            _contest_answer_audit(contest=contest, outcome=outcome, answer="upheld", actor=actor, at=now)
    if not updated:
        raise Conflict("This contested disqualifier can no longer be answered.", code="contest_closed")
    outcomes_evaluate(outcome_ids=[outcome.pk], now=now)
    contest.refresh_from_db()
    return contest


def _contest_answer_audit(
    *, contest: DisqualifierContest, outcome: Outcome, answer: str, actor: str, at: dt.datetime
) -> None:
    audit_record(
        vendor=outcome.contract.vendor,
        actor=actor,
        action=f"disqualifier_contest.{answer}",
        target=contest,
        at=at,
        details={"outcome_id": outcome.pk, "disqualifier": contest.disqualifier},
    )


def sample_attest(*, sample: AuditSample, attested: bool, actor: str, note: str = "") -> AuditSample:
    """The customer attests (or denies) a sampled outcome before its deadline, in the vendor's audit log
    (`audit_sample.attested` / `.denied`)."""
    now = timezone.now()
    answer = AuditSample.Answer.ATTESTED if attested else AuditSample.Answer.DENIED
    with transaction.atomic():
        updated = AuditSample.objects.filter(pk=sample.pk, answer="", deadline__gt=now).update(
            answer=answer, answered_at=now, answered_by=actor, note=note
        )
        if updated:
            outcome = Outcome.objects.select_related("contract__vendor").get(pk=sample.outcome_id)
            audit_record(
                vendor=outcome.contract.vendor,
                actor=actor,
                action=f"audit_sample.{answer}",
                target=sample,
                at=now,
                details={"outcome_id": outcome.pk},
            )
    if not updated:
        sample.refresh_from_db()
        code = "already_answered" if sample.answer else "deadline_passed"
        raise Conflict("This sample can no longer be answered.", code=code)
    outcomes_evaluate(outcome_ids=[sample.outcome_id], now=now)
    sample.refresh_from_db()
    return sample

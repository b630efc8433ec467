"""The verification rules and the one registry that orders them.

Adding a rule: write its module (a Rule subclass with a stable name, its reason codes with their
text, and its parameters' model with their sentence, `describe`) and add it here: the verification
policy gets its section from this registry (outcomes.rules.policy). The
order is the documented evaluation order (docs/verification.md): cheap, decisive rules first;
statistics next; people last. The lookups below are built once from RULES: the rest of outcomes asks
them, never a rule by its name.
"""

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from outcomes.rules.anomaly import Anomaly
from outcomes.rules.base import FlagReason, OutcomeFacts, Reason, Rule, Verdict
from outcomes.rules.baseline import BaselineLift
from outcomes.rules.confirmation import Confirmation
from outcomes.rules.contested_disqualifiers import ContestedDisqualifiers
from outcomes.rules.customer_caps import CustomerCaps
from outcomes.rules.disputes import Disputes
from outcomes.rules.event_time import EventTime
from outcomes.rules.evidence import Evidence
from outcomes.rules.evidence_content import EvidenceContent
from outcomes.rules.flag_deadlines import ACCEPTED_ON_SILENCE, REJECTED_ON_SILENCE, FlagDeadlines
from outcomes.rules.ingestion import Authenticity, Idempotency, NaturalKeyUniqueness
from outcomes.rules.maturation import Maturation, Reversal
from outcomes.rules.reversal_anomaly import ReversalAnomaly
from outcomes.rules.sampling import AuditSampling
from outcomes.rules.sender import Sender
from outcomes.rules.split import SplitDetection
from outcomes.rules.suppression import Suppression
from outcomes.rules.system_of_record import SystemOfRecord
from outcomes.rules.time_to_outcome import TimeToOutcome
from outcomes.rules.verifier import Verifier

RULES: tuple[Rule[Any], ...] = (
    Authenticity(),
    Idempotency(),
    NaturalKeyUniqueness(),
    EventTime(),
    SystemOfRecord(),
    TimeToOutcome(),
    Evidence(),
    EvidenceContent(),
    Verifier(),
    SplitDetection(),
    BaselineLift(),
    Suppression(),
    Confirmation(),
    Sender(),
    Maturation(),
    Reversal(),
    ReversalAnomaly(),
    ContestedDisqualifiers(),
    Anomaly(),
    AuditSampling(),
    Disputes(),
    CustomerCaps(),  # judges nothing itself: the pipeline asks it with the caps (below)
    FlagDeadlines(),  # last: it decides the flags the rules before it raised, when no one did in time
)

# Caps (rule 11, and the customer's own, 11a) run last, inside the pipeline's transaction, at the moment
# an outcome would become billable: see outcomes.services.verification.


def _reasons_by_code(rules: Iterable[Rule[Any]]) -> dict[str, Reason]:
    """Every declared reason by its code; two rules may share a code only with the same meaning."""
    by_code: dict[str, Reason] = {}
    for rule in rules:
        for reason in rule.reasons:
            if by_code.setdefault(reason.code, reason) != reason:
                raise ValueError(f"Two rules declare {reason.code!r} with different meanings.")
    return by_code


RULE_NAMED: Mapping[str, Rule[Any]] = MappingProxyType({rule.name: rule for rule in RULES})
REASONS: Mapping[str, Reason] = MappingProxyType(_reasons_by_code(RULES))
# The flags, in evaluation order: what a person decides, who may, and what they must give.
FLAGS: Mapping[str, FlagReason] = MappingProxyType(
    {code: reason for code, reason in REASONS.items() if isinstance(reason, FlagReason)}
)


# The pipeline's own reasons (outcomes.services.verification): no rule declares them.
PIPELINE_REASONS: Mapping[str, str] = MappingProxyType(
    {
        "all_rules_accept": "Every rule that applies accepts it.",
        "billed": "Billed on a finalized invoice.",
    }
)
# A person's decision on a flag: the flag's code with one of these suffixes.
DECIDED_FLAG = (
    ("_cleared", "Cleared on review"),
    ("_rejected_on_review", "Rejected on review"),
    (ACCEPTED_ON_SILENCE, "Accepted at its deadline, no one having decided (the default on silence)"),
    (REJECTED_ON_SILENCE, "Rejected at its deadline, no one having decided (the default on silence)"),
)


def reason_text(code: str) -> str:
    """What a reason code means in plain language: a rule's, the pipeline's own, or a decided flag's; ""
    for a code none of them knows."""
    reason = REASONS.get(code)
    if reason is not None:
        return reason.text
    if code in PIPELINE_REASONS:
        return PIPELINE_REASONS[code]
    for suffix, lead in DECIDED_FLAG:
        flag = FLAGS.get(code.removesuffix(suffix)) if code.endswith(suffix) else None
        if flag is not None:
            return f"{lead}: {flag.text[:1].lower()}{flag.text[1:]}"
    return ""


__all__ = [
    "FLAGS",
    "REASONS",
    "RULES",
    "RULE_NAMED",
    "FlagReason",
    "OutcomeFacts",
    "Reason",
    "Rule",
    "Verdict",
    "reason_text",
]

"""The verification rules and the one registry that orders them.

Adding a rule: write its module (a Rule subclass with a stable name, parameters in
contracts.policy, reason codes) and add it here. The order is the documented evaluation order
(docs/verification.md): cheap, decisive rules first; statistics next; people last.
"""

from outcomes.rules.anomaly import Anomaly
from outcomes.rules.base import OutcomeFacts, Rule, Verdict
from outcomes.rules.baseline import BaselineLift
from outcomes.rules.confirmation import Confirmation
from outcomes.rules.disputes import Disputes
from outcomes.rules.event_time import EventTime
from outcomes.rules.evidence import Evidence
from outcomes.rules.ingestion import Authenticity, Idempotency, NaturalKeyUniqueness
from outcomes.rules.maturation import Maturation, Reversal
from outcomes.rules.sampling import AuditSampling
from outcomes.rules.split import SplitDetection
from outcomes.rules.suppression import Suppression
from outcomes.rules.time_to_outcome import TimeToOutcome

RULES: tuple[Rule, ...] = (
    Authenticity(),
    Idempotency(),
    NaturalKeyUniqueness(),
    EventTime(),
    TimeToOutcome(),
    Evidence(),
    SplitDetection(),
    BaselineLift(),
    Suppression(),
    Confirmation(),
    Maturation(),
    Reversal(),
    Anomaly(),
    AuditSampling(),
    Disputes(),
)

# Caps (rule 11) run last, inside the pipeline's transaction, at the moment an outcome would become
# billable: see outcomes.services.verification.

__all__ = ["RULES", "OutcomeFacts", "Rule", "Verdict"]

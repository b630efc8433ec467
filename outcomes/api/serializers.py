"""Output shapes of the outcomes API."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contracts.models import CustomerCap
from contracts.terms import MAX_MINOR_AMOUNT
from core.currencies import minor_units_help
from outcomes.models import (
    AuditSample,
    Delivery,
    Dispute,
    DisqualifierContest,
    Outcome,
    OutcomeState,
    OutcomeTransition,
    OutcomeVerdict,
    RawEvent,
    ReviewDecision,
)
from outcomes.trail import Trail


class OutcomeOut(serializers.ModelSerializer[Outcome]):
    contract_id = serializers.UUIDField(read_only=True)
    outcome_type = serializers.CharField(source="outcome_type_key")

    class Meta:
        model = Outcome
        fields = [
            "id",
            "contract_id",
            "outcome_type",
            "natural_key",
            "parent_key",
            "state",
            "occurred_at",
            "value_minor",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            "value_minor": {
                "help_text": minor_units_help("The value the event reported (for success fees); null: none.")
            }
        }


class RawEventOut(serializers.ModelSerializer[RawEvent]):
    source_id = serializers.UUIDField(read_only=True)
    delivery_id = serializers.IntegerField(read_only=True)
    from_customer = serializers.BooleanField(
        read_only=True,
        help_text="Whether the event speaks for the customer (confirms, disputes): sent by a "
        "customer_system source the customer had approved when it arrived. False for the vendor's agent, "
        "and for a source awaiting the customer's approval (its events are kept, but confirm nothing).",
    )

    class Meta:
        model = RawEvent
        fields = [
            "event_id",
            "kind",
            "source_id",
            "from_customer",
            "delivery_id",
            "occurred_at",
            "received_at",
            "body_sha256",
            "payload",
        ]


class TransitionOut(serializers.ModelSerializer[OutcomeTransition]):
    class Meta:
        model = OutcomeTransition
        fields = ["from_state", "to_state", "at", "actor", "reason", "details"]


class VerdictOut(serializers.ModelSerializer[OutcomeVerdict]):
    class Meta:
        model = OutcomeVerdict
        fields = ["rule", "decision", "reason", "facts", "hold_until", "at"]


class ReviewDecisionOut(serializers.ModelSerializer[ReviewDecision]):
    class Meta:
        model = ReviewDecision
        fields = ["flag_reason", "verdict", "party", "actor", "justification", "evidence", "at"]


class DisputeOut(serializers.ModelSerializer[Dispute]):
    outcome_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Dispute
        fields = [
            "id",
            "outcome_id",
            "status",
            "reason",
            "opened_at",
            "opened_by",
            "deadline",
            "response",
            "response_evidence",
            "resolved_at",
            "resolved_by",
        ]


class DisqualifierContestOut(serializers.ModelSerializer[DisqualifierContest]):
    outcome_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = DisqualifierContest
        fields = [
            "id",
            "outcome_id",
            "event_id",
            "disqualifier",
            "status",
            "opened_at",
            "deadline",
            "answer",
            "answer_evidence",
            "answered_at",
            "answered_by",
            "resolved_at",
        ]


class AuditSampleOut(serializers.ModelSerializer[AuditSample]):
    class Meta:
        model = AuditSample
        fields = ["selected_at", "deadline", "answer", "answered_at", "answered_by", "note"]


# A trail's fields beside the outcome's own, the vendor's and the customer's alike.
OUTCOME_DETAIL_FIELDS = [
    "version",
    "price_percent",
    "confirmed_at",
    "billable_at",
    "billed_at",
    "hold_until",
    "raw_events",
    "verdicts",
    "transitions",
    "review_decisions",
    "dispute",
    "audit_sample",
]


class OutcomeDetailOut(OutcomeOut):
    """The explainable trail: raw events, every verdict with its facts, transitions, and people's decisions."""

    raw_events = serializers.SerializerMethodField()
    transitions = TransitionOut(many=True, read_only=True)
    verdicts = VerdictOut(many=True, read_only=True, source="verdict_trail")
    review_decisions = ReviewDecisionOut(many=True, read_only=True)
    dispute = serializers.SerializerMethodField()
    audit_sample = serializers.SerializerMethodField()
    version = serializers.IntegerField(source="version.number", read_only=True, allow_null=True)

    class Meta(OutcomeOut.Meta):
        fields = [*OutcomeOut.Meta.fields, *OUTCOME_DETAIL_FIELDS]

    def get_dispute(self, outcome: Outcome) -> dict[str, Any] | None:
        dispute = Dispute.objects.filter(outcome=outcome).first()
        return None if dispute is None else DisputeOut(dispute).data

    def get_audit_sample(self, outcome: Outcome) -> dict[str, Any] | None:
        sample = AuditSample.objects.filter(outcome=outcome).first()
        return None if sample is None else AuditSampleOut(sample).data

    def get_raw_events(self, outcome: Outcome) -> list[dict[str, Any]]:
        return RawEventOut(self.context["raw_events"], many=True).data  # type: ignore[return-value]


# --- the customer's view of a trail (outcomes.trail) ---------------------------------------------


class CustomerRawEventOut(RawEventOut):
    class Meta(RawEventOut.Meta):
        fields = [f for f in RawEventOut.Meta.fields if f != "delivery_id"]  # the vendor's inbox


class CustomerTransitionOut(TransitionOut):
    class Meta(TransitionOut.Meta):
        fields = [f for f in TransitionOut.Meta.fields if f != "actor"]


class CustomerReviewDecisionOut(ReviewDecisionOut):
    class Meta(ReviewDecisionOut.Meta):
        fields = [f for f in ReviewDecisionOut.Meta.fields if f != "actor"]
        extra_kwargs = {
            "justification": {
                "help_text": "Why, in the decider's words for the customer: \"\" for the vendor's own "
                "decisions (its notes are its own); a vendor admin's or an operator's is kept."
            },
            "evidence": {"help_text": "The evidence the customer gave; {} for anyone else's decision."},
        }


class CustomerDisputeOut(DisputeOut):
    class Meta(DisputeOut.Meta):
        fields = [f for f in DisputeOut.Meta.fields if f not in ("resolved_by", "response_evidence")]


class CustomerOutcomeDetailOut(OutcomeOut):
    """The customer's view of an outcome's trail (outcomes.trail, the customer portal's too): raw events,
    verdicts with their reasons (no facts for a flag, none naming the vendor's people), state changes,
    decisions (who decided as a party, never by name), the dispute and the audit sample. Serializes the
    trail's outcome with the trail in the context (`trail`)."""

    version = serializers.IntegerField(source="version.number", read_only=True, allow_null=True)
    raw_events = serializers.SerializerMethodField()
    verdicts = serializers.SerializerMethodField()
    transitions = serializers.SerializerMethodField()
    review_decisions = serializers.SerializerMethodField()
    dispute = serializers.SerializerMethodField()
    audit_sample = serializers.SerializerMethodField()

    class Meta(OutcomeOut.Meta):
        fields = [*OutcomeOut.Meta.fields, *OUTCOME_DETAIL_FIELDS]

    def _trail(self) -> Trail:
        trail = self.context["trail"]
        assert isinstance(trail, Trail)
        return trail

    @extend_schema_field(CustomerRawEventOut(many=True))
    def get_raw_events(self, outcome: Outcome) -> list[dict[str, Any]]:
        return CustomerRawEventOut(self._trail().raw_events, many=True).data  # type: ignore[return-value]

    @extend_schema_field(VerdictOut(many=True))
    def get_verdicts(self, outcome: Outcome) -> list[dict[str, Any]]:
        return VerdictOut(self._trail().verdicts, many=True).data  # type: ignore[return-value]

    @extend_schema_field(CustomerTransitionOut(many=True))
    def get_transitions(self, outcome: Outcome) -> list[dict[str, Any]]:
        return CustomerTransitionOut(self._trail().transitions, many=True).data  # type: ignore[return-value]

    @extend_schema_field(CustomerReviewDecisionOut(many=True))
    def get_review_decisions(self, outcome: Outcome) -> list[dict[str, Any]]:
        return CustomerReviewDecisionOut(self._trail().review_decisions, many=True).data  # type: ignore[return-value]

    @extend_schema_field(CustomerDisputeOut(allow_null=True))
    def get_dispute(self, outcome: Outcome) -> dict[str, Any] | None:
        dispute = self._trail().dispute
        return None if dispute is None else CustomerDisputeOut(dispute).data

    @extend_schema_field(AuditSampleOut(allow_null=True))
    def get_audit_sample(self, outcome: Outcome) -> dict[str, Any] | None:
        sample = self._trail().audit_sample
        return None if sample is None else AuditSampleOut(sample).data


class OutcomeFilter(serializers.Serializer[None]):
    contract_id = serializers.UUIDField(required=False)
    outcome_type = serializers.CharField(required=False, max_length=64)
    state = serializers.ChoiceField(choices=OutcomeState.choices, required=False)
    occurred_from = serializers.DateTimeField(
        required=False, help_text="Inclusive lower bound of occurred_at."
    )
    occurred_to = serializers.DateTimeField(required=False, help_text="Exclusive upper bound of occurred_at.")


class DeliveryOut(serializers.ModelSerializer[Delivery]):
    response_status = serializers.IntegerField(source="result.status", read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "webhook_id",
            "received_at",
            "event_count",
            "body_sha256",
            "headers",
            "response_status",
        ]


class DeliveryDetailOut(DeliveryOut):
    body = serializers.SerializerMethodField(help_text="The body exactly as received (UTF-8).")
    response = serializers.JSONField(source="result.body", read_only=True)

    class Meta(DeliveryOut.Meta):
        fields = [*DeliveryOut.Meta.fields, "body", "response"]

    def get_body(self, delivery: Delivery) -> str:
        return bytes(delivery.body).decode("utf-8", errors="replace")


class ReviewQueueItemOut(OutcomeOut):
    open_flags = serializers.SerializerMethodField(help_text="Each open flag with the facts that raised it.")

    class Meta(OutcomeOut.Meta):
        fields = [*OutcomeOut.Meta.fields, "open_flags"]

    def get_open_flags(self, outcome: Outcome) -> list[dict[str, Any]]:
        from outcomes.services.review import deciders, open_flags, who_may

        return [
            {
                "flag_reason": reason,
                "rule": verdict.rule,
                "facts": verdict.facts,
                "raised_at": verdict.at,
                # When the contract's default on silence decides it (outcomes.rules.flag_deadlines); null: never.
                "deadline": verdict.hold_until,
                "decided_by": sorted(deciders(reason)),
                # No one decides alone what pays them: who may accept it, and who may reject it.
                "accepted_by": sorted(who_may(reason, ReviewDecision.Verdict.ACCEPT)),
                "rejected_by": sorted(who_may(reason, ReviewDecision.Verdict.REJECT)),
            }
            for reason, verdict in open_flags(outcome).items()
        ]


class ReviewDecisionIn(serializers.Serializer[None]):
    flag_reason = serializers.CharField(max_length=64)
    verdict = serializers.ChoiceField(choices=ReviewDecision.Verdict.choices)
    justification = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    evidence = serializers.DictField(required=False, default=dict)


class DisputeRespondIn(serializers.Serializer[None]):
    accept = serializers.BooleanField(help_text="true: the customer is right (no bill, or a credit).")
    response = serializers.CharField(max_length=5000)
    evidence = serializers.DictField(required=False, default=dict)


class DisqualifierContestAnswerIn(serializers.Serializer[None]):
    uphold = serializers.BooleanField(
        help_text=(
            "true: the customer upholds its disqualifier with evidence (an operator then decides); "
            "false: it withdraws it (the outcome is billed)."
        )
    )
    response = serializers.CharField(max_length=5000)
    evidence = serializers.DictField(required=False, default=dict)


class DisputeOpenIn(serializers.Serializer[None]):
    reason = serializers.CharField(max_length=5000)


class AttestIn(serializers.Serializer[None]):
    attested = serializers.BooleanField(help_text="true: it really happened; false: it did not.")
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class DisputeFilter(serializers.Serializer[None]):
    status = serializers.ChoiceField(choices=Dispute.Status.choices, required=False)


class VerifierAccuracyOut(serializers.Serializer[Any]):
    verifier = serializers.CharField(help_text="The verifier's name, as the operator configured it.")
    accepted = serializers.IntegerField(help_text="Outcomes the verifier accepted.")
    sampled = serializers.IntegerField(help_text="Of those, drawn at random for a person to check.")
    upheld = serializers.IntegerField(
        help_text="Sampled, and a person accepted them (the verifier was right)."
    )
    overturned = serializers.IntegerField(
        help_text="Sampled, and a person rejected them (the verifier was wrong)."
    )
    decided = serializers.IntegerField(help_text="Sampled and decided: upheld + overturned.")
    accuracy = serializers.DecimalField(
        max_digits=5,
        decimal_places=4,
        allow_null=True,
        help_text="upheld / decided, from 0 to 1; null before any sample is decided.",
    )


class CustomerCapIn(serializers.Serializer[None]):
    max_units = serializers.IntegerField(
        min_value=0,
        max_value=2_147_483_647,
        required=False,
        allow_null=True,
        default=None,
        help_text=(
            "The most outcomes of the type billed per period without the customer's approval; at most the "
            "contract's own cap for the type (400 above_contract_cap). 0: every one waits for approval; "
            "null or absent: no unit cap. At least one of max_units and max_amount_minor (400 cap_required)."
        ),
    )
    max_amount_minor = serializers.IntegerField(
        min_value=0,
        max_value=MAX_MINOR_AMOUNT,
        required=False,
        allow_null=True,
        default=None,
        help_text=minor_units_help(
            "The most the type's outcomes bill per period without the customer's approval; at most the "
            "contract's amount caps, the type's and the contract's (400 above_contract_cap). Null or absent: "
            "no amount cap."
        ),
    )
    alert_percents = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=100),
        max_length=10,
        required=False,
        default=list,
        help_text="Percents of max_units and of max_amount_minor; each reached sends customer_cap.threshold_reached "
        "(units) or customer_cap.amount_threshold_reached (amount) once per period.",
    )

    def validate_alert_percents(self, value: list[int]) -> list[int]:
        return sorted(set(value))


class CustomerCapOut(serializers.ModelSerializer[CustomerCap]):
    contract_id = serializers.UUIDField(read_only=True)
    outcome_type = serializers.CharField(source="outcome_type_key")
    currency = serializers.CharField(source="contract.currency", read_only=True)

    class Meta:
        model = CustomerCap
        fields = [
            "contract_id",
            "outcome_type",
            "max_units",
            "max_amount_minor",
            "currency",
            "alert_percents",
            "set_by",
            "set_at",
        ]
        extra_kwargs = {
            "max_amount_minor": {"help_text": minor_units_help("The amount cap; null: none.")},
        }

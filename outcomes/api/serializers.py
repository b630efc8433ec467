"""Output shapes of the outcomes API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from outcomes.models import Delivery, Outcome, OutcomeState, OutcomeTransition, RawEvent


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


class RawEventOut(serializers.ModelSerializer[RawEvent]):
    source_id = serializers.UUIDField(read_only=True)
    delivery_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = RawEvent
        fields = [
            "event_id",
            "kind",
            "source_id",
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


class OutcomeDetailOut(OutcomeOut):
    raw_events = serializers.SerializerMethodField()
    transitions = TransitionOut(many=True, read_only=True)

    class Meta(OutcomeOut.Meta):
        fields = [*OutcomeOut.Meta.fields, "raw_events", "transitions"]

    def get_raw_events(self, outcome: Outcome) -> list[dict[str, Any]]:
        return RawEventOut(self.context["raw_events"], many=True).data  # type: ignore[return-value]


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

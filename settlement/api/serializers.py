"""Output shapes of the settlement API."""

from __future__ import annotations

from rest_framework import serializers

from settlement.models import Invoice, InvoiceLine, InvoiceStatus, LineOutcome, SettlementStep


class InvoiceOut(serializers.ModelSerializer[Invoice]):
    contract_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "contract_id",
            "status",
            "currency",
            "period_start",
            "period_end",
            "total_minor",
            "finalize_after",
            "finalized_at",
            "paid_at",
            "stripe_invoice_id",
            "stripe_status",
            "stripe_error",
            "approval_status",
            "approved_total_minor",
            "approved_at",
            "approved_by",
        ]


class InvoiceLineOut(serializers.ModelSerializer[InvoiceLine]):
    version = serializers.IntegerField(source="version.number", read_only=True, allow_null=True)

    class Meta:
        model = InvoiceLine
        fields = [
            "position",
            "kind",
            "description",
            "outcome_type_key",
            "version",
            "tier",
            "quantity",
            "unit_price",
            "amount_minor",
            "details",
        ]


class SettlementStepOut(serializers.ModelSerializer[SettlementStep]):
    class Meta:
        model = SettlementStep
        fields = [
            "step",
            "status",
            "idempotency_key",
            "stripe_id",
            "error",
            "attempts",
            "started_at",
            "done_at",
        ]


class InvoiceDetailOut(InvoiceOut):
    lines = InvoiceLineOut(many=True, read_only=True)
    settlement_steps = SettlementStepOut(many=True, read_only=True)
    held_over_cap = serializers.JSONField(read_only=True)

    class Meta(InvoiceOut.Meta):
        fields = [*InvoiceOut.Meta.fields, "held_over_cap", "lines", "settlement_steps"]


class LineOutcomeOut(serializers.ModelSerializer[LineOutcome]):
    outcome_id = serializers.IntegerField(read_only=True)
    natural_key = serializers.CharField(source="outcome.natural_key", read_only=True)
    outcome_type = serializers.CharField(source="outcome.outcome_type_key", read_only=True)
    occurred_at = serializers.DateTimeField(source="outcome.occurred_at", read_only=True)
    state = serializers.CharField(source="outcome.state", read_only=True)

    class Meta:
        model = LineOutcome
        fields = ["outcome_id", "natural_key", "outcome_type", "occurred_at", "state", "share_minor"]


class InvoiceFilter(serializers.Serializer[None]):
    contract_id = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(choices=InvoiceStatus.choices, required=False)

"""Output shapes and query filters of the contracts API. Input bodies are validated by contracts.terms."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from contracts.models import (
    ApiKey,
    Contract,
    ContractStatus,
    ContractVersion,
    Customer,
    OutcomeType,
    TaxExempt,
    WebhookSource,
)
from contracts.terms import OutcomeTypeTerms, pricing_as_plain
from contracts.terms.versions import BUDGET_ALERTS_HELP
from core.currencies import minor_units_help


class AddressOut(serializers.Serializer[dict[str, str]]):
    country = serializers.CharField(help_text="ISO 3166-1 alpha-2.")
    line1 = serializers.CharField()
    line2 = serializers.CharField()
    city = serializers.CharField()
    state = serializers.CharField()
    postal_code = serializers.CharField()


class TaxIdOut(serializers.Serializer[dict[str, str]]):
    type = serializers.CharField(help_text="A Stripe tax id type, e.g. eu_vat.")
    value = serializers.CharField()


class CustomerOut(serializers.ModelSerializer[Customer]):
    can_be_charged_automatically = serializers.BooleanField(
        read_only=True,
        help_text="Whether Stripe has a default payment method for this customer's invoices.",
    )
    address = AddressOut(read_only=True, allow_null=True, help_text="The billing address; null: none given.")
    tax_ids = TaxIdOut(many=True, read_only=True)
    tax_exempt = serializers.ChoiceField(choices=TaxExempt.values, read_only=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            "name",
            "external_ref",
            "billing_email",
            "stripe_customer_id",
            "stripe_default_payment_method",
            "can_be_charged_automatically",
            "address",
            "tax_ids",
            "tax_exempt",
            "created_at",
            "updated_at",
        ]


class CustomerFilter(serializers.Serializer[None]):
    external_ref = serializers.CharField(required=False)
    search = serializers.CharField(required=False, help_text="Part of the customer's name.")


class OutcomeTypeOut(serializers.ModelSerializer[OutcomeType]):
    class Meta:
        model = OutcomeType
        fields = list(OutcomeTypeTerms.model_fields)  # every term of an outcome type, as the API takes them
        extra_kwargs = {
            "cap_amount_minor": {
                "help_text": minor_units_help("The most this outcome type bills per period (null: no cap).")
            },
            "natural_key_field": {
                "help_text": "The top-level evidence field holding the natural key: an event without "
                "`natural_key` takes it from evidence.<field>; an event with both is refused if they differ."
            },
        }

    def to_representation(self, instance: OutcomeType) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        data["pricing"] = pricing_as_plain(data["pricing"])
        return data


class ContractVersionOut(serializers.ModelSerializer[ContractVersion]):
    outcome_types = OutcomeTypeOut(many=True, read_only=True)
    locked = serializers.BooleanField(source="is_locked", read_only=True)

    class Meta:
        model = ContractVersion
        fields = [
            "number",
            "effective_from",
            "locked",
            "platform_fee_minor",
            "minimum_commitment_minor",
            "cap_amount_minor",
            "budget_alert_percents",
            "notes",
            "outcome_types",
            "created_at",
        ]
        extra_kwargs = {
            "platform_fee_minor": {"help_text": minor_units_help("A fixed fee per period.")},
            "minimum_commitment_minor": {
                "help_text": minor_units_help("The least a period bills; a shortfall is trued up.")
            },
            "cap_amount_minor": {
                "help_text": minor_units_help("The most the contract bills per period (null: no cap).")
            },
            "budget_alert_percents": {"help_text": BUDGET_ALERTS_HELP},
        }


class ContractOut(serializers.ModelSerializer[Contract]):
    customer_id = serializers.UUIDField(read_only=True)
    versions = ContractVersionOut(many=True, read_only=True)

    class Meta:
        model = Contract
        fields = [
            "id",
            "reference",
            "customer_id",
            "status",
            "currency",
            "timezone",
            "period_unit",
            "period_count",
            "anchor_day",
            "starts_at",
            "ends_at",
            "collection_method",
            "days_until_due",
            "credit_after_payment",
            "withhold_credits_while_overdue",
            "grace_period_hours",
            "approval_threshold_minor",
            "activated_at",
            "terminated_at",
            "created_at",
            "updated_at",
            "versions",
        ]
        extra_kwargs = {
            "approval_threshold_minor": {
                "help_text": minor_units_help(
                    "When set, a draft whose total exceeds this waits for the customer's approval."
                )
            }
        }


class ContractFilter(serializers.Serializer[None]):
    status = serializers.ChoiceField(choices=ContractStatus.choices, required=False)
    customer_id = serializers.UUIDField(required=False)
    currency = serializers.CharField(required=False, max_length=3)
    reference = serializers.CharField(required=False)
    in_force_at = serializers.DateTimeField(
        required=False, help_text="Only contracts in force at this instant."
    )


class InForceQuery(serializers.Serializer[None]):
    at = serializers.DateTimeField(help_text="ISO 8601 instant with offset, e.g. 2026-03-29T01:00:00Z.")


class ApiKeyOut(serializers.ModelSerializer[ApiKey]):
    display = serializers.SerializerMethodField()
    customer_id = serializers.UUIDField(read_only=True, allow_null=True, help_text="Set on a customer's key.")

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "display",
            "customer_id",
            "scope",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]

    def get_display(self, api_key: ApiKey) -> str:
        return f"vrt_{api_key.prefix}_…"


class ApiKeyCreateIn(serializers.Serializer[None]):
    name = serializers.CharField(max_length=100)
    scope = serializers.ChoiceField(choices=ApiKey.Scope.choices, default=ApiKey.Scope.WRITE)


class ApiKeyCreatedOut(ApiKeyOut):
    key = serializers.CharField(help_text="The full key. Shown once: store it now.")

    class Meta(ApiKeyOut.Meta):
        fields = [*ApiKeyOut.Meta.fields, "key"]


class WebhookSecretOut(serializers.Serializer[None]):
    hint = serializers.CharField(help_text="Last characters of the secret.")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)


class WebhookSourceOut(serializers.ModelSerializer[WebhookSource]):
    customer_id = serializers.UUIDField(read_only=True)
    secrets = WebhookSecretOut(many=True, read_only=True)
    endpoint = serializers.SerializerMethodField()
    approval_status = serializers.ChoiceField(
        choices=WebhookSource.Approval.choices,
        read_only=True,
        help_text="Whether this source's events speak for the customer: a customer_system source the "
        "vendor created is awaiting_customer_approval until the customer approves it with its own API "
        "key (POST /api/v1/customer/webhook-sources/{id}/approve, which replaces its secret); its "
        "events are stored but confirm and dispute nothing meanwhile. A vendor_agent source: not_needed.",
    )
    approved_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="Events received from this instant on speak for the customer; null: not approved.",
    )
    approved_by = serializers.CharField(
        read_only=True, help_text='Who approved it ("migration:grandfathered": created before approvals).'
    )

    class Meta:
        model = WebhookSource
        fields = [
            "id",
            "name",
            "kind",
            "customer_id",
            "endpoint",
            "secrets",
            "created_at",
            "revoked_at",
            "approval_status",
            "approved_at",
            "approved_by",
        ]

    def get_endpoint(self, source: WebhookSource) -> str:
        return f"/webhooks/v1/sources/{source.pk}/events"


class WebhookSourceCreateIn(serializers.Serializer[None]):
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=WebhookSource.Kind.choices)
    customer_id = serializers.UUIDField()


class CustomerWebhookSourceCreateIn(serializers.Serializer[None]):
    name = serializers.CharField(max_length=100)


class WebhookSourceCreatedOut(WebhookSourceOut):
    signing_secret = serializers.CharField(help_text="The whsec_… secret. Shown once: store it now.")

    class Meta(WebhookSourceOut.Meta):
        fields = [*WebhookSourceOut.Meta.fields, "signing_secret"]


class RotateSecretIn(serializers.Serializer[None]):
    overlap_seconds = serializers.IntegerField(
        min_value=0,
        max_value=30 * 86400,
        default=86400,
        help_text="How long the current secrets keep verifying beside the new one.",
    )


class RotatedSecretOut(serializers.Serializer[None]):
    signing_secret = serializers.CharField(help_text="The new whsec_… secret. Shown once.")
    webhook_source = WebhookSourceOut()

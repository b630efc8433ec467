"""Input and output of the webhook endpoint API. A signing secret appears only in the answer to a create or
a rotation (`*CreatedOut`, `RotatedWebhookEndpointSecretOut`); every other answer shows its last characters."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from notifications.models import Attempt, Delivery, DeliveryStatus, Endpoint, EndpointSecret

SECRET_HELP = "The whsec_… signing secret. Shown once: store it now."  # noqa: S105 (a help text, not a secret)
EVENT_TYPES_HELP = (
    "Event types this endpoint receives (see the webhooks section); empty: every type its audience "
    "receives. A customer's endpoint may subscribe only to types sent to customers."
)


class WebhookEndpointSecretOut(serializers.ModelSerializer[EndpointSecret]):
    hint = serializers.SerializerMethodField(help_text="The secret's last characters.")

    class Meta:
        model = EndpointSecret
        fields = ["hint", "created_at", "expires_at"]

    def get_hint(self, secret: EndpointSecret) -> str:
        return f"whsec_…{secret.hint}"


class WebhookEndpointOut(serializers.ModelSerializer[Endpoint]):
    customer_id = serializers.UUIDField(
        read_only=True, allow_null=True, help_text="Set: the customer's endpoint, for its events only."
    )
    state = serializers.SerializerMethodField(help_text="`enabled`, or `disabled` after failing too long.")
    secrets = serializers.SerializerMethodField(
        help_text="The secrets that sign now: two during a rotation's overlap."
    )
    event_types = serializers.ListField(child=serializers.CharField(), help_text=EVENT_TYPES_HELP)

    class Meta:
        model = Endpoint
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "customer_id",
            "registered_by",
            "state",
            "disabled_at",
            "disabled_reason",
            "failing_since",
            "consecutive_failures",
            "last_success_at",
            "secrets",
            "created_at",
            "updated_at",
        ]

    def get_state(self, endpoint: Endpoint) -> str:
        return "enabled" if endpoint.is_enabled else "disabled"

    @extend_schema_field(WebhookEndpointSecretOut(many=True))
    def get_secrets(self, endpoint: Endpoint) -> list[dict[str, Any]]:
        now = timezone.now()
        live = [s for s in endpoint.secrets.all() if s.expires_at is None or s.expires_at > now]
        return list(WebhookEndpointSecretOut(live, many=True).data)


class WebhookEndpointCreatedOut(WebhookEndpointOut):
    signing_secret = serializers.CharField(help_text=SECRET_HELP)

    class Meta(WebhookEndpointOut.Meta):
        fields = [*WebhookEndpointOut.Meta.fields, "signing_secret"]


class CustomerWebhookEndpointCreateIn(serializers.Serializer[None]):
    url = serializers.CharField(
        max_length=2000, help_text="An absolute https:// URL (http:// only in development)."
    )
    description = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, default=list, help_text=EVENT_TYPES_HELP
    )


class WebhookEndpointCreateIn(CustomerWebhookEndpointCreateIn):
    customer_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="Register the endpoint for this customer: it receives that customer's events only.",
    )


class WebhookEndpointUpdateIn(serializers.Serializer[None]):
    url = serializers.CharField(max_length=2000, required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, help_text=EVENT_TYPES_HELP
    )


class WebhookEndpointRotateIn(serializers.Serializer[None]):
    overlap_seconds = serializers.IntegerField(
        min_value=0,
        max_value=30 * 86400,
        required=False,
        help_text="How long the current secrets keep signing beside the new one "
        f"(default {settings.WEBHOOKS_OUT_SECRET_OVERLAP_HOURS:g} hours).",
    )


class RotatedWebhookEndpointSecretOut(serializers.Serializer[None]):
    signing_secret = serializers.CharField(help_text="The new whsec_… secret. Shown once.")
    webhook_endpoint = WebhookEndpointOut()


class WebhookAttemptOut(serializers.ModelSerializer[Attempt]):
    class Meta:
        model = Attempt
        fields = ["at", "status_code", "succeeded", "latency_ms", "error", "response_excerpt", "manual"]


class WebhookDeliveryOut(serializers.ModelSerializer[Delivery]):
    webhook_id = serializers.CharField(
        source="event.webhook_id", help_text="The `webhook-id` header: the same on every attempt and resend."
    )
    event_type = serializers.CharField(source="event.type")
    event_created_at = serializers.DateTimeField(source="event.created_at")
    attempt_log = WebhookAttemptOut(many=True, read_only=True, help_text="Every attempt, latest first.")

    class Meta:
        model = Delivery
        fields = [
            "id",
            "webhook_id",
            "event_type",
            "event_created_at",
            "status",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "last_status_code",
            "created_at",
            "attempt_log",
        ]


class WebhookDeliveryFilter(serializers.Serializer[None]):
    status = serializers.ChoiceField(choices=DeliveryStatus.choices, required=False)


class WebhookResendSinceIn(serializers.Serializer[None]):
    since = serializers.DateTimeField(
        help_text="Every event recorded at or after this instant is sent again."
    )


class WebhookResendSinceOut(serializers.Serializer[None]):
    deliveries = serializers.IntegerField(help_text="How many deliveries are now due.")

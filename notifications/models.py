"""Outbound webhooks: endpoints (the vendor's or one customer's), their signing secrets, the outbox of
events, one delivery per event and endpoint, and the log of every attempt."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from contracts.models import Customer, Vendor


class Endpoint(models.Model):
    """A URL that receives signed events: the vendor's (every customer) or one customer's (its contracts)."""

    class Owner(models.TextChoices):
        VENDOR = "vendor", "Vendor"
        CUSTOMER = "customer", "Customer"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="webhook_endpoints")
    # Empty: the vendor's endpoint, for events about all its customers; set: the customer's endpoint,
    # for events about that customer's contracts only, with nothing of the vendor's internals.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, null=True, blank=True, related_name="webhook_endpoints"
    )
    # Who registered it: the vendor (for itself or for a customer) or the customer with its own key.
    registered_by = models.CharField(max_length=8, choices=Owner.choices, default=Owner.VENDOR)
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True, default="")
    # Event types this endpoint receives; empty: every type its audience may receive.
    event_types = models.JSONField(default=list, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True, default="")
    # The current run of failed attempts (none since the last success): when it began, how long it is.
    failing_since = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(registered_by="vendor") | Q(customer__isnull=False),
                name="endpoint_customer_registered_has_customer",
            )
        ]

    def __str__(self) -> str:
        return self.url

    @property
    def is_enabled(self) -> bool:
        return self.disabled_at is None


class EndpointSecret(models.Model):
    """A Standard Webhooks signing secret (`whsec_…`), Fernet-encrypted at rest (core.crypto).

    Every secret whose `expires_at` is empty or in the future signs: during a rotation's overlap each
    delivery carries both signatures, so the receiver may switch to the new secret at any moment.
    """

    id = models.BigAutoField(primary_key=True)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="secrets")
    secret_encrypted = models.TextField()
    hint = models.CharField(max_length=16, help_text="The last characters of the secret, for display.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"whsec_…{self.hint}"


class Event(models.Model):
    """The outbox: one row per published domain event, written in the transaction of the change that
    caused it. The dispatcher fans it out to the matching endpoints (`fanned_out`), then delivers."""

    id = models.BigAutoField(primary_key=True)
    # The `webhook-id` receivers deduplicate by: the same on every attempt and every resend.
    uid = models.UUIDField(default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=64)
    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    customer_id = models.UUIDField(null=True, blank=True)
    contract_id = models.UUIDField(null=True, blank=True)
    object_id = models.CharField(max_length=100)
    data = models.JSONField()
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField()
    # NULL, not "": most events have no key, and the unique index covers only the keyed ones.
    dedup_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    fanned_out = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["vendor", "created_at"], name="event_vendor_created"),
            models.Index(fields=["id"], condition=Q(fanned_out=False), name="event_not_fanned_out"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["dedup_key"], condition=Q(dedup_key__isnull=False), name="event_dedup_key_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.object_id}"

    @property
    def webhook_id(self) -> str:
        return f"msg_{self.uid.hex}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Delivered"
    FAILED = "failed", "Failed (retries exhausted)"
    CANCELLED = "cancelled", "Cancelled (endpoint disabled or deleted)"


class Delivery(models.Model):
    """One event to one endpoint: attempted until a 2xx answer or the retry schedule ends."""

    id = models.BigAutoField(primary_key=True)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # When it is due: the next retry, or, while an attempt is under way, the end of that attempt's lease
    # (a worker killed mid-delivery leaves it due again then: delivered at least once).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    # The next attempt was asked for by a person (a resend, a test event): its log entry says so.
    resend_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="delivery_event_endpoint_unique")
        ]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="delivery_due"),
            models.Index(fields=["endpoint", "-created_at"], name="delivery_endpoint_created"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id} ({self.status})"


class Attempt(models.Model):
    """One HTTP request of a delivery, as the endpoint's log shows it."""

    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    succeeded = models.BooleanField()
    latency_ms = models.PositiveIntegerField()
    # What went wrong without an HTTP answer (timeout, refused, address not allowed), else empty.
    error = models.CharField(max_length=200, blank=True, default="")
    response_excerpt = models.CharField(max_length=1000, blank=True, default="")
    manual = models.BooleanField(default=False, help_text="A resend or test asked for by a person.")

    class Meta:
        indexes = [models.Index(fields=["endpoint", "-at"], name="attempt_endpoint_at")]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.at:%Y-%m-%d %H:%M:%S} ({self.status_code or self.error})"

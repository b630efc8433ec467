"""The raw inbox (deliveries and events, append-only), tamper evidence, and outcomes with their trail.

Raw rows are inserted once and never updated: processing state lives in the link table
(OutcomeEvent), so "not yet processed" is "no link", found by a sweep even if a queue lost a task.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from contracts.models import Contract, Vendor, WebhookSource


class EventKind(models.TextChoices):
    TASK_COMPLETED = "task.completed", "Task completed"
    OUTCOME_CLAIMED = "outcome.claimed", "Outcome claimed"
    OUTCOME_CONFIRMED = "outcome.confirmed", "Outcome confirmed"
    OUTCOME_REVERSED = "outcome.reversed", "Outcome reversed"
    OUTCOME_DISPUTED = "outcome.disputed", "Outcome disputed"


class Delivery(models.Model):
    """One accepted webhook request, stored as received before we answer it."""

    id = models.BigAutoField(primary_key=True)
    source = models.ForeignKey(WebhookSource, on_delete=models.PROTECT, related_name="deliveries")
    webhook_id = models.CharField(max_length=255)
    received_at = models.DateTimeField()
    body = models.BinaryField()
    body_sha256 = models.CharField(max_length=64)
    headers = models.JSONField()
    event_count = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "webhook_id"], name="delivery_webhook_id_unique_per_source"
            )
        ]
        indexes = [models.Index(fields=["source", "-received_at"])]

    def __str__(self) -> str:
        return f"{self.webhook_id} ({self.event_count} events)"


class DeliveryResult(models.Model):
    """The answer we gave a delivery, so a resend of it gets the very same answer."""

    delivery = models.OneToOneField(
        Delivery, on_delete=models.PROTECT, primary_key=True, related_name="result"
    )
    status = models.PositiveSmallIntegerField()
    body = models.JSONField()

    def __str__(self) -> str:
        return f"{self.delivery_id}: {self.status}"


class RawEvent(models.Model):
    """One event of a delivery, as the sender wrote it; unique per (source, event id)."""

    id = models.BigAutoField(primary_key=True)
    source = models.ForeignKey(WebhookSource, on_delete=models.PROTECT, related_name="raw_events")
    delivery = models.ForeignKey(Delivery, on_delete=models.PROTECT, related_name="raw_events")
    event_id = models.CharField(max_length=200)
    body_sha256 = models.CharField(max_length=64)
    payload = models.JSONField()
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="raw_events")
    outcome_type_key = models.CharField(max_length=64)
    natural_key = models.CharField(max_length=200)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "event_id"], name="raw_event_id_unique_per_source")
        ]
        indexes = [models.Index(fields=["contract", "outcome_type_key", "natural_key"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.natural_key} ({self.event_id})"


class TamperEvidence(models.Model):
    """A reused delivery or event id with a different body: refused, and kept as evidence."""

    class Kind(models.TextChoices):
        DELIVERY = "delivery", "Delivery id reused"
        EVENT = "event", "Event id reused"

    id = models.BigAutoField(primary_key=True)
    source = models.ForeignKey(WebhookSource, on_delete=models.PROTECT, related_name="tamper_evidence")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    reused_id = models.CharField(max_length=255)
    received_at = models.DateTimeField()
    body = models.BinaryField()
    body_sha256 = models.CharField(max_length=64)
    original_sha256 = models.CharField(max_length=64)
    headers = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"{self.kind} {self.reused_id}"


class OutcomeState(models.TextChoices):
    RECEIVED = "received", "Received"
    PENDING = "pending", "Pending"
    MATURING = "maturing", "Maturing"
    BILLABLE = "billable", "Billable"
    BILLED = "billed", "Billed"
    REJECTED = "rejected", "Rejected"
    FLAGGED = "flagged", "Flagged"
    DISPUTED = "disputed", "Disputed"
    REVERSED = "reversed", "Reversed"


class Outcome(models.Model):
    """One real-world unit of work: every event sharing (contract, outcome type, natural key)."""

    id = models.BigAutoField(primary_key=True)
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="outcomes")
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="outcomes")
    outcome_type_key = models.CharField(max_length=64)
    natural_key = models.CharField(max_length=200)
    parent_key = models.CharField(max_length=200, blank=True, default="")
    state = models.CharField(max_length=10, choices=OutcomeState.choices, default=OutcomeState.RECEIVED)
    occurred_at = models.DateTimeField(help_text="When the first event says it happened.")
    value_minor = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "outcome_type_key", "natural_key"], name="outcome_natural_key_unique"
            ),
            models.CheckConstraint(condition=Q(state__in=OutcomeState.values), name="outcome_state_valid"),
        ]
        indexes = [
            models.Index(fields=["vendor", "state", "-occurred_at"]),
            models.Index(fields=["contract", "-occurred_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.outcome_type_key}:{self.natural_key} ({self.state})"


class OutcomeEvent(models.Model):
    """Links a raw event to the outcome it was merged into; its existence means "processed"."""

    id = models.BigAutoField(primary_key=True)
    outcome = models.ForeignKey(Outcome, on_delete=models.PROTECT, related_name="event_links")
    raw_event = models.OneToOneField(RawEvent, on_delete=models.PROTECT, related_name="outcome_link")
    linked_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.raw_event_id} → {self.outcome_id}"


class OutcomeTransition(models.Model):
    """One recorded state change of an outcome: from, to, when, who, why."""

    id = models.BigAutoField(primary_key=True)
    outcome = models.ForeignKey(Outcome, on_delete=models.PROTECT, related_name="transitions")
    from_state = models.CharField(max_length=10, blank=True, default="")
    to_state = models.CharField(max_length=10, choices=OutcomeState.choices)
    at = models.DateTimeField()
    actor = models.CharField(max_length=200)
    reason = models.CharField(max_length=64)
    details = models.JSONField(default=dict)

    class Meta:
        indexes = [models.Index(fields=["outcome", "at"])]
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_state or '∅'} → {self.to_state} ({self.reason})"

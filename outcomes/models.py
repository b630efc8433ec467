"""The raw inbox (deliveries and events, append-only), tamper evidence, and outcomes with their trail.

Raw rows are inserted once and never updated: processing state lives in the link table
(OutcomeEvent), so "not yet processed" is "no link", found by a sweep even if a queue lost a task.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from contracts.models import Contract, ContractVersion, Vendor, WebhookSource


class EventKind(models.TextChoices):
    TASK_COMPLETED = "task.completed", "Task completed"
    OUTCOME_CLAIMED = "outcome.claimed", "Outcome claimed"
    OUTCOME_CONFIRMED = "outcome.confirmed", "Outcome confirmed"
    OUTCOME_REVERSED = "outcome.reversed", "Outcome reversed"
    OUTCOME_DISPUTED = "outcome.disputed", "Outcome disputed"


# The raw inbox's references (a delivery's source, an event's source, delivery and contract, an answer's
# delivery) are not foreign keys in the database: only outcomes.ingestion.storage writes these rows,
# after it has authenticated the source and checked the contract, in the statement that inserts the
# delivery they belong to; and they are never deleted (append-only, core/db/append_only.py), nor are
# the sources and contracts they cite (on_delete=PROTECT, which Django's collector still enforces).
# A foreign key would re-check each reference at commit (five lookups, FOR KEY SHARE, per lone event:
# docs/performance.md, "What the schema costs"). Nor do they get their own single-column indexes where
# a composite index (unique per source, the natural key's) already starts with the column.


class Delivery(models.Model):
    """One accepted webhook request, stored as received before we answer it."""

    id = models.BigAutoField(primary_key=True)
    source = models.ForeignKey(
        WebhookSource,
        on_delete=models.PROTECT,
        related_name="deliveries",
        db_constraint=False,
        db_index=False,
    )
    webhook_id = models.CharField(max_length=255)
    received_at = models.DateTimeField()
    body = models.BinaryField()
    body_sha256 = models.CharField(max_length=64)
    headers = models.JSONField()
    event_count = models.PositiveIntegerField()
    # The address it came from (core.networks.sender_address); null for deliveries stored before it was
    # recorded, or when the address was not one.
    sender = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "webhook_id"], name="delivery_webhook_id_unique_per_source"
            )
        ]
        indexes = [
            models.Index(fields=["source", "-received_at"]),
            # The sender rule looks up the vendor's agent deliveries from the batch's few confirming
            # addresses in a window: it reads those addresses' rows, however busy the agents are.
            models.Index(fields=["sender", "received_at"], name="delivery_sender_received"),
        ]

    def __str__(self) -> str:
        return f"{self.webhook_id} ({self.event_count} events)"


class DeliveryResult(models.Model):
    """The answer we gave a delivery, so a resend of it gets the very same answer."""

    delivery = models.OneToOneField(
        Delivery, on_delete=models.PROTECT, primary_key=True, related_name="result", db_constraint=False
    )
    status = models.PositiveSmallIntegerField()
    body = models.JSONField()

    def __str__(self) -> str:
        return f"{self.delivery_id}: {self.status}"


class RawEvent(models.Model):
    """One event of a delivery, as the sender wrote it; unique per (source, event id)."""

    id = models.BigAutoField(primary_key=True)
    source = models.ForeignKey(
        WebhookSource,
        on_delete=models.PROTECT,
        related_name="raw_events",
        db_constraint=False,
        db_index=False,
    )
    delivery = models.ForeignKey(
        Delivery, on_delete=models.PROTECT, related_name="raw_events", db_constraint=False
    )
    event_id = models.CharField(max_length=200)
    body_sha256 = models.CharField(max_length=64)
    payload = models.JSONField()
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    contract = models.ForeignKey(
        Contract, on_delete=models.PROTECT, related_name="raw_events", db_constraint=False, db_index=False
    )
    outcome_type_key = models.CharField(max_length=64)
    natural_key = models.CharField(max_length=200)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "event_id"], name="raw_event_id_unique_per_source")
        ]
        indexes = [
            models.Index(fields=["contract", "outcome_type_key", "natural_key"]),
            # The reversal-anomaly rule counts a window's reversals per contract: only reversals are
            # indexed, so the count reads the window's few rows, however long the history.
            models.Index(
                fields=["contract", "received_at"],
                condition=Q(kind="outcome.reversed"),
                name="raw_event_reversals",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.natural_key} ({self.event_id})"

    @property
    def from_customer(self) -> bool:
        """Whether it speaks for the customer (WebhookSource.speaks_for_customer); reads its source."""
        return self.source.speaks_for_customer(self.received_at)


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
    confirmed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the customer's system of record first confirmed it."
    )
    value_minor = models.BigIntegerField(null=True, blank=True)
    version = models.ForeignKey(
        ContractVersion,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="outcomes",
        help_text="The contract version in force when the outcome occurred (prices and policy).",
    )
    price_percent = models.PositiveSmallIntegerField(
        default=100, help_text="Share of the price billed: below 100 when billed as unverified."
    )
    hold_until = models.DateTimeField(
        null=True, blank=True, help_text="When a time-based rule next needs to look at this outcome."
    )
    billable_at = models.DateTimeField(null=True, blank=True, help_text="When it last became billable.")
    billed_at = models.DateTimeField(null=True, blank=True, help_text="When an invoice first billed it.")
    source = models.ForeignKey(
        WebhookSource,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The source of its first event (rejection-rate statistics are per source).",
    )
    evaluated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "outcome_type_key", "natural_key"], name="outcome_natural_key_unique"
            ),
            models.CheckConstraint(condition=Q(price_percent__lte=100), name="outcome_price_percent_lte_100"),
            models.CheckConstraint(condition=Q(state__in=OutcomeState.values), name="outcome_state_valid"),
        ]
        indexes = [
            models.Index(fields=["vendor", "state", "-occurred_at"]),
            models.Index(fields=["contract", "-occurred_at"]),
            models.Index(
                fields=["hold_until"], condition=Q(hold_until__isnull=False), name="outcome_hold_until_idx"
            ),
            models.Index(
                fields=["contract", "outcome_type_key", "parent_key", "occurred_at"],
                name="outcome_parent_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.outcome_type_key}:{self.natural_key} ({self.state})"

    @property
    def verdict_trail(self) -> list[OutcomeVerdict]:
        """Every verdict recorded on the outcome, oldest first, accepts included (outcomes.verdict_trail):
        from its prefetched `evaluations` and `verdicts` when a page loaded them."""
        from outcomes.verdict_trail import verdict_trail  # it reads these models

        return verdict_trail(evaluations=self.evaluations.all(), verdicts=self.verdicts.all())


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
    # Indexed by (outcome, at) below: a second index on the outcome alone would only cost writes.
    outcome = models.ForeignKey(Outcome, on_delete=models.PROTECT, related_name="transitions", db_index=False)
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


class Decision(models.TextChoices):
    ACCEPT = "accept", "Accept"
    REJECT = "reject", "Reject"
    HOLD = "hold", "Hold"
    FLAG = "flag", "Flag for review"


class OutcomeEvaluation(models.Model):
    """One evaluation that changed an outcome's verdicts: the rules whose verdict changed, in order, and
    the accepts among them compactly (outcomes.verdict_trail); the other verdicts are OutcomeVerdict rows
    pointing here."""

    id = models.BigAutoField(primary_key=True)
    outcome = models.ForeignKey(Outcome, on_delete=models.PROTECT, related_name="evaluations")
    at = models.DateTimeField()
    # The rules whose row (a reject, a hold or a flag) an accept of this evaluation replaced: "+rule," each.
    replaced = models.TextField(blank=True, default="")
    # The verdicts it changed, in order: an accept's [rule, reason, facts, hold_until] (the last ones when
    # there are any), a row's rule; as JSON deflated with a preset dictionary (outcomes.verdict_trail).
    verdicts = models.BinaryField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"evaluation of {self.outcome_id} at {self.at}"


class OutcomeVerdict(models.Model):
    """The result of one rule on one outcome, with the facts it used. A new row only when it changes, and
    only for a reject, a hold or a flag: accepts are kept in their evaluation (OutcomeEvaluation)."""

    id = models.BigAutoField(primary_key=True)
    # Indexed by (outcome, -id) below: an outcome holds a few rows (its rejects, holds and flags; accepts
    # are in its evaluations), so "the latest of a rule" filters those few on `rule` rather than carrying
    # the rule's name in every index entry (~25 bytes per verified outcome); a second index on the
    # outcome alone would only cost writes.
    outcome = models.ForeignKey(Outcome, on_delete=models.PROTECT, related_name="verdicts", db_index=False)
    # The evaluation that wrote it (none for a row recorded otherwise, as tests do).
    evaluation = models.ForeignKey(
        OutcomeEvaluation, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    rule = models.CharField(max_length=40)
    decision = models.CharField(max_length=6, choices=Decision.choices)
    reason = models.CharField(max_length=64)
    facts = models.JSONField(default=dict)
    hold_until = models.DateTimeField(null=True, blank=True)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["outcome", "-id"], name="outcome_verdict_latest")]
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.rule}: {self.decision} ({self.reason})"


class Party(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    VENDOR = "vendor", "Vendor"
    VENDOR_ADMIN = "vendor_admin", "Vendor admin (with justification)"
    # Neutral: Verity's own staff, through the admin, deciding a flag neither party may decide alone.
    OPERATOR = "operator", "Operator (neutral reviewer, with justification)"


class ReviewDecision(models.Model):
    """A human decision on a flag: by the party that does not gain from a wrong answer."""

    class Verdict(models.TextChoices):
        ACCEPT = "accept", "Accept (bill)"
        REJECT = "reject", "Reject (do not bill)"

    id = models.BigAutoField(primary_key=True)
    outcome = models.ForeignKey(Outcome, on_delete=models.PROTECT, related_name="review_decisions")
    flag_reason = models.CharField(max_length=64)
    verdict = models.CharField(max_length=6, choices=Verdict.choices)
    party = models.CharField(max_length=12, choices=Party.choices)
    actor = models.CharField(max_length=200)
    justification = models.TextField()
    evidence = models.JSONField(default=dict)
    at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["outcome", "flag_reason"], name="one_decision_per_flag")
        ]

    def __str__(self) -> str:
        return f"{self.flag_reason}: {self.verdict} by {self.party}"


class Dispute(models.Model):
    """A customer's objection to a billable or billed outcome, answered by the vendor before a deadline."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACCEPTED = "accepted", "Accepted by the vendor (not billed / credited)"
        REJECTED = "rejected", "Rejected by the vendor with evidence (billed)"
        EXPIRED_CREDITED = "expired_credited", "Unanswered: resolved for the customer"
        EXPIRED_BILLED = "expired_billed", "Unanswered: resolved for the vendor"

    id = models.BigAutoField(primary_key=True)
    outcome = models.OneToOneField(Outcome, on_delete=models.PROTECT, related_name="dispute")
    opened_at = models.DateTimeField()
    reason = models.TextField()
    opened_by = models.CharField(max_length=200)
    deadline = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    response = models.TextField(blank=True, default="")
    response_evidence = models.JSONField(default=dict)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["status", "deadline"])]

    def __str__(self) -> str:
        return f"dispute on {self.outcome_id} ({self.status})"


class DisqualifierContest(models.Model):
    """A customer's disqualifier the vendor's own evidence contradicts (an attendance record against a
    no-show): held, neither voided nor clawed back, until the customer answers, a person decides or the
    customer's deadline passes (outcomes.rules.contested_disqualifiers)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open: the customer may answer until the deadline"
        UPHELD = (
            "upheld",
            "Upheld by the customer with evidence: an operator decides (or the vendor concedes)",
        )
        EXPIRED_BILLED = "expired_billed", "Unanswered: the disqualifier is refused (billed)"
        EXPIRED_REVERSED = "expired_reversed", "Unanswered: the disqualifier stands (voided or credited)"

    id = models.BigAutoField(primary_key=True)
    outcome = models.OneToOneField(Outcome, on_delete=models.PROTECT, related_name="disqualifier_contest")
    event_id = models.CharField(max_length=200, help_text="The disqualifying reversal's event id.")
    disqualifier = models.CharField(max_length=64)
    opened_at = models.DateTimeField(help_text="When both sides' evidence had arrived.")
    deadline = models.DateTimeField(help_text="The customer answers before it; silence resolves at it.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    answer = models.TextField(blank=True, default="")
    answer_evidence = models.JSONField(default=dict)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.CharField(max_length=200, blank=True, default="")
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "deadline"])]

    def __str__(self) -> str:
        return f"contested {self.disqualifier} on {self.outcome_id} ({self.status})"


class AuditSample(models.Model):
    """An outcome chosen (unpredictably, by HMAC) for the customer to attest."""

    class Answer(models.TextChoices):
        ATTESTED = "attested", "Attested"
        DENIED = "denied", "Denied"

    outcome = models.OneToOneField(
        Outcome, on_delete=models.PROTECT, primary_key=True, related_name="audit_sample"
    )
    selected_at = models.DateTimeField()
    deadline = models.DateTimeField()
    answer = models.CharField(max_length=8, choices=Answer.choices, blank=True, default="")
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.CharField(max_length=200, blank=True, default="")
    note = models.TextField(blank=True, default="")

    def __str__(self) -> str:
        return f"sample {self.outcome_id}: {self.answer or 'unanswered'}"


class VerifierResult(models.Model):
    """An external verifier's answer on one outcome (rule 6b, outcomes.rules.verifier): pending until it
    answers; its failures (timeouts, errors, bad signatures) counted, each retried later, never accepted."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the verifier"
        ACCEPT = "accept", "Accepted by the verifier"
        REJECT = "reject", "Rejected by the verifier"
        FLAG = "flag", "Flagged by the verifier"
        UNAVAILABLE = "unavailable", "The verifier failed too often"

    id = models.BigAutoField(primary_key=True)
    outcome = models.ForeignKey(Outcome, on_delete=models.PROTECT, related_name="verifier_results")
    verifier = models.CharField(max_length=40)  # its name in settings.VERIFIERS
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    version = models.CharField(max_length=64, blank=True, default="")  # as the verifier reported it
    reasons = models.JSONField(default=list)
    failures = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True, default="")
    requested_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["outcome", "verifier"], name="one_result_per_verifier")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="verifier_result_due",
                condition=models.Q(status="pending"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.verifier} on {self.outcome_id}: {self.status}"


class CapCounter(models.Model):
    """One row per (contract, outcome type, period): the lock that serializes cap checks."""

    id = models.BigAutoField(primary_key=True)
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="cap_counters")
    outcome_type_key = models.CharField(max_length=64)
    period_start = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "outcome_type_key", "period_start"], name="cap_counter_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.contract_id} {self.outcome_type_key} {self.period_start:%Y-%m-%d}"


class OutcomeDayCount(models.Model):
    """Outcomes per (contract, outcome type, UTC day they occurred), and how many the customer confirmed.

    Derived data, kept in the transaction that changes what it counts (outcomes.counters): the velocity
    and suppression statistics read ~30 of these rows per contract instead of a month of outcomes.
    """

    id = models.BigAutoField(primary_key=True)
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="+")
    outcome_type_key = models.CharField(max_length=64)
    day = models.DateField()
    outcomes = models.IntegerField(default=0)
    confirmed = models.IntegerField(default=0, help_text="Of those, with a confirmed_at.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "outcome_type_key", "day"], name="outcome_day_count_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.contract_id} {self.outcome_type_key} {self.day}: {self.outcomes} ({self.confirmed})"


class SourceDayCount(models.Model):
    """Outcomes per (source of their first event, UTC day they were created), and how many are rejected
    now: the rejection-rate statistic. Kept like OutcomeDayCount."""

    id = models.BigAutoField(primary_key=True)
    source = models.ForeignKey(WebhookSource, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    outcomes = models.IntegerField(default=0)
    rejected = models.IntegerField(default=0, help_text="Of those, in state rejected.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "day"], name="source_day_count_unique")]

    def __str__(self) -> str:
        return f"{self.source_id} {self.day}: {self.outcomes} ({self.rejected} rejected)"


class OutcomeStateDayCount(models.Model):
    """Outcomes per (contract, outcome type, UTC day they occurred, state): the dashboards' outcomes by
    state in a period, their charts per day and the unit caps' use, read in rows per day instead of a
    period's outcomes. Kept like OutcomeDayCount (outcomes.counters)."""

    id = models.BigAutoField(primary_key=True)
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="+")
    outcome_type_key = models.CharField(max_length=64)
    day = models.DateField()
    state = models.CharField(max_length=10, choices=OutcomeState.choices)
    outcomes = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "day", "outcome_type_key", "state"], name="outcome_state_day_count_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.contract_id} {self.outcome_type_key} {self.day} {self.state}: {self.outcomes}"


class BillableCount(models.Model):
    """The outcomes an invoice has still to bill (billable, never billed) per (contract, version,
    outcome type, share of the price), with the sum of their reported values: what rating needs to
    price them without reading them (settlement's preview of the period's invoice). Kept like
    OutcomeDayCount (outcomes.counters)."""

    id = models.BigAutoField(primary_key=True)
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(ContractVersion, on_delete=models.CASCADE, related_name="+")
    outcome_type_key = models.CharField(max_length=64)
    price_percent = models.PositiveSmallIntegerField()
    outcomes = models.IntegerField(default=0)
    value_minor = models.BigIntegerField(default=0, help_text="The sum of their reported values.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "version", "outcome_type_key", "price_percent"],
                name="billable_count_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.contract_id} v{self.version_id} {self.outcome_type_key} {self.price_percent}%: {self.outcomes}"


class PricedDayCount(models.Model):
    """Outcomes billable or billed per (contract, UTC day of occurred_at, outcome type, version, share of
    the price), with the sum of their reported values: what the customer's amount cap (rule 11a) prices
    for a period, read in rows per day instead of the period's outcomes (the customer's overview,
    outcomes.services.cap_amounts.period_amounts_counted). Kept like OutcomeDayCount (outcomes.counters)."""

    id = models.BigAutoField(primary_key=True)
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    outcome_type_key = models.CharField(max_length=64)
    version = models.ForeignKey(ContractVersion, on_delete=models.CASCADE, related_name="+")
    price_percent = models.PositiveSmallIntegerField()
    outcomes = models.IntegerField(default=0)
    value_minor = models.BigIntegerField(default=0, help_text="The sum of their reported values.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "day", "outcome_type_key", "version", "price_percent"],
                name="priced_day_count_unique",
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.contract_id} {self.day} {self.outcome_type_key} v{self.version_id} "
            f"{self.price_percent}%: {self.outcomes}"
        )


class DisputeAttachment(models.Model):
    """A file the customer gave as evidence with a dispute: kept in the default storage under a random
    name (never the name it came with), its type found from its first bytes, its size and SHA-256 kept;
    served back only to the customer's and the vendor's members, as a download."""

    id = models.BigAutoField(primary_key=True)
    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="attachments")
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    file = models.FileField(upload_to="dispute-evidence/", max_length=255)
    uploaded_by = models.CharField(max_length=200)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.original_name} on dispute {self.dispute_id}"

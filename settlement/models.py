"""Invoices, their lines and the outcomes each line bills; the credit ledger; Stripe progress markers.

Money is integer minor units of the contract currency. A draft invoice is rebuilt deterministically
until it is finalized; a finalized invoice is never edited (later corrections are credits on the
next one). Every Stripe call is bracketed by a SettlementStep row (STARTED, then DONE) whose id is in
the idempotency key, so an interrupted settlement can be found and resumed without duplicates.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from contracts.models import Contract, ContractVersion, Vendor
from contracts.periods import period_label
from outcomes.models import Outcome


class ApprovalStatus(models.TextChoices):
    """A draft above the contract's approval threshold waits for the customer's approval of its total."""

    NOT_REQUIRED = "not_required", "Not required"
    PENDING = "pending", "Waiting for the customer's approval"
    APPROVED = "approved", "Approved by the customer"


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft (open for late events and review)"
    FINALIZED = "finalized", "Finalized (being collected)"
    OPEN = "open", "Open in Stripe"
    PAID = "paid", "Paid"
    PAYMENT_FAILED = "payment_failed", "Payment failed"
    VOID = "void", "Void"
    UNCOLLECTIBLE = "uncollectible", "Uncollectible"


# How far along collection an invoice is: a status only ever moves to a higher rank (a late or
# replayed Stripe event cannot undo a payment, a failure cannot reopen a paid invoice).
STATUS_RANK = {
    InvoiceStatus.DRAFT: 0,
    InvoiceStatus.FINALIZED: 1,
    InvoiceStatus.OPEN: 2,
    InvoiceStatus.PAYMENT_FAILED: 3,
    InvoiceStatus.UNCOLLECTIBLE: 4,
    InvoiceStatus.PAID: 5,
    InvoiceStatus.VOID: 5,
}


# Still waiting for a payment (a void or uncollectible invoice is no longer collected): past its due date,
# such an invoice is overdue.
UNPAID_STATUSES = (InvoiceStatus.FINALIZED, InvoiceStatus.OPEN, InvoiceStatus.PAYMENT_FAILED)


class SettlementStatus(models.TextChoices):
    """Where Verity's own settlement steps stand (never moved by a webhook): what the periodic job resumes."""

    PENDING = "pending", "To do on Stripe"
    DONE = "done", "Handed to Stripe's collection"
    BLOCKED = "blocked", "Blocked: Stripe refused a step (needs a person)"
    NOT_REQUIRED = "not_required", "Nothing to collect"
    ABANDONED = "abandoned", "Abandoned by an operator"


class Invoice(models.Model):
    id = models.BigAutoField(primary_key=True)
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="invoices")
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="invoices")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT)
    number = models.PositiveIntegerField(
        null=True, blank=True, help_text="Per vendor, gapless, set at finalization."
    )
    total_minor = models.BigIntegerField(default=0)
    finalize_after = models.DateTimeField(help_text="End of the grace period: then the draft is finalized.")
    held_over_cap = models.JSONField(default=dict, help_text="What exceeded an amount cap: held, not billed.")
    built_at = models.DateTimeField()
    approval_status = models.CharField(
        max_length=12, choices=ApprovalStatus.choices, default=ApprovalStatus.NOT_REQUIRED
    )
    approved_total_minor = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="The total the customer approved; another total needs approval again.",
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.CharField(max_length=200, blank=True, default="")
    contested_at = models.DateTimeField(
        null=True, blank=True, help_text="When the customer last contested the draft waiting for approval."
    )
    contested_by = models.CharField(max_length=200, blank=True, default="")
    contest_reason = models.TextField(
        blank=True, default="", help_text="Why the customer contests the draft."
    )
    finalized_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    stripe_customer_id = models.CharField(max_length=100, blank=True, default="")
    stripe_invoice_id = models.CharField(max_length=100, blank=True, default="")
    stripe_status = models.CharField(max_length=32, blank=True, default="")
    stripe_hosted_url = models.URLField(
        max_length=500, blank=True, default="", help_text="Stripe's page where the customer sees and pays it."
    )
    due_at = models.DateTimeField(
        null=True, blank=True, help_text="Stripe's due date (invoices sent to the customer to pay)."
    )
    stripe_error = models.TextField(blank=True, default="")
    settlement_status = models.CharField(
        max_length=12, choices=SettlementStatus.choices, default=SettlementStatus.PENDING
    )
    tax_minor = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="Tax Stripe Tax added on top of the total (None: no tax applied); Stripe's total is the sum.",
    )
    payment_error = models.TextField(
        blank=True, default="", help_text="Why the last payment attempt failed (Stripe's words)."
    )
    payment_attempts = models.PositiveIntegerField(default=0)
    next_payment_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When Stripe's automatic collection tries again."
    )
    overdue_at = models.DateTimeField(null=True, blank=True, help_text="When Stripe reported it overdue.")
    stripe_event_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Creation time of the newest Stripe event applied (orders late deliveries).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "period_start"], name="invoice_unique_per_contract_period"
            ),
            models.UniqueConstraint(
                fields=["vendor", "number"],
                condition=Q(number__isnull=False),
                name="invoice_number_unique_per_vendor",
            ),
            models.CheckConstraint(
                condition=Q(period_end__gt=models.F("period_start")), name="invoice_period_ordered"
            ),
            models.CheckConstraint(condition=Q(status__in=InvoiceStatus.values), name="invoice_status_valid"),
        ]
        indexes = [
            models.Index(fields=["status", "finalize_after"]),
            models.Index(fields=["settlement_status"], name="invoice_settlement_status"),
            models.Index(fields=["vendor", "-period_start"]),
        ]
        ordering = ["-period_start", "-id"]

    def __str__(self) -> str:
        return f"{self.contract_id} {self.period_start:%Y-%m-%d} ({self.status})"

    @property
    def is_draft(self) -> bool:
        return self.status == InvoiceStatus.DRAFT

    @property
    def period_label(self) -> str:
        """The period as the contract's parties read it: local dates in its zone, the end included."""
        return period_label(self.period_start, self.period_end, self.contract.timezone)


class LineKind(models.TextChoices):
    USAGE = "usage", "Outcomes"
    PLATFORM_FEE = "platform_fee", "Platform fee"
    MINIMUM_TRUE_UP = "minimum_true_up", "Minimum commitment true-up"
    CLAWBACK = "clawback", "Credit: outcomes reversed after billing"
    AUDIT_ADJUSTMENT = "audit_adjustment", "Credit: audit sampling adjustment"
    CREDIT_APPLIED = "credit_applied", "Credit balance applied"


class InvoiceLine(models.Model):
    id = models.BigAutoField(primary_key=True)
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=LineKind.choices)
    description = models.CharField(max_length=300)
    outcome_type_key = models.CharField(max_length=64, blank=True, default="")
    version = models.ForeignKey(
        ContractVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    tier = models.PositiveSmallIntegerField(null=True, blank=True)
    quantity = models.BigIntegerField(default=0)
    unit_price = models.CharField(max_length=40, blank=True, default="", help_text="Decimal, major units.")
    amount_minor = models.BigIntegerField()
    details = models.JSONField(default=dict)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["invoice", "position"], name="line_position_unique")]
        ordering = ["invoice", "position"]

    def __str__(self) -> str:
        return f"{self.description}: {self.amount_minor}"


class LineOutcome(models.Model):
    """Which outcomes a line bills or credits, with each one's unrounded share of the line."""

    id = models.BigAutoField(primary_key=True)
    line = models.ForeignKey(InvoiceLine, on_delete=models.CASCADE, related_name="outcome_links")
    outcome = models.ForeignKey(Outcome, on_delete=models.PROTECT, related_name="line_links")
    share_minor = models.CharField(
        max_length=48, help_text="Decimal minor units, before the line's rounding."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["line", "outcome"], name="line_outcome_unique")]

    def __str__(self) -> str:
        return f"{self.line_id} ← {self.outcome_id}"


class CreditEntry(models.Model):
    """The contract's credit balance ledger: + when an invoice's credits exceed its charges, - when applied."""

    id = models.BigAutoField(primary_key=True)
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="credit_entries")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_entries")
    amount_minor = models.BigIntegerField()
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["invoice"], name="one_credit_entry_per_invoice")]

    def __str__(self) -> str:
        return f"{self.contract_id} {self.amount_minor:+d}"


class InvoiceCounter(models.Model):
    """The next invoice number of a vendor; locked while a number is taken, so numbers have no gaps."""

    vendor = models.OneToOneField(Vendor, on_delete=models.CASCADE, primary_key=True, related_name="+")
    next_number = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"{self.vendor_id}: next {self.next_number}"


class SettlementStep(models.Model):
    """One Stripe call of an invoice's settlement: STARTED before the call, DONE with the Stripe id after."""

    class Status(models.TextChoices):
        STARTED = "started", "Started"
        DONE = "done", "Done"
        FAILED = "failed", "Failed (4xx: needs a person)"

    id = models.BigAutoField(primary_key=True)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="settlement_steps")
    step = models.CharField(max_length=48)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.STARTED)
    idempotency_key = models.CharField(max_length=200)
    key_version = models.PositiveSmallIntegerField(
        default=1, help_text="Bumped only when Stripe provably made nothing under the previous key."
    )
    params = models.JSONField(
        default=dict, help_text="The call's parameters, frozen at its first attempt and replayed exactly."
    )
    stripe_id = models.CharField(max_length=100, blank=True, default="")
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["invoice", "step"], name="settlement_step_unique")]

    def __str__(self) -> str:
        return f"{self.invoice_id}:{self.step} {self.status}"


class CreditNoteStatus(models.TextChoices):
    PENDING = "pending", "To issue on Stripe"
    ISSUED = "issued", "Issued on Stripe"
    NOT_REQUIRED = "not_required", "No credit due"
    VOID = "void", "Void"
    WITHHELD = "withheld", "Withheld: the customer has an overdue invoice"


class CreditNote(models.Model):
    """A credit against a finalized invoice: outcomes it billed were reversed since. Its amount is what
    re-rating the invoice's period without them (tiers, free units, minimums, caps) takes off, less
    earlier credit notes; on Stripe it is a credit note against the original Stripe invoice."""

    class Method(models.TextChoices):
        PRE_PAYMENT = "pre_payment", "Lowers what is due"
        CUSTOMER_BALANCE = "customer_balance", "Credited to the customer's Stripe balance"
        REFUND = "refund", "Refunded"

    id = models.BigAutoField(primary_key=True)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    amount_minor = models.BigIntegerField()
    status = models.CharField(max_length=12, choices=CreditNoteStatus.choices)
    method = models.CharField(max_length=16, choices=Method.choices, blank=True, default="")
    reason = models.CharField(max_length=300)
    details = models.JSONField(
        default=dict, help_text="The re-rating: charges, total without, credited before."
    )
    stripe_credit_note_id = models.CharField(max_length=100, blank=True, default="")
    withheld_reason = models.CharField(
        max_length=300,
        blank=True,
        default="",
        help_text="Why it waited before Stripe (the customer's overdue invoices); kept once released.",
    )
    withheld_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(
        null=True, blank=True, help_text="When the overdue invoices were paid and it went on to be issued."
    )
    created_at = models.DateTimeField()
    issued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gte=0), name="credit_note_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(status__in=CreditNoteStatus.values), name="credit_note_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["status"], name="credit_note_status")]
        ordering = ["invoice", "id"]

    def __str__(self) -> str:
        return f"{self.invoice_id} -{self.amount_minor} ({self.status})"


class CreditNoteOutcome(models.Model):
    """A reversed outcome, credited once: by the one credit note that took it into account."""

    id = models.BigAutoField(primary_key=True)
    credit_note = models.ForeignKey(CreditNote, on_delete=models.CASCADE, related_name="outcome_links")
    outcome = models.OneToOneField(Outcome, on_delete=models.PROTECT, related_name="credit_link")

    def __str__(self) -> str:
        return f"{self.credit_note_id} ← {self.outcome_id}"


class InvoiceShareLink(models.Model):
    """A read-only, expiring, revocable link to one invoice's evidence, for an auditor without an account.

    The link reads `/shared/invoices/vsl_<prefix>_<secret>/`; as for an API key, only a SHA-256 hash of
    the secret is stored and the visible prefix finds the row. Made by the vendor or the customer.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="share_links")
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    label = models.CharField(
        max_length=200, blank=True, default="", help_text="Who it is for, e.g. the auditor."
    )
    created_by = models.CharField(max_length=200, help_text="The audit actor who made it.")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=200, blank=True, default="")
    last_viewed_at = models.DateTimeField(null=True, blank=True)
    view_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")), name="share_link_expires_after_creation"
            )
        ]
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return f"{self.invoice_id}: vsl_{self.prefix}_…"


class StripeConnection(models.Model):
    """Which Stripe account a vendor settles in. Without one, the deployment's own key (STRIPE_API_KEY):
    a single-vendor deployment and `make run`.

    - own_account: the vendor's restricted secret key (`rk_…`/`sk_…`) and its webhook signing secret,
      both Fernet-encrypted at rest (core.crypto), never shown again after they are entered;
    - connected_account: a connected account id (`acct_…`) under the deployment's platform key
      (STRIPE_API_KEY), every call sent with `Stripe-Account`; its events come to the platform's
      Connect endpoint, signed with STRIPE_CONNECT_WEBHOOK_SECRET.
    """

    class Mode(models.TextChoices):
        OWN_ACCOUNT = "own_account", "The vendor's own Stripe account (its key)"
        CONNECTED_ACCOUNT = "connected_account", "A connected account under the platform"

    vendor = models.OneToOneField(Vendor, on_delete=models.CASCADE, related_name="stripe_connection")
    mode = models.CharField(max_length=20, choices=Mode.choices)
    account_id = models.CharField(max_length=100, blank=True, default="", help_text="acct_…, as Stripe says.")
    account_name = models.CharField(
        max_length=200,
        blank=True,
        default="",
        help_text="The account's business name, as Stripe said at the last check.",
    )
    account_country = models.CharField(max_length=2, blank=True, default="")
    secret_key_encrypted = models.TextField(blank=True, default="")
    secret_key_hint = models.CharField(max_length=12, blank=True, default="", help_text="The key's last 4.")
    webhook_secret_encrypted = models.TextField(blank=True, default="")
    tax_enabled = models.BooleanField(
        default=False, help_text="Stripe Tax computes tax on the vendor's invoices (automatic_tax)."
    )
    checked_at = models.DateTimeField(null=True, blank=True)
    check_error = models.TextField(blank=True, default="")
    last_event_at = models.DateTimeField(
        null=True, blank=True, help_text="When a signed Stripe event of this account last arrived."
    )
    connected_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(mode__in=["own_account", "connected_account"]),
                name="stripe_connection_mode_valid",
            ),
            models.CheckConstraint(
                condition=Q(mode="own_account", secret_key_encrypted__gt="", webhook_secret_encrypted__gt="")
                | Q(mode="connected_account", account_id__startswith="acct_"),
                name="stripe_connection_complete",
            ),
            models.UniqueConstraint(
                fields=["account_id"], condition=~Q(account_id=""), name="stripe_connection_account_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vendor_id}: {self.mode} {self.account_id}"


class StripeEvent(models.Model):
    """A Stripe webhook event, stored raw before processing; its id makes duplicates harmless."""

    id = models.CharField(max_length=100, primary_key=True)
    type = models.CharField(max_length=100)
    account = models.CharField(
        max_length=100,
        blank=True,
        default="",
        help_text="The Stripe account it came from ('' = the deployment's).",
    )
    payload = models.JSONField()
    created = models.DateTimeField(help_text="Stripe's creation time: orders out-of-order deliveries.")
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    def __str__(self) -> str:
        return f"{self.id} {self.type}"

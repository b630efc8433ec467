"""Tenancy (vendors, members, customers), credentials (API keys, webhook sources) and contracts.

Contracts are versioned: terms live in a ContractVersion with `effective_from`; an outcome is
priced and verified by the version in force when it happened (see selectors.contract_version_in_force).
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Vendor(models.Model):
    """An organization selling outcomes; every other object hangs off one vendor."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    # The seller on its invoices (validated by contracts.billing_details, as a customer's): the address
    # (line1, line2, city, state, postal_code, country) and tax ids ({"type", "value"}).
    address = models.JSONField(null=True, blank=True, default=None)
    tax_ids = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    VIEWER = "viewer", "Viewer"


class Membership(models.Model):
    """A user's role in a vendor. A user belongs to at most one vendor."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} @ {self.vendor} ({self.role})"

    @property
    def can_write(self) -> bool:
        return self.role in (Role.OWNER, Role.ADMIN)


class TaxExempt(models.TextChoices):
    """Stripe's `tax_exempt` on a customer: whether Stripe Tax charges them tax."""

    NONE = "none", "Not exempt"
    EXEMPT = "exempt", "Exempt"
    REVERSE = "reverse", "Reverse charge"


class Customer(models.Model):
    """A buyer of one vendor's agent; its systems post outcome events through webhook sources."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="customers")
    name = models.CharField(max_length=200)
    external_ref = models.CharField(max_length=100)
    billing_email = models.EmailField()
    stripe_customer_id = models.CharField(max_length=100, blank=True, default="")
    # The payment method Stripe charges this customer's invoices with (its invoice_settings default, as
    # last read from Stripe); empty: Stripe cannot charge them automatically.
    stripe_default_payment_method = models.CharField(max_length=100, blank=True, default="")
    # What Stripe Tax needs (validated by contracts.billing_details): the billing address (line1, line2, city,
    # state, postal_code, country; null: none given), tax ids ([{"type": "eu_vat", "value": "DE123456789"}])
    # and whether tax is charged (reverse: the customer accounts for it).
    address = models.JSONField(null=True, blank=True, default=None)
    tax_ids = models.JSONField(default=list, blank=True)
    tax_exempt = models.CharField(max_length=7, choices=TaxExempt.choices, default=TaxExempt.NONE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["vendor", "external_ref"], name="customer_external_ref_unique_per_vendor"
            ),
            models.CheckConstraint(
                condition=Q(tax_exempt__in=TaxExempt.values), name="customer_tax_exempt_valid"
            ),
            # One Stripe customer pays for one Verity customer: linking another vendor's would charge its card.
            models.UniqueConstraint(
                fields=["stripe_customer_id"],
                condition=~Q(stripe_customer_id=""),
                name="customer_stripe_customer_id_unique",
            ),
        ]
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def can_be_charged_automatically(self) -> bool:
        return bool(self.stripe_customer_id and self.stripe_default_payment_method)


class CustomerRole(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    APPROVER = "approver", "Approver"
    ADMIN = "admin", "Admin"


class CustomerMembership(models.Model):
    """A person's role at one of a vendor's customers, for the customer portal (/customer/). Unlike a
    vendor's Membership, a person may belong to customers of several vendors (and to a vendor's team)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer_memberships"
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=CustomerRole.choices, default=CustomerRole.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "customer"], name="customer_membership_unique"),
            models.CheckConstraint(
                condition=Q(role__in=CustomerRole.values), name="customer_membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.customer} ({self.role})"

    @property
    def can_write(self) -> bool:
        """A viewer only looks; approvers and admins act for the customer."""
        return self.role != CustomerRole.VIEWER


class ApiKey(models.Model):
    """A vendor's REST API credential. Only a SHA-256 hash of the secret part is stored.

    The full key reads `vrt_<prefix>_<secret>`; the prefix is visible and finds the row.
    """

    class Scope(models.TextChoices):
        WRITE = "write", "Read and write"
        READ = "read", "Read only"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    scope = models.CharField(max_length=5, choices=Scope.choices, default=Scope.WRITE)
    customer = models.ForeignKey(
        "Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="api_keys",
        help_text="Set for a customer's key: it reaches only /api/v1/customer/ and that customer's data.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return f"{self.name} (vrt_{self.prefix}_…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class WebhookSource(models.Model):
    """A system that posts signed outcome events: a customer's system of record or the vendor's agent.

    A customer's system of record speaks for the customer (its confirmations confirm, its disputes
    dispute) only once the customer has approved it: at creation when the customer creates it with its
    own API key; otherwise when the customer approves it, which replaces the secrets the vendor has seen.
    """

    class Kind(models.TextChoices):
        CUSTOMER_SYSTEM = "customer_system", "Customer system"
        VENDOR_AGENT = "vendor_agent", "Vendor agent"

    class Approval(models.TextChoices):
        """Whether its events speak for the customer (approval_status)."""

        APPROVED = "approved", "Approved by the customer"
        AWAITING = "awaiting_customer_approval", "Awaiting the customer's approval"
        NOT_NEEDED = "not_needed", "Not needed (the vendor's agent)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="webhook_sources")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="webhook_sources")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="From when the events of this customer's system of record speak for the customer; "
        "empty: awaiting the customer's approval.",
    )
    approved_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="customer_system") | Q(approved_at__isnull=True),
                name="webhook_source_only_customer_system_approved",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def awaits_customer_approval(self) -> bool:
        return self.kind == self.Kind.CUSTOMER_SYSTEM and self.approved_at is None

    @property
    def approval_status(self) -> str:
        """An Approval: the vendor's agent speaks for the vendor, so needs none."""
        if self.kind != self.Kind.CUSTOMER_SYSTEM:
            return self.Approval.NOT_NEEDED
        return self.Approval.AWAITING if self.approved_at is None else self.Approval.APPROVED

    def speaks_for_customer(self, received_at: dt.datetime) -> bool:
        """Whether an event received at `received_at` speaks for the customer: only a customer's system of
        record does, and only from its approval on (before it, the vendor knew a secret that signed it)."""
        return (
            self.kind == self.Kind.CUSTOMER_SYSTEM
            and self.approved_at is not None
            and received_at >= self.approved_at
        )


class WebhookSecret(models.Model):
    """A Standard Webhooks signing secret (`whsec_…`), Fernet-encrypted at rest.

    A secret verifies while `expires_at` is empty or in the future; rotation gives the old
    secrets an expiry (the overlap) and adds a new one.
    """

    id = models.BigAutoField(primary_key=True)
    source = models.ForeignKey(WebhookSource, on_delete=models.CASCADE, related_name="secrets")
    secret_encrypted = models.TextField()
    hint = models.CharField(max_length=16, help_text="The last characters of the secret, for display.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"whsec_…{self.hint}"


class CollectionMethod(models.TextChoices):
    CHARGE_AUTOMATICALLY = "charge_automatically", "Charge automatically"
    SEND_INVOICE = "send_invoice", "Send invoice"


class CreditAfterPayment(models.TextChoices):
    """Where a credit for outcomes reversed after their invoice was paid goes (on Stripe)."""

    CUSTOMER_BALANCE = "customer_balance", "To the customer's balance (taken off the next invoice)"
    REFUND = "refund", "Refunded to the customer"


class PeriodUnit(models.TextChoices):
    MONTH = "month", "Month"


class ContractStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    TERMINATED = "terminated", "Terminated"


class Contract(models.Model):
    """Binds one vendor and one customer; its terms live in versions."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="contracts")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="contracts")
    reference = models.CharField(
        max_length=100, help_text="The vendor's own name for the contract; events cite it."
    )
    currency = models.CharField(max_length=3, help_text="ISO 4217 code, upper case.")
    timezone = models.CharField(max_length=64, help_text="IANA zone; periods are computed in it.")
    period_unit = models.CharField(max_length=10, choices=PeriodUnit.choices, default=PeriodUnit.MONTH)
    period_count = models.PositiveSmallIntegerField(default=1)
    anchor_day = models.PositiveSmallIntegerField(
        default=1,
        help_text="Day of month a period starts on; 29-31 fall back to the month's last day.",
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    collection_method = models.CharField(
        max_length=24,
        choices=CollectionMethod.choices,
        default=CollectionMethod.CHARGE_AUTOMATICALLY,
    )
    days_until_due = models.PositiveSmallIntegerField(null=True, blank=True)
    credit_after_payment = models.CharField(
        max_length=16,
        choices=CreditAfterPayment.choices,
        default=CreditAfterPayment.CUSTOMER_BALANCE,
        help_text="Credits for a paid invoice: to the customer's balance, or refunded. Always refunded once "
        "the contract has ended.",
    )
    withhold_credits_while_overdue = models.BooleanField(
        default=True,
        # Raw inserts (the benchmarks' bulk loader) name their columns: the database holds the default too.
        db_default=True,
        help_text="Credits that would leave as a refund or a balance wait while the customer has an overdue "
        "invoice with the vendor, and are issued once it is paid.",
    )
    grace_period_hours = models.PositiveIntegerField(default=72)
    approval_threshold_minor = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text="When set, a draft whose total exceeds this waits for the customer's approval.",
    )
    status = models.CharField(max_length=12, choices=ContractStatus.choices, default=ContractStatus.DRAFT)
    activated_at = models.DateTimeField(null=True, blank=True)
    terminated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["vendor", "reference"], name="contract_reference_unique_per_vendor"
            ),
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=models.F("starts_at")),
                name="contract_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(anchor_day__gte=1) & Q(anchor_day__lte=31),
                name="contract_anchor_day_1_31",
            ),
            models.CheckConstraint(
                condition=Q(period_count__gte=1) & Q(period_count__lte=12),
                name="contract_period_count_1_12",
            ),
            models.CheckConstraint(
                condition=(
                    Q(collection_method=CollectionMethod.SEND_INVOICE, days_until_due__isnull=False)
                    | Q(
                        collection_method=CollectionMethod.CHARGE_AUTOMATICALLY,
                        days_until_due__isnull=True,
                    )
                ),
                name="contract_days_until_due_iff_send_invoice",
            ),
            models.CheckConstraint(
                condition=Q(status__in=ContractStatus.values), name="contract_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["vendor", "status"])]
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return self.reference


class ContractVersion(models.Model):
    """One set of terms of a contract, in force from `effective_from` until the next version.

    Editable only while the contract is a draft; `locked_at` is set on activation (or at creation
    for an amendment) and the database refuses changes through the services from then on.
    """

    id = models.BigAutoField(primary_key=True)
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    effective_from = models.DateTimeField()
    platform_fee_minor = models.BigIntegerField(default=0)
    minimum_commitment_minor = models.BigIntegerField(default=0)
    cap_amount_minor = models.BigIntegerField(null=True, blank=True)
    budget_alert_percents = models.JSONField(default=list)
    notes = models.TextField(blank=True, default="")
    locked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contract", "number"], name="version_number_unique"),
            models.UniqueConstraint(
                fields=["contract", "effective_from"], name="version_effective_from_unique"
            ),
            models.CheckConstraint(condition=Q(platform_fee_minor__gte=0), name="version_platform_fee_gte_0"),
            models.CheckConstraint(
                condition=Q(minimum_commitment_minor__gte=0),
                name="version_minimum_commitment_gte_0",
            ),
            models.CheckConstraint(
                condition=Q(cap_amount_minor__isnull=True) | Q(cap_amount_minor__gt=0),
                name="version_cap_amount_gt_0",
            ),
        ]
        ordering = ["contract", "number"]

    def __str__(self) -> str:
        return f"{self.contract} v{self.number}"

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None


class BillingBasis(models.TextChoices):
    PER_TASK = "per_task", "Per task"
    PER_OUTCOME = "per_outcome", "Per outcome"


class PricingModel(models.TextChoices):
    PER_UNIT = "per_unit", "Per unit"
    GRADUATED = "graduated", "Graduated tiers"
    VOLUME = "volume", "Volume tiers"
    PACKAGE = "package", "Package"
    PERCENTAGE = "percentage", "Percentage of value"


class OutcomeType(models.Model):
    """A billable kind of result in one contract version, with its price and verification policy.

    `pricing` and `verification_policy` hold the validated, normalized parameters written by
    contracts.terms (prices as Decimal strings in major units, amounts as integer minor units).
    """

    id = models.BigAutoField(primary_key=True)
    version = models.ForeignKey(ContractVersion, on_delete=models.CASCADE, related_name="outcome_types")
    key = models.CharField(max_length=64)
    description = models.CharField(max_length=300, blank=True, default="")
    natural_key_field = models.CharField(max_length=64)
    billing_basis = models.CharField(max_length=12, choices=BillingBasis.choices)
    pricing_model = models.CharField(max_length=12, choices=PricingModel.choices)
    pricing = models.JSONField()
    free_units = models.PositiveIntegerField(default=0)
    cap_units = models.PositiveIntegerField(null=True, blank=True)
    cap_amount_minor = models.BigIntegerField(null=True, blank=True)
    verification_policy = models.JSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="outcome_type_key_unique_per_version"),
            models.CheckConstraint(
                condition=Q(cap_amount_minor__isnull=True) | Q(cap_amount_minor__gt=0),
                name="outcome_type_cap_amount_gt_0",
            ),
            models.CheckConstraint(
                condition=Q(cap_units__isnull=True) | Q(cap_units__gt=0),
                name="outcome_type_cap_units_gt_0",
            ),
        ]
        ordering = ["version", "key"]

    def __str__(self) -> str:
        return self.key


class CustomerCap(models.Model):
    """The customer's own ceilings on one outcome type of a contract, per billing period, below the
    contract's: a count of outcomes (`max_units`), an amount they bill (`max_amount_minor`), or both.

    Set, changed and removed by the customer alone (its API key); the vendor reads it. An outcome that
    would become billable past either is flagged `customer_cap_exceeded` for the customer's approval, not
    billed (outcomes.services.caps). `alert_percents` announce `customer_cap.threshold_reached` (units) and
    `customer_cap.amount_threshold_reached` (amount) to the customer as the period's billable outcomes
    reach them.
    """

    id = models.BigAutoField(primary_key=True)
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="customer_caps")
    outcome_type_key = models.CharField(max_length=64)
    max_units = models.PositiveIntegerField(
        null=True, blank=True, help_text="0: every outcome of the type waits for approval; null: no unit cap."
    )
    max_amount_minor = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="The most the type's outcomes bill per period, in minor units of the contract's currency;"
        " null: no amount cap.",
    )
    alert_percents = models.JSONField(default=list)
    set_by = models.CharField(max_length=200, help_text="api_key:<prefix> of the customer's key")
    set_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "outcome_type_key"], name="customer_cap_unique_per_contract_type"
            ),
            models.CheckConstraint(
                condition=Q(max_units__isnull=False) | Q(max_amount_minor__isnull=False),
                name="customer_cap_units_or_amount",
            ),
            models.CheckConstraint(
                condition=Q(max_amount_minor__isnull=True) | Q(max_amount_minor__gte=0),
                name="customer_cap_amount_gte_0",
            ),
        ]
        ordering = ["contract", "outcome_type_key"]

    def __str__(self) -> str:
        units = [] if self.max_units is None else [f"{self.max_units} units"]
        amount = [] if self.max_amount_minor is None else [f"{self.max_amount_minor} minor units"]
        return f"{self.contract} {self.outcome_type_key} <= {' and '.join(units + amount)}"

    def threshold_units(self, percent: int) -> int:
        """`percent` of the unit cap, rounded up: an alert is reached at that percent, not below."""
        assert self.max_units is not None
        return _percent_up(self.max_units, percent)

    def threshold_amount_minor(self, percent: int) -> int:
        """`percent` of the amount cap in minor units, rounded up, as the unit cap's."""
        assert self.max_amount_minor is not None
        return _percent_up(self.max_amount_minor, percent)


def _percent_up(limit: int, percent: int) -> int:
    return -(-limit * percent // 100)


class AuditEntry(models.Model):
    """Who did what, when: one append-only row per state-changing action of a vendor's people or keys."""

    id = models.BigAutoField(primary_key=True)
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="audit_entries")
    actor = models.CharField(max_length=200, help_text="user:<email>, api_key:<prefix> or system")
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    details = models.JSONField(default=dict)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["vendor", "-at"])]
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.object_type}:{self.object_id}"

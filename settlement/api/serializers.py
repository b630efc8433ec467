"""Output shapes of the settlement API."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.currencies import minor_units_help
from settlement.collectability import invoice_collection_warning
from settlement.models import (
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceShareLink,
    InvoiceStatus,
    LineOutcome,
    SettlementStep,
    StripeConnection,
)


class CustomerInvoiceOut(serializers.ModelSerializer[Invoice]):
    """An invoice as its customer reads it (the customer API)."""

    contract_id = serializers.UUIDField(read_only=True)
    period_label = serializers.CharField(
        read_only=True,
        help_text="The period as people read it: local dates in the contract's time zone, the last day "
        'included ("1\N{EN DASH}30 November 2026", "28 November \N{EN DASH} 27 December 2026"). '
        "period_start and period_end are the same period as instants, the end excluded.",
    )

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
            "period_label",
            "total_minor",
            "tax_minor",
            "finalize_after",
            "finalized_at",
            "paid_at",
            "stripe_invoice_id",
            "stripe_status",
            "stripe_error",
            "settlement_status",
            "payment_error",
            "payment_attempts",
            "next_payment_attempt_at",
            "overdue_at",
            "approval_status",
            "approved_total_minor",
            "approved_at",
            "approved_by",
            "contested_at",
            "contested_by",
            "contest_reason",
        ]
        extra_kwargs = {
            "total_minor": {"help_text": minor_units_help("The sum of the lines, before tax.")},
            "tax_minor": {
                "help_text": minor_units_help(
                    "The tax Stripe Tax added on finalizing (null: no tax applied, or not finalized yet); "
                    "the customer pays total_minor plus tax_minor."
                )
            },
            "approved_total_minor": {
                "help_text": minor_units_help(
                    "The total the customer approved; another total needs approval again."
                )
            },
            "contested_at": {
                "help_text": "When the customer last contested this draft (null: never); it keeps waiting "
                "for an approval."
            },
            "contested_by": {
                "help_text": "Who contested: `customer_user:<email>` (the customer portal) or "
                '`api_key:<prefix>` (a customer key); "" when never contested.'
            },
            "contest_reason": {"help_text": 'The customer\'s reason, in its words; "" when never contested.'},
        }


class InvoiceContestIn(serializers.Serializer[None]):
    reason = serializers.CharField(
        allow_blank=True,
        trim_whitespace=False,
        help_text="Why you contest the draft (required, at most 2000 characters; 400 otherwise). "
        "Contesting again replaces the reason.",
    )


class InvoiceOut(CustomerInvoiceOut):
    """An invoice as its vendor reads it: also what would keep Stripe from collecting it automatically."""

    collection_warning = serializers.SerializerMethodField(
        help_text="Why Stripe cannot collect this draft or finalized invoice automatically (e.g. no card on "
        'file for a contract charged automatically), or "" when nothing stands in the way.'
    )

    class Meta(CustomerInvoiceOut.Meta):
        fields = [*CustomerInvoiceOut.Meta.fields, "collection_warning"]

    def get_collection_warning(self, invoice: Invoice) -> str:
        return invoice_collection_warning(invoice=invoice)


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
        extra_kwargs = {
            "unit_price": {
                "help_text": "A decimal string in major units of the currency (1.20 is 1.20 USD)."
            },
            "amount_minor": {"help_text": minor_units_help("The line's amount, rounded once.")},
        }


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
        extra_kwargs = {
            "share_minor": {
                "help_text": "This outcome's exact share of the line before the line's rounding: a decimal "
                "string in minor units of the currency (cents for USD: 0.505 USD is 50.5)."
            }
        }


class CreditNoteOut(serializers.ModelSerializer[CreditNote]):
    charges_minor = serializers.IntegerField(
        source="details.charges_minor",
        read_only=True,
        allow_null=True,
        help_text=minor_units_help("What the invoice's period charges as billed."),
    )
    rerated_minor = serializers.IntegerField(
        source="details.rerated_minor",
        read_only=True,
        allow_null=True,
        help_text=minor_units_help("What it charges re-rated without the reversed outcomes."),
    )
    credited_before_minor = serializers.IntegerField(
        source="details.credited_before_minor",
        read_only=True,
        allow_null=True,
        help_text=minor_units_help("What earlier credit notes of the invoice took off."),
    )
    outcome_ids = serializers.SerializerMethodField(
        help_text="The reversed outcomes it credits (each by one credit note only); /outcomes/{id} has their trail."
    )

    class Meta:
        model = CreditNote
        fields = [
            "id",
            "amount_minor",
            "status",
            "method",
            "reason",
            "charges_minor",
            "rerated_minor",
            "credited_before_minor",
            "stripe_credit_note_id",
            "withheld_reason",
            "withheld_at",
            "released_at",
            "created_at",
            "issued_at",
            "outcome_ids",
        ]
        extra_kwargs = {
            "amount_minor": {"help_text": minor_units_help("What the credit note takes off.")},
            "withheld_reason": {
                "help_text": "Why it waited before Stripe, e.g. 'withheld: customer has overdue invoice #41' "
                "(empty if it never did); kept once released."
            },
            "withheld_at": {"help_text": "When it was withheld (null if it never was)."},
            "released_at": {
                "help_text": "When the overdue invoices were paid and it went on to be issued (null: not released)."
            },
        }

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_outcome_ids(self, note: CreditNote) -> list[int]:
        return [link.outcome_id for link in note.outcome_links.all()]


class InvoiceFilter(serializers.Serializer[None]):
    contract_id = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(choices=InvoiceStatus.choices, required=False)


class SetupLinkOut(serializers.Serializer[dict[str, str]]):
    url = serializers.URLField(help_text="Stripe's page where the customer saves a card: send it to them.")
    stripe_customer_id = serializers.CharField()


class StripeConnectionOut(serializers.Serializer[dict[str, object]]):
    """Where the vendor's invoices settle. Secrets are write-only: only the key's last 4 characters show."""

    connected = serializers.BooleanField(help_text="False: the vendor settles with the deployment's key.")
    mode = serializers.ChoiceField(choices=StripeConnection.Mode.choices, allow_null=True)
    account_id = serializers.CharField(allow_null=True)
    account_name = serializers.CharField(allow_null=True)
    account_country = serializers.CharField(allow_null=True)
    secret_key_hint = serializers.CharField(allow_null=True, help_text="The key's last 4 characters.")
    tax_enabled = serializers.BooleanField()
    checked_at = serializers.DateTimeField(allow_null=True)
    check_error = serializers.CharField(
        allow_null=True, help_text="Empty: Stripe answered at the last check."
    )
    last_event_at = serializers.DateTimeField(
        allow_null=True, help_text="When a signed Stripe event of this account last arrived (null: none yet)."
    )
    connected_at = serializers.DateTimeField(allow_null=True)
    webhook_url = serializers.URLField(
        allow_null=True, help_text="own_account: the endpoint to add in the vendor's Stripe account."
    )
    platform_available = serializers.BooleanField(
        help_text="Whether this deployment has a Stripe platform key (connected_account mode)."
    )


class ShareLinkOut(serializers.ModelSerializer[InvoiceShareLink]):
    """A share link as listed: never the link itself, which is shown once, at creation."""

    invoice_id = serializers.IntegerField(read_only=True)
    hint = serializers.SerializerMethodField(help_text="The link's visible start, to tell links apart.")
    is_active = serializers.SerializerMethodField(help_text="Neither revoked nor expired: the link opens.")

    class Meta:
        model = InvoiceShareLink
        fields = [
            "id",
            "invoice_id",
            "label",
            "hint",
            "created_by",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_viewed_at",
            "view_count",
            "is_active",
        ]

    def get_hint(self, link: InvoiceShareLink) -> str:
        return f"vsl_{link.prefix}_…"

    def get_is_active(self, link: InvoiceShareLink) -> bool:
        return link.revoked_at is None and link.expires_at > timezone.now()


class ShareLinkCreatedOut(ShareLinkOut):
    url = serializers.SerializerMethodField(
        help_text="The shared page (no sign-in): shown only now, Verity keeps only a hash of it. Its CSV is "
        "the same address followed by `lines.csv`."
    )

    class Meta(ShareLinkOut.Meta):
        fields = [*ShareLinkOut.Meta.fields, "url"]

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, link: InvoiceShareLink) -> str:
        return str(self.context["url"])

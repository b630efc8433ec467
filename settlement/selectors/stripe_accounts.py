"""Which Stripe account settles a vendor's invoices, and whose events an account's are."""

from __future__ import annotations

from django.db.models import QuerySet

from contracts.models import Vendor
from settlement.models import (
    Invoice,
    SettlementStatus,
    StripeConnection,
)


def stripe_connection_of(*, vendor: Vendor) -> StripeConnection | None:
    """The Stripe account the vendor settles in, or None: the deployment's own key."""
    return StripeConnection.objects.filter(vendor=vendor).first()


def stripe_account_vendors(*, account: str) -> QuerySet[Vendor]:
    """The vendors an event of this Stripe account may concern: the one connected to it, or, for the
    deployment's own account (""), those without a connection. Ids are only unique within an account."""
    if account:
        return Vendor.objects.filter(stripe_connection__account_id=account)
    return Vendor.objects.filter(stripe_connection__isnull=True)


def invoices_settling_on_stripe(*, vendor: Vendor) -> QuerySet[Invoice]:
    """The vendor's invoices whose settlement is under way in its current Stripe account (a Stripe
    invoice exists, steps remain): they must finish there before the vendor changes account."""
    return Invoice.objects.filter(vendor=vendor, settlement_status=SettlementStatus.PENDING).exclude(
        stripe_invoice_id=""
    )

"""The connection's account: who may change it, Stripe's word on it, the vendor's lock and the
audit trail of each change."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone

from contracts.audit import audit_record
from contracts.models import ApiKey, Membership, Role, Vendor
from core import crypto
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from settlement.models import StripeConnection
from settlement.selectors.stripe_accounts import invoices_settling_on_stripe
from settlement.services.stripe_errors import stripe_unavailable
from settlement.stripe_gateway import StripeUnavailable
from settlement.stripe_gateway.accounts import (
    StripeAccountNotConnected,
    StripeKeyRefused,
    stripe_account_check,
)
from settlement.stripe_gateway.client import StripeAccount

Mode = StripeConnection.Mode


def platform_available() -> bool:
    """Whether vendors may connect a connected account: the deployment has a platform key."""
    return bool(settings.STRIPE_API_KEY)


def platform_require() -> None:
    """A connected account needs the deployment's platform key."""
    if not platform_available():
        raise ValidationFailed.on_field(
            "mode",
            "platform_unavailable",
            "This deployment has no Stripe platform key: connect your own account instead.",
        )


def owner_require(vendor: Vendor, by: Membership | ApiKey) -> None:
    if isinstance(by, Membership):
        allowed = by.vendor_id == vendor.pk and by.role == Role.OWNER
    else:
        allowed = (
            by.vendor_id == vendor.pk
            and by.customer_id is None
            and by.scope == ApiKey.Scope.WRITE
            and by.is_active
        )
    if not allowed:
        raise PermissionDenied("Only an owner can change the Stripe connection.")


def key_hint(secret_key: str) -> str:
    return secret_key[-4:]


def account_checked(account: StripeAccount, *, field: str) -> dict[str, str]:
    """The account as Stripe describes it; Stripe's refusal as a field error on `field`."""
    try:
        return stripe_account_check(account=account)
    except StripeUnavailable:
        raise stripe_unavailable() from None
    except StripeKeyRefused as exc:
        if account.account:  # the platform's own key: not the vendor's to fix
            raise Conflict(
                f"The deployment's Stripe platform key was refused: {exc}", code="stripe_platform_key_refused"
            ) from None
        raise ValidationFailed.on_field(
            field, "stripe_key_refused", f"Stripe refused this key: {exc}"
        ) from None
    except StripeAccountNotConnected as exc:
        raise ValidationFailed.on_field(
            field,
            "stripe_account_not_connected",
            f"This account is not connected to the platform (or does not exist): {exc}",
        ) from None


def settling_conflict(vendor: Vendor) -> Conflict | None:
    count = invoices_settling_on_stripe(vendor=vendor).count()
    if not count:
        return None
    return Conflict(
        f"{count} invoice{'s' if count != 1 else ''} of this vendor {'are' if count != 1 else 'is'} still "
        "being settled in the current Stripe account: let settlement finish (or abandon it) first.",
        code="settlement_in_progress",
    )


def connection_lock(vendor: Vendor) -> StripeConnection | None:
    """Serializes changes of one vendor's connection (the vendor row locked); its connection, if any."""
    Vendor.objects.select_for_update().filter(pk=vendor.pk).first()
    return StripeConnection.objects.filter(vendor=vendor).first()


def connection_audit(
    vendor: Vendor, actor: str, action: str, connection: StripeConnection, **details: Any
) -> None:
    audit_record(
        vendor=vendor,
        actor=actor,
        action=action,
        target=connection,
        at=timezone.now(),
        details={"mode": connection.mode, "account_id": connection.account_id, **details},
    )


def not_connected() -> NotFound:
    return NotFound(
        "This vendor has no Stripe connection: it settles with the deployment's key.",
        code="stripe_not_connected",
    )


def connection_get(vendor: Vendor) -> StripeConnection:
    connection = StripeConnection.objects.filter(vendor=vendor).first()
    if connection is None:
        raise not_connected()
    return connection


def own_account_connection_get(vendor: Vendor) -> StripeConnection:
    """The vendor's connection to its own Stripe account (404 without one; 409 for a connected account,
    which has no key or webhook secret of its own)."""
    connection = connection_get(vendor)
    if connection.mode != Mode.OWN_ACCOUNT:
        raise Conflict(
            "A connected account has no key or webhook secret of its own to rotate.", code="not_own_account"
        )
    return connection


def account_of(connection: StripeConnection, secret_key: str | None = None) -> StripeAccount:
    if connection.mode == Mode.OWN_ACCOUNT:
        return StripeAccount(secret_key or crypto.decrypt(connection.secret_key_encrypted))
    return StripeAccount(settings.STRIPE_API_KEY, connection.account_id)


def connection_gone() -> Conflict:
    return Conflict(
        "The Stripe connection was changed or removed meanwhile.", code="stripe_connection_changed"
    )

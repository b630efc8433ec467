"""Connecting a Stripe account, setting its tax, disconnecting it."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from contracts.models import ApiKey, Membership, Vendor
from core import crypto
from core.errors import Conflict, ValidationFailed
from settlement.models import StripeConnection
from settlement.stripe_connections.account import (
    account_checked,
    connection_audit,
    connection_lock,
    key_hint,
    not_connected,
    owner_require,
    platform_require,
    settling_conflict,
)
from settlement.stripe_connections.inputs import ConnectedAccountIn, OwnAccountIn
from settlement.stripe_gateway.client import StripeAccount

logger = logging.getLogger(__name__)


def stripe_connection_connect(
    *, vendor: Vendor, fields: OwnAccountIn | ConnectedAccountIn, by: Membership | ApiKey, actor: str
) -> StripeConnection:
    """Connect the vendor's own Stripe account (`own_account`: its key and webhook secret) or a connected
    account under the platform (`connected_account`), once Stripe confirms it. Connecting the account the
    vendor is already connected to replaces its credentials (and `tax_enabled`, if given); another
    account is refused while one is connected (disconnect first), and so is any change of account while a
    settlement is under way in the current one. stripe_connection_parse reads the body."""
    owner_require(vendor, by)
    facts = _account_confirmed(fields)
    now = timezone.now()
    values = _connection_values(fields, facts, now)
    try:
        with transaction.atomic():
            connection = _connection_store(vendor, actor, values, now)
    except IntegrityError:  # stripe_connection_account_unique: another vendor settles in that account
        raise ValidationFailed.on_field(
            "secret_key" if isinstance(fields, OwnAccountIn) else "account_id",
            "stripe_account_connected_elsewhere",
            f"Stripe account {facts['id']} is already connected to another vendor.",
        ) from None
    logger.info("Vendor %s: Stripe %s %s connected", vendor.pk, fields.mode, facts["id"])
    return connection


def _account_confirmed(fields: OwnAccountIn | ConnectedAccountIn) -> dict[str, str]:
    """The account as Stripe describes it."""
    if isinstance(fields, OwnAccountIn):
        return account_checked(StripeAccount(fields.secret_key), field="secret_key")
    platform_require()
    return account_checked(StripeAccount(settings.STRIPE_API_KEY, fields.account_id), field="account_id")


def _connection_values(
    fields: OwnAccountIn | ConnectedAccountIn, facts: dict[str, str], now: dt.datetime
) -> dict[str, Any]:
    """The connection's columns: the account as Stripe describes it, the secrets encrypted."""
    values: dict[str, Any] = {
        "mode": fields.mode,
        "account_id": facts["id"],
        "account_name": facts["name"][:200],
        "account_country": facts["country"][:2],
        "checked_at": now,
        "check_error": "",
    }
    if isinstance(fields, OwnAccountIn):
        values.update(
            secret_key_encrypted=crypto.encrypt(fields.secret_key),
            secret_key_hint=key_hint(fields.secret_key),
            webhook_secret_encrypted=crypto.encrypt(fields.webhook_secret),
        )
    else:
        values.update(secret_key_encrypted="", secret_key_hint="", webhook_secret_encrypted="")
    if fields.tax_enabled is not None:
        values["tax_enabled"] = fields.tax_enabled
    return values


def _connection_store(
    vendor: Vendor, actor: str, values: dict[str, Any], now: dt.datetime
) -> StripeConnection:
    """Create the connection, or replace the credentials of the same account; audited. Runs in the
    caller's transaction, under the vendor's lock (taken here)."""
    current = connection_lock(vendor)
    if current is None:
        if (settling := settling_conflict(vendor)) is not None:
            raise settling
        connection = StripeConnection.objects.create(vendor=vendor, connected_at=now, **values)
        action = "stripe_connection.connected"
    elif (current.mode, current.account_id) == (values["mode"], values["account_id"]):
        StripeConnection.objects.filter(pk=current.pk).update(**values, updated_at=now)
        connection = StripeConnection.objects.get(pk=current.pk)
        action = "stripe_connection.credentials_replaced"
    else:
        raise Conflict(
            f"This vendor is connected to Stripe account {current.account_id}: disconnect it first.",
            code="stripe_connection_exists",
        )
    connection_audit(
        vendor,
        actor,
        action,
        connection,
        key_hint=connection.secret_key_hint,
        tax_enabled=connection.tax_enabled,
    )
    return connection


def stripe_connection_tax_set(
    *, vendor: Vendor, enabled: bool, by: Membership | ApiKey, actor: str
) -> StripeConnection:
    """Turn Stripe Tax on or off for the vendor's next invoices (those already on Stripe keep theirs)."""
    owner_require(vendor, by)
    with transaction.atomic():
        connection = connection_lock(vendor)
        if connection is None:
            raise not_connected()
        if connection.tax_enabled != enabled:
            StripeConnection.objects.filter(pk=connection.pk).update(
                tax_enabled=enabled, updated_at=timezone.now()
            )
            connection.refresh_from_db()
            connection_audit(vendor, actor, "stripe_connection.tax_set", connection, tax_enabled=enabled)
    return connection


def stripe_connection_disconnect(*, vendor: Vendor, by: Membership | ApiKey, actor: str) -> None:
    """Forget the connection: the vendor settles with the deployment's key again, and the account's
    events are no longer accepted. Refused while a settlement is under way in that account."""
    owner_require(vendor, by)
    with transaction.atomic():
        connection = connection_lock(vendor)
        if connection is None:
            raise not_connected()
        # Under the vendor's lock, not the invoices': a push that starts after this commit uses the
        # deployment's key; one already under way finds its Stripe invoice missing and blocks for a person.
        if (settling := settling_conflict(vendor)) is not None:
            raise settling
        connection_audit(
            vendor, actor, "stripe_connection.disconnected", connection, key_hint=connection.secret_key_hint
        )
        connection.delete()
    logger.info("Vendor %s: Stripe account %s disconnected", vendor.pk, connection.account_id)

"""The connection's credentials: checked again in Stripe, rotated, re-encrypted under a new key."""

from __future__ import annotations

import logging
from typing import Any

from cryptography.fernet import InvalidToken
from django.db import transaction
from django.utils import timezone

from contracts.models import ApiKey, Membership, Vendor
from contracts.services.credentials import ReencryptResult
from core import crypto
from core.errors import Conflict, ValidationFailed
from settlement.models import StripeConnection
from settlement.stripe_connections.account import (
    account_checked,
    account_of,
    connection_audit,
    connection_get,
    connection_gone,
    connection_lock,
    key_hint,
    own_account_connection_get,
    owner_require,
)
from settlement.stripe_connections.inputs import RotateIn, rotation_require

logger = logging.getLogger(__name__)


def stripe_connection_test(*, vendor: Vendor, by: Membership | ApiKey, actor: str) -> StripeConnection:
    """Check the connection in Stripe again and record the outcome (checked_at, check_error): a refused
    key or a disconnected account is the result, not an error; an outage changes nothing (503)."""
    owner_require(vendor, by)
    connection = connection_get(vendor)
    now = timezone.now()
    values: dict[str, Any] = {"checked_at": now, "check_error": "", "updated_at": now}
    try:
        facts = account_checked(account_of(connection), field="connection")
    except ValidationFailed as exc:
        values["check_error"] = next(iter(exc.field_errors.values()))[0]["message"]
    except Conflict as exc:
        values["check_error"] = exc.message
    else:
        if facts["id"] != connection.account_id:
            values["check_error"] = (
                f"The key now reaches Stripe account {facts['id']}, not {connection.account_id}."
            )
        else:
            values.update(account_name=facts["name"][:200], account_country=facts["country"][:2])
    problem = values["check_error"]
    with transaction.atomic():
        if not StripeConnection.objects.filter(pk=connection.pk).update(**values):
            raise connection_gone()
        connection.refresh_from_db()
        connection_audit(vendor, actor, "stripe_connection.tested", connection, ok=not problem, error=problem)
    return connection


def stripe_connection_rotate(
    *, vendor: Vendor, fields: RotateIn, by: Membership | ApiKey, actor: str
) -> StripeConnection:
    """Replace the own account's key and/or webhook secret. A new key must reach the same Stripe account
    (another account is a disconnect and a connect); the key in use is checked too (a webhook secret
    cannot be checked in Stripe: its first signed event shows it works). stripe_rotation_parse reads the
    body."""
    owner_require(vendor, by)
    connection = own_account_connection_get(vendor)
    rotation_require(fields)
    facts = account_checked(account_of(connection, fields.secret_key), field="secret_key")
    if facts["id"] != connection.account_id:
        raise ValidationFailed.on_field(
            "secret_key",
            "stripe_account_changed",
            f"This key is of Stripe account {facts['id']}, not {connection.account_id}: "
            "to change account, disconnect and connect again.",
        )
    now = timezone.now()
    values: dict[str, Any] = {
        "checked_at": now,
        "check_error": "",
        "account_name": facts["name"][:200],
        "account_country": facts["country"][:2],
        "updated_at": now,
    }
    if fields.secret_key is not None:
        values.update(
            secret_key_encrypted=crypto.encrypt(fields.secret_key),
            secret_key_hint=key_hint(fields.secret_key),
        )
    if fields.webhook_secret is not None:
        values["webhook_secret_encrypted"] = crypto.encrypt(fields.webhook_secret)
    with transaction.atomic():
        current = connection_lock(vendor)
        if current is None or current.pk != connection.pk or current.account_id != connection.account_id:
            raise connection_gone()
        StripeConnection.objects.filter(pk=connection.pk).update(**values)
        connection.refresh_from_db()
        connection_audit(
            vendor,
            actor,
            "stripe_connection.rotated",
            connection,
            secret_key_rotated=fields.secret_key is not None,
            webhook_secret_rotated=fields.webhook_secret is not None,
            key_hint=connection.secret_key_hint,
        )
    logger.info("Vendor %s: Stripe credentials of %s rotated", vendor.pk, connection.account_id)
    return connection


def stripe_connection_secrets_reencrypt() -> ReencryptResult:
    """Re-encrypt every vendor's Stripe key and webhook secret with the first FIELD_ENCRYPTION_KEYS key
    (the step of a key rotation that contracts' webhook_secrets_reencrypt does for webhook sources).
    Counted per connection; one already under the first key is left as it is, so a rerun changes nothing."""
    reencrypted = current = 0
    unreadable: list[int] = []
    with transaction.atomic():
        # Locked so a concurrent rotation cannot interleave with the rewrite (one row per vendor: few).
        for connection in (
            StripeConnection.objects.select_for_update().exclude(secret_key_encrypted="").order_by("pk")
        ):
            tokens = (connection.secret_key_encrypted, connection.webhook_secret_encrypted)
            if all(crypto.is_current(token) for token in tokens):
                current += 1
                continue
            try:
                key, secret = (crypto.reencrypt(token) for token in tokens)
            except InvalidToken:
                unreadable.append(connection.pk)
                continue
            StripeConnection.objects.filter(pk=connection.pk).update(
                secret_key_encrypted=key, webhook_secret_encrypted=secret
            )
            reencrypted += 1
    return ReencryptResult(reencrypted=reencrypted, current=current, unreadable=unreadable)

"""Which Stripe account a vendor settles in: connect its own account (a secret or restricted key and the
signing secret of its webhook endpoint) or, in platform mode, a connected account; test, rotate, set tax,
disconnect.

Every credential is checked in Stripe before it is saved (GET /v1/account, outside any transaction), and
nothing changes when Stripe refuses it or cannot be reached. Secrets are stored encrypted
(core.crypto), never returned, logged or audited: only the key's last 4 characters are kept in clear.
Only an owner, or the vendor API with a write key, changes the connection; every change is audited.
A vendor changes account only when no settlement is under way in the current one.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field, RootModel

from contracts.audit import audit_record
from contracts.models import ApiKey, Membership, Role, Vendor
from contracts.services.credentials import ReencryptResult
from contracts.terms import Terms, parse
from core import crypto
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from settlement.models import StripeConnection
from settlement.selectors import invoices_settling_on_stripe
from settlement.services.stripe_errors import stripe_unavailable
from settlement.stripe_gateway import StripeUnavailable
from settlement.stripe_gateway.accounts import (
    StripeAccountNotConnected,
    StripeKeyRefused,
    stripe_account_check,
)
from settlement.stripe_gateway.client import StripeAccount

logger = logging.getLogger(__name__)

Mode = StripeConnection.Mode

SecretKey = Annotated[
    str,
    Field(
        max_length=255,
        pattern=r"^(sk|rk)_(live|test)_[A-Za-z0-9_]+$",
        description="A secret (sk_live_…, sk_test_…) or, better, restricted (rk_live_…, rk_test_…) key of "
        "the vendor's Stripe account. Write-only.",
    ),
]
WebhookSecret = Annotated[
    str,
    Field(
        max_length=255,
        pattern=r"^whsec_[A-Za-z0-9_+/=]+$",
        description="The signing secret (whsec_…) of the webhook endpoint the vendor added in its Stripe "
        "account for /webhooks/stripe/{vendor_id}. Write-only.",
    ),
]
AccountId = Annotated[
    str,
    Field(
        max_length=100,
        pattern=r"^acct_[A-Za-z0-9]+$",
        description="A connected account (acct_…) of the deployment's Stripe platform.",
    ),
]
TaxEnabled = Annotated[
    bool | None,
    Field(description="Stripe Tax computes tax on the vendor's invoices; omitted: unchanged (off when new)."),
]


class OwnAccountIn(Terms):
    mode: Literal["own_account"]
    secret_key: SecretKey
    webhook_secret: WebhookSecret
    tax_enabled: TaxEnabled = None


class ConnectedAccountIn(Terms):
    mode: Literal["connected_account"]
    account_id: AccountId
    tax_enabled: TaxEnabled = None


class StripeConnectionIn(
    RootModel[Annotated[OwnAccountIn | ConnectedAccountIn, Field(discriminator="mode")]]
):
    """The body of a connection (the API's schema): one of the two modes, secrets write-only."""


class _ModeIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    mode: Literal["own_account", "connected_account"]


class RotateIn(Terms):
    secret_key: SecretKey | None = None
    webhook_secret: WebhookSecret | None = None


class TaxIn(Terms):
    tax_enabled: bool


def platform_available() -> bool:
    """Whether vendors may connect a connected account: the deployment has a platform key."""
    return bool(settings.STRIPE_API_KEY)


def _require_owner(vendor: Vendor, by: Membership | ApiKey) -> None:
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


def _hint(secret_key: str) -> str:
    return secret_key[-4:]


def _checked(account: StripeAccount, *, field: str) -> dict[str, str]:
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


def _settling(vendor: Vendor) -> Conflict | None:
    count = invoices_settling_on_stripe(vendor=vendor).count()
    if not count:
        return None
    return Conflict(
        f"{count} invoice{'s' if count != 1 else ''} of this vendor {'are' if count != 1 else 'is'} still "
        "being settled in the current Stripe account: let settlement finish (or abandon it) first.",
        code="settlement_in_progress",
    )


def _lock(vendor: Vendor) -> StripeConnection | None:
    """Serializes changes of one vendor's connection (the vendor row locked); its connection, if any."""
    Vendor.objects.select_for_update().filter(pk=vendor.pk).first()
    return StripeConnection.objects.filter(vendor=vendor).first()


def _audit(vendor: Vendor, actor: str, action: str, connection: StripeConnection, **details: Any) -> None:
    audit_record(
        vendor=vendor,
        actor=actor,
        action=action,
        target=connection,
        at=timezone.now(),
        details={"mode": connection.mode, "account_id": connection.account_id, **details},
    )


def stripe_connection_connect(
    *, vendor: Vendor, data: Any, by: Membership | ApiKey, actor: str
) -> StripeConnection:
    """Connect the vendor's own Stripe account (`own_account`: its key and webhook secret) or a connected
    account under the platform (`connected_account`), once Stripe confirms it. Connecting the account the
    vendor is already connected to replaces its credentials (and `tax_enabled`, if given); another
    account is refused while one is connected (disconnect first), and so is any change of account while a
    settlement is under way in the current one."""
    _require_owner(vendor, by)
    mode = parse(_ModeIn, data).mode
    fields: OwnAccountIn | ConnectedAccountIn
    if mode == Mode.OWN_ACCOUNT:
        fields = parse(OwnAccountIn, data)
        facts = _checked(StripeAccount(fields.secret_key), field="secret_key")
    else:
        if not platform_available():
            raise ValidationFailed.on_field(
                "mode",
                "platform_unavailable",
                "This deployment has no Stripe platform key: connect your own account instead.",
            )
        fields = parse(ConnectedAccountIn, data)
        facts = _checked(StripeAccount(settings.STRIPE_API_KEY, fields.account_id), field="account_id")
    now = timezone.now()
    values: dict[str, Any] = {
        "mode": mode,
        "account_id": facts["id"],
        "account_name": facts["name"][:200],
        "account_country": facts["country"][:2],
        "checked_at": now,
        "check_error": "",
    }
    if isinstance(fields, OwnAccountIn):
        values.update(
            secret_key_encrypted=crypto.encrypt(fields.secret_key),
            secret_key_hint=_hint(fields.secret_key),
            webhook_secret_encrypted=crypto.encrypt(fields.webhook_secret),
        )
    else:
        values.update(secret_key_encrypted="", secret_key_hint="", webhook_secret_encrypted="")
    if fields.tax_enabled is not None:
        values["tax_enabled"] = fields.tax_enabled
    try:
        with transaction.atomic():
            current = _lock(vendor)
            if current is None:
                if (settling := _settling(vendor)) is not None:
                    raise settling
                connection = StripeConnection.objects.create(vendor=vendor, connected_at=now, **values)
                action = "stripe_connection.connected"
            elif (current.mode, current.account_id) == (mode, facts["id"]):
                StripeConnection.objects.filter(pk=current.pk).update(**values, updated_at=now)
                connection = StripeConnection.objects.get(pk=current.pk)
                action = "stripe_connection.credentials_replaced"
            else:
                raise Conflict(
                    f"This vendor is connected to Stripe account {current.account_id}: disconnect it first.",
                    code="stripe_connection_exists",
                )
            _audit(
                vendor,
                actor,
                action,
                connection,
                key_hint=connection.secret_key_hint,
                tax_enabled=connection.tax_enabled,
            )
    except IntegrityError:  # stripe_connection_account_unique: another vendor settles in that account
        raise ValidationFailed.on_field(
            "secret_key" if mode == Mode.OWN_ACCOUNT else "account_id",
            "stripe_account_connected_elsewhere",
            f"Stripe account {facts['id']} is already connected to another vendor.",
        ) from None
    logger.info("Vendor %s: Stripe %s %s connected", vendor.pk, mode, facts["id"])
    return connection


def _not_connected() -> NotFound:
    return NotFound(
        "This vendor has no Stripe connection: it settles with the deployment's key.",
        code="stripe_not_connected",
    )


def _connection(vendor: Vendor) -> StripeConnection:
    connection = StripeConnection.objects.filter(vendor=vendor).first()
    if connection is None:
        raise _not_connected()
    return connection


def _account_of(connection: StripeConnection, secret_key: str | None = None) -> StripeAccount:
    if connection.mode == Mode.OWN_ACCOUNT:
        return StripeAccount(secret_key or crypto.decrypt(connection.secret_key_encrypted))
    return StripeAccount(settings.STRIPE_API_KEY, connection.account_id)


def stripe_connection_test(*, vendor: Vendor, by: Membership | ApiKey, actor: str) -> StripeConnection:
    """Check the connection in Stripe again and record the outcome (checked_at, check_error): a refused
    key or a disconnected account is the result, not an error; an outage changes nothing (503)."""
    _require_owner(vendor, by)
    connection = _connection(vendor)
    now = timezone.now()
    values: dict[str, Any] = {"checked_at": now, "check_error": "", "updated_at": now}
    try:
        facts = _checked(_account_of(connection), field="connection")
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
            raise _connection_gone()
        connection.refresh_from_db()
        _audit(vendor, actor, "stripe_connection.tested", connection, ok=not problem, error=problem)
    return connection


def _connection_gone() -> Conflict:
    return Conflict(
        "The Stripe connection was changed or removed meanwhile.", code="stripe_connection_changed"
    )


def stripe_connection_rotate(
    *, vendor: Vendor, data: Any, by: Membership | ApiKey, actor: str
) -> StripeConnection:
    """Replace the own account's key and/or webhook secret. A new key must reach the same Stripe account
    (another account is a disconnect and a connect); the key in use is checked too (a webhook secret
    cannot be checked in Stripe: its first signed event shows it works)."""
    _require_owner(vendor, by)
    connection = _connection(vendor)
    if connection.mode != Mode.OWN_ACCOUNT:
        raise Conflict(
            "A connected account has no key or webhook secret of its own to rotate.", code="not_own_account"
        )
    fields = parse(RotateIn, data)
    if fields.secret_key is None and fields.webhook_secret is None:
        raise ValidationFailed.on_field(
            "secret_key", "required", "Enter a new secret key, a new webhook secret, or both."
        )
    facts = _checked(_account_of(connection, fields.secret_key), field="secret_key")
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
            secret_key_encrypted=crypto.encrypt(fields.secret_key), secret_key_hint=_hint(fields.secret_key)
        )
    if fields.webhook_secret is not None:
        values["webhook_secret_encrypted"] = crypto.encrypt(fields.webhook_secret)
    with transaction.atomic():
        current = _lock(vendor)
        if current is None or current.pk != connection.pk or current.account_id != connection.account_id:
            raise _connection_gone()
        StripeConnection.objects.filter(pk=connection.pk).update(**values)
        connection.refresh_from_db()
        _audit(
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


def stripe_connection_tax_set(
    *, vendor: Vendor, data: Any, by: Membership | ApiKey, actor: str
) -> StripeConnection:
    """Turn Stripe Tax on or off for the vendor's next invoices (those already on Stripe keep theirs)."""
    _require_owner(vendor, by)
    enabled = parse(TaxIn, data).tax_enabled
    with transaction.atomic():
        connection = _lock(vendor)
        if connection is None:
            raise _not_connected()
        if connection.tax_enabled != enabled:
            StripeConnection.objects.filter(pk=connection.pk).update(
                tax_enabled=enabled, updated_at=timezone.now()
            )
            connection.refresh_from_db()
            _audit(vendor, actor, "stripe_connection.tax_set", connection, tax_enabled=enabled)
    return connection


def stripe_connection_disconnect(*, vendor: Vendor, by: Membership | ApiKey, actor: str) -> None:
    """Forget the connection: the vendor settles with the deployment's key again, and the account's
    events are no longer accepted. Refused while a settlement is under way in that account."""
    _require_owner(vendor, by)
    with transaction.atomic():
        connection = _lock(vendor)
        if connection is None:
            raise _not_connected()
        # Under the vendor's lock, not the invoices': a push that starts after this commit uses the
        # deployment's key; one already under way finds its Stripe invoice missing and blocks for a person.
        if (settling := _settling(vendor)) is not None:
            raise settling
        _audit(
            vendor, actor, "stripe_connection.disconnected", connection, key_hint=connection.secret_key_hint
        )
        connection.delete()
    logger.info("Vendor %s: Stripe account %s disconnected", vendor.pk, connection.account_id)


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

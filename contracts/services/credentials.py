"""API keys and webhook sources: creation (secret shown once), authentication, rotation, revocation;
re-encryption of the stored signing secrets when FIELD_ENCRYPTION_KEYS rotates."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import InvalidToken
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from contracts.audit import audit_record
from contracts.models import ApiKey, Customer, Vendor, WebhookSecret, WebhookSource
from contracts.selectors import WEBHOOK_SOURCE_CACHE_SECONDS, webhook_source_forget
from core import crypto
from core.errors import Conflict, ValidationFailed

API_KEY_PREFIX = "vrt"
KEY_PREFIX_FORMAT = re.compile(r"[0-9a-f]{12}")  # secrets.token_hex(6), as api_key_create makes it
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
MAX_ROTATION_OVERLAP = dt.timedelta(days=30)


def hash_secret(secret: str) -> str:
    """The stored form of a generated secret (API keys, invoice share links): its SHA-256, in hex.

    The secret carries 256 random bits, so a fast hash is enough: no dictionary to guess from."""
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_create(
    *,
    vendor: Vendor,
    name: str,
    scope: str = ApiKey.Scope.WRITE,
    actor: str,
    created_by_id: int | None = None,
    customer: Customer | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; the plaintext is returned here once and never stored.

    With a customer, the key is that customer's: it reaches only the customer-facing API.
    """
    if customer is not None and customer.vendor_id != vendor.pk:
        raise ValidationFailed.on_field("customer_id", "not_found", "No such customer.")
    if scope not in ApiKey.Scope.values:
        raise ValidationFailed.on_field(
            "scope", "invalid_choice", f"scope must be one of {ApiKey.Scope.values}."
        )
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        api_key = ApiKey.objects.create(
            vendor=vendor,
            name=name,
            prefix=prefix,
            secret_hash=hash_secret(secret),
            scope=scope,
            created_by_id=created_by_id,
            customer=customer,
        )
        audit_record(
            vendor=vendor,
            actor=actor,
            action="api_key.created",
            target=api_key,
            at=api_key.created_at,
        )
    return api_key, f"{API_KEY_PREFIX}_{prefix}_{secret}"


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The active key a presented string belongs to, or None. Compares hashes in constant time."""
    parts = raw_key.split("_", 2)
    # Check the prefix's shape before it reaches a query: a NUL byte there is a database error.
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or not KEY_PREFIX_FORMAT.fullmatch(parts[1]):
        return None
    _, prefix, secret = parts
    api_key = ApiKey.objects.select_related("vendor").filter(prefix=prefix, revoked_at__isnull=True).first()
    if api_key is None or not hmac.compare_digest(api_key.secret_hash, hash_secret(secret)):
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
        # At most one write a minute per key, so reads stay reads under load.
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def api_key_revoke(*, api_key: ApiKey, actor: str) -> ApiKey:
    """Revoke a key; revoking a revoked key changes nothing."""
    now = timezone.now()
    with transaction.atomic():
        updated = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=now)
        if updated:
            audit_record(vendor=api_key.vendor, actor=actor, action="api_key.revoked", target=api_key, at=now)
    api_key.refresh_from_db()
    return api_key


def _new_signing_secret() -> str:
    # Standard Webhooks: "whsec_" followed by base64 of 24 to 64 random bytes.
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _add_secret(*, source: WebhookSource) -> str:
    secret = _new_signing_secret()
    WebhookSecret.objects.create(source=source, secret_encrypted=crypto.encrypt(secret), hint=secret[-4:])
    return secret


def webhook_source_create(
    *, vendor: Vendor, customer: Customer, name: str, kind: str, actor: str, by_customer: bool = False
) -> tuple[WebhookSource, str]:
    """Create a source and its first signing secret; the secret is returned here once.

    `by_customer`: the customer creates it (with its own API key), so only the customer has seen the
    secret: a customer's system of record is approved at once. One the vendor creates awaits the
    customer's approval (webhook_source_approve) before its events speak for the customer.
    """
    if customer.vendor_id != vendor.pk:
        raise ValidationFailed.on_field("customer_id", "not_found", "No such customer.")
    if kind not in WebhookSource.Kind.values:
        raise ValidationFailed.on_field(
            "kind", "invalid_choice", f"kind must be one of {WebhookSource.Kind.values}."
        )
    if by_customer and kind != WebhookSource.Kind.CUSTOMER_SYSTEM:
        raise ValidationFailed.on_field(
            "kind", "invalid_choice", "A customer creates only its own system of record's sources."
        )
    with transaction.atomic():
        source = WebhookSource.objects.create(
            vendor=vendor,
            customer=customer,
            name=name,
            kind=kind,
            approved_at=timezone.now() if by_customer else None,
            approved_by=actor if by_customer else "",
        )
        secret = _add_secret(source=source)
        audit_record(
            vendor=vendor,
            actor=actor,
            action="webhook_source.created",
            target=source,
            at=source.created_at,
        )
    return source, secret


def _forget_on_commit(source: WebhookSource) -> None:
    """The webhook endpoint caches a source's secrets for a few seconds: drop this process's copy
    now and again at commit (so a request racing the change cannot keep the old state)."""
    webhook_source_forget(source_id=source.pk)
    transaction.on_commit(lambda: webhook_source_forget(source_id=source.pk))


def _replace_secrets(*, locked: WebhookSource, expires_at: dt.datetime, now: dt.datetime) -> str:
    """Give the live secrets of a source (locked by the caller) an expiry no later than `expires_at`
    and add a new one, returned here once."""
    if locked.revoked_at is not None:
        raise Conflict("This source is revoked; create a new one.", code="source_revoked")
    live = WebhookSecret.objects.filter(source=locked).exclude(expires_at__lte=now)
    live.filter(expires_at__isnull=True).update(expires_at=expires_at)
    live.filter(expires_at__gt=expires_at).update(expires_at=expires_at)
    secret = _add_secret(source=locked)
    _forget_on_commit(locked)
    return secret


def webhook_source_rotate_secret(
    *, source: WebhookSource, overlap: dt.timedelta, actor: str, by_customer: bool = False
) -> str:
    """Add a new secret; the current ones keep verifying for `overlap`, then expire.

    Once the customer has approved its system of record, only the customer rotates it (`by_customer`):
    a secret the vendor saw would sign as the customer.
    """
    if overlap < dt.timedelta(0) or overlap > MAX_ROTATION_OVERLAP:
        raise ValidationFailed.on_field(
            "overlap_seconds",
            "out_of_range",
            f"overlap must be between 0 and {MAX_ROTATION_OVERLAP.days} days.",
        )
    now = timezone.now()
    with transaction.atomic():
        # Lock the source so two concurrent rotations cannot both see the same set of live secrets.
        locked = WebhookSource.objects.select_for_update().get(pk=source.pk)
        if locked.approved_at is not None and not by_customer:
            raise Conflict(
                "This source speaks for the customer, who approved it: only the customer rotates its "
                "secret, with its own API key.",
                code="source_customer_approved",
            )
        secret = _replace_secrets(locked=locked, expires_at=now + overlap, now=now)
        audit_record(
            vendor=locked.vendor,
            actor=actor,
            action="webhook_source.secret_rotated",
            target=locked,
            at=now,
            details={"overlap_seconds": int(overlap.total_seconds())},
        )
    return secret


def webhook_source_approve(*, source: WebhookSource, actor: str) -> str:
    """The customer approves its system of record's source, which the vendor created: returns its new
    secret, shown once.

    The vendor has seen the source's secrets, so they all stop verifying now and a new one replaces them.
    Its events speak for the customer from `approved_at`: WEBHOOK_SOURCE_CACHE_SECONDS after now, since
    another process may verify with its copy of the old secrets that long. Events received earlier keep
    not speaking for the customer, so nothing already verified changes and nothing is re-evaluated.
    """
    now = timezone.now()
    with transaction.atomic():
        # Locked: two approvals (or an approval and a rotation) must not both replace the secrets.
        locked = WebhookSource.objects.select_for_update().get(pk=source.pk)
        if locked.kind != WebhookSource.Kind.CUSTOMER_SYSTEM:
            raise Conflict("Only a customer's system of record needs approval.", code="approval_not_needed")
        if locked.approved_at is not None:
            raise Conflict("This source is already approved.", code="source_already_approved")
        secret = _replace_secrets(locked=locked, expires_at=now, now=now)
        locked.approved_at = now + dt.timedelta(seconds=WEBHOOK_SOURCE_CACHE_SECONDS)
        locked.approved_by = actor
        locked.save(update_fields=["approved_at", "approved_by"])
        audit_record(
            vendor=locked.vendor,
            actor=actor,
            action="webhook_source.approved",
            target=locked,
            at=now,
            details={"speaks_for_customer_from": locked.approved_at.isoformat()},
        )
    return secret


def webhook_source_revoke(*, source: WebhookSource, actor: str) -> WebhookSource:
    """Revoke a source: none of its secrets verifies any more. Repeating it changes nothing."""
    now = timezone.now()
    with transaction.atomic():
        updated = WebhookSource.objects.filter(pk=source.pk, revoked_at__isnull=True).update(revoked_at=now)
        _forget_on_commit(source)
        if updated:
            audit_record(
                vendor=source.vendor,
                actor=actor,
                action="webhook_source.revoked",
                target=source,
                at=now,
            )
    source.refresh_from_db()
    return source


@dataclass(frozen=True)
class ReencryptResult:
    reencrypted: int  # rewritten with the first key
    current: int  # already encrypted with it: left as they were
    unreadable: list[int]  # ids of secrets no configured key decrypts (a key was dropped too early)


def webhook_secrets_reencrypt(
    *, batch_size: int = 500, model: type[Model] = WebhookSecret
) -> ReencryptResult:
    """Re-encrypt every stored webhook signing secret with the first FIELD_ENCRYPTION_KEYS key.

    Run after prepending a new key, before removing the old one. Secrets already under the first key
    are not rewritten, so a second run (or one interrupted and run again) changes nothing. `model`: another
    table of Fernet-encrypted signing secrets (an integer `pk`, a `secret_encrypted` column), such as the
    outbound webhook endpoints' (notifications' `reencrypt_endpoint_secrets`).
    """
    reencrypted = current = 0
    unreadable: list[int] = []
    last_id = 0
    while True:
        with transaction.atomic():
            # Locked so a concurrent rotation or revocation cannot interleave with the rewrite.
            batch: list[Any] = list(  # rows of `model`: each has a `secret_encrypted`
                model._default_manager.select_for_update()
                .filter(pk__gt=last_id)
                .order_by("pk")
                .only("pk", "secret_encrypted")[:batch_size]
            )
            if not batch:
                break
            last_id = batch[-1].pk
            changed = []
            for secret in batch:
                if crypto.is_current(secret.secret_encrypted):
                    current += 1
                    continue
                try:
                    secret.secret_encrypted = crypto.reencrypt(secret.secret_encrypted)
                except InvalidToken:
                    unreadable.append(secret.pk)
                    continue
                changed.append(secret)
            model._default_manager.bulk_update(changed, ["secret_encrypted"])
            reencrypted += len(changed)
    return ReencryptResult(reencrypted=reencrypted, current=current, unreadable=unreadable)

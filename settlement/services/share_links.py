"""Share links for an auditor: create one for a finalized invoice (the link returned once), revoke it,
resolve a presented link, count a view.

A link is a bearer secret like an API key: `vsl_<prefix>_<secret>`, stored as the hash of the secret
(contracts.services.credentials.hash_secret) beside the visible prefix that finds the row. A link that
is unknown, malformed, revoked or expired resolves to the same NotFound, so a guesser learns nothing.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from pydantic import AwareDatetime, Field

from contracts.audit import audit_record
from contracts.services.credentials import hash_secret
from contracts.terms import Terms
from core.errors import Conflict, NotFound, ValidationFailed
from settlement.models import Invoice, InvoiceShareLink, InvoiceStatus

SHARE_LINK_PREFIX = "vsl"
LINK_PREFIX_FORMAT = re.compile(r"[0-9a-f]{12}")  # secrets.token_hex(6)
SECRET_FORMAT = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
MIN_LIFETIME = dt.timedelta(hours=1)
MAX_LIFETIME = dt.timedelta(days=90)
DEFAULT_LIFETIME = dt.timedelta(days=14)
NOT_FOUND = "No such shared invoice, or the link has expired or was revoked."


class ShareLinkIn(Terms):
    label: str = Field(
        default="", max_length=200, description="Who the link is for, e.g. the auditor's name."
    )
    expires_at: AwareDatetime | None = Field(
        default=None,
        description="When the link stops opening: between 1 hour and 90 days from now (default: in 14 days).",
    )


def share_link_create(
    *,
    invoice: Invoice,
    actor: str,
    label: str = "",
    expires_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> tuple[InvoiceShareLink, str]:
    """A new link to `invoice`'s evidence, expiring at `expires_at` (default: in 14 days; between 1 hour
    and 90 days from now). Returns the row and the raw link token, which is never stored.

    Only an invoice past its draft can be shared (finalized, open, paid, failed, void, uncollectible): a
    draft still changes, and a void invoice's evidence is still what an auditor may need to check."""
    now = now or timezone.now()
    if invoice.status == InvoiceStatus.DRAFT:
        raise Conflict("A draft invoice cannot be shared: finalize it first.", code="invoice_not_shareable")
    expires_at = expires_at or now + DEFAULT_LIFETIME
    if not now + MIN_LIFETIME <= expires_at <= now + MAX_LIFETIME:
        raise ValidationFailed.on_field(
            "expires_at", "out_of_range", "expires_at must be between 1 hour and 90 days from now."
        )
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    with transaction.atomic():
        link = InvoiceShareLink.objects.create(
            invoice=invoice,
            prefix=prefix,
            secret_hash=hash_secret(secret),
            label=label,
            created_by=actor,
            created_at=now,
            expires_at=expires_at,
        )
        audit_record(
            vendor=invoice.vendor,
            actor=actor,
            action="invoice_share_link.created",
            target=link,
            at=now,
            details={"invoice_id": invoice.pk, "expires_at": expires_at.isoformat(), "label": label},
        )
    return link, f"{SHARE_LINK_PREFIX}_{prefix}_{secret}"


def share_link_url(token: str) -> str:
    """The full address of a link's shared page, as an auditor outside the deployment reaches it."""
    base: str = settings.PUBLIC_BASE_URL
    return base + reverse("shared:invoice", args=[token])


def share_link_revoke(*, link: InvoiceShareLink, actor: str) -> InvoiceShareLink:
    """Revoke a link at once; revoking a revoked link changes nothing."""
    now = timezone.now()
    with transaction.atomic():
        updated = InvoiceShareLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_by=actor
        )
        if updated:
            audit_record(
                vendor=link.invoice.vendor,
                actor=actor,
                action="invoice_share_link.revoked",
                target=link,
                at=now,
                details={"invoice_id": link.invoice_id},
            )
    link.refresh_from_db()
    return link


def share_link_resolve(*, token: str, now: dt.datetime | None = None) -> InvoiceShareLink:
    """The live link a presented token belongs to, its invoice loaded; NotFound for anything else
    (unknown, malformed, revoked, expired: expired from `expires_at` on), always with the same message."""
    now = now or timezone.now()
    parts = token.split("_", 2)
    # Shapes checked before a query: a NUL byte in the prefix would be a database error.
    if (
        len(parts) != 3
        or parts[0] != SHARE_LINK_PREFIX
        or not LINK_PREFIX_FORMAT.fullmatch(parts[1])
        or not SECRET_FORMAT.fullmatch(parts[2])
    ):
        raise NotFound(NOT_FOUND)
    link = (
        InvoiceShareLink.objects.select_related("invoice__vendor", "invoice__contract__customer")
        .filter(prefix=parts[1])
        .first()
    )
    if (
        link is None
        or not hmac.compare_digest(link.secret_hash, hash_secret(parts[2]))
        or link.revoked_at is not None
        or now >= link.expires_at
    ):
        raise NotFound(NOT_FOUND)
    return link


def share_link_record_view(*, link: InvoiceShareLink, now: dt.datetime | None = None) -> None:
    """Count one view of the shared page or its CSV (one UPDATE, no lock: views only add up)."""
    now = now or timezone.now()
    InvoiceShareLink.objects.filter(pk=link.pk).update(view_count=F("view_count") + 1, last_viewed_at=now)

"""Endpoint signing secrets: made (`whsec_…`; stored Fernet-encrypted by notifications.services.secrets) and
used to sign each delivery the Standard Webhooks way (the `standardwebhooks` library).

Every live secret of an endpoint (no expiry, or an expiry still ahead) signs: during a rotation's overlap
the `webhook-signature` header carries one signature per secret, space-separated, so the receiver can switch
to the new secret at any moment and still verify.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import uuid

from django.db.models import Q
from standardwebhooks import Webhook

from core import crypto
from notifications.models import EndpointSecret


def secret_generate() -> str:
    """A new signing secret: "whsec_" and base64 of 24 random bytes (Standard Webhooks allows 24 to 64)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def endpoint_secrets_live(*, endpoint_id: uuid.UUID, now: dt.datetime) -> list[str]:
    """The secrets of an endpoint that sign at `now`, newest first, in clear."""
    rows = EndpointSecret.objects.filter(endpoint_id=endpoint_id).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )
    return [crypto.decrypt(row.secret_encrypted) for row in rows]


def payload_sign(*, secrets: list[str], msg_id: str, timestamp: dt.datetime, payload: bytes) -> str:
    """The `webhook-signature` header: one `v1,<base64>` signature per secret, space-separated."""
    return " ".join(Webhook(secret).sign(msg_id, timestamp, payload) for secret in secrets)

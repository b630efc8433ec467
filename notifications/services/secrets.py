"""Storing an endpoint's signing secret: checked to be a Standard Webhooks secret, kept Fernet-encrypted
(core.crypto) with its last characters as a hint. New secrets are made by notifications.signing."""

from __future__ import annotations

import base64
import binascii

from core import crypto
from core.errors import ValidationFailed
from notifications.models import Endpoint, EndpointSecret

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
# Standard Webhooks: the secret is base64 of 24 to 64 random bytes.
SECRET_BYTES = range(24, 65)


def secret_check(secret: str) -> None:
    """Refuse a given secret that is not `whsec_` and base64 of 24 to 64 bytes."""
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not secret.startswith(SECRET_PREFIX) or len(key) not in SECRET_BYTES:
        raise ValidationFailed.on_field(
            "secret", "invalid_secret", "A secret is whsec_ followed by base64 of 24 to 64 bytes."
        )


def secret_store(*, endpoint: Endpoint, secret: str) -> EndpointSecret:
    """Add `secret` to the endpoint's signing secrets (it signs until a rotation gives it an expiry)."""
    return EndpointSecret.objects.create(
        endpoint=endpoint, secret_encrypted=crypto.encrypt(secret), hint=secret[-4:]
    )

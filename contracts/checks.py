"""System checks of the field-encryption keys, so a bad key fails `manage.py check` (and startup of
the commands that run checks) instead of surfacing as 500s on the first secret read or written."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

GENERATE_HINT = (
    'Generate a key with `python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"`.'
)


def field_encryption_keys_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """verity.E001 for each FIELD_ENCRYPTION_KEYS entry that is not a Fernet key; the key itself is
    never printed (check output ends up in logs)."""
    keys: list[str] = list(settings.FIELD_ENCRYPTION_KEYS)
    errors: list[CheckMessage] = []
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):  # binascii.Error is a ValueError
            errors.append(
                Error(
                    f"FIELD_ENCRYPTION_KEYS entry {position} of {len(keys)} is not a valid Fernet key "
                    "(32 url-safe base64-encoded bytes): webhook signing secrets can be neither "
                    "encrypted nor read with it.",
                    hint="Keys are comma-separated, without spaces or quotes. " + GENERATE_HINT,
                    id="verity.E001",
                )
            )
    return errors


def field_encryption_single_key_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """verity.W001 (`check --deploy`) when production (DEBUG off) runs on a single key."""
    if settings.DEBUG or len(settings.FIELD_ENCRYPTION_KEYS) != 1:
        return []
    return [
        Warning(
            "FIELD_ENCRYPTION_KEYS holds a single key in production.",
            hint="Rotate by prepending a new key, re-encrypting and then dropping the old one "
            "(docs/operations.md, Rotate secrets). " + GENERATE_HINT,
            id="verity.W001",
        )
    ]

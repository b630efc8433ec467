"""Encryption at rest for secrets we must read back (webhook signing secrets), via Fernet.

MultiFernet takes the keys in FIELD_ENCRYPTION_KEYS: the first encrypts, every one decrypts, so
keys rotate by prepending a new one, re-encrypting what is stored (`manage.py reencrypt_secrets`),
then dropping the old key. In DEBUG with no keys set, a key is derived from SECRET_KEY.
"""

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _fernet() -> MultiFernet:
    return _fernet_of(_keys(tuple(settings.FIELD_ENCRYPTION_KEYS), settings.SECRET_KEY))


@cache
def _keys(configured: tuple[str, ...], secret_key: str) -> tuple[str, ...]:
    # Keyed by the settings it is read from, so changed settings (a test, a reload) take effect.
    if configured:
        return configured
    derived = hashlib.sha256(f"verity-field-encryption:{secret_key}".encode()).digest()
    return (base64.urlsafe_b64encode(derived).decode(),)


@cache
def _fernet_of(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


def is_current(token: str) -> bool:
    """Whether the first key (the one that encrypts) reads `token`: nothing to re-encrypt."""
    first = _keys(tuple(settings.FIELD_ENCRYPTION_KEYS), settings.SECRET_KEY)[0]
    try:
        _fernet_of((first,)).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def reencrypt(token: str) -> str:
    """The same plaintext encrypted with the first key; raises InvalidToken if no key reads `token`."""
    return _fernet().rotate(token.encode()).decode()

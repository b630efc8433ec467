"""Reliability fixtures; the fault injection itself (proxies, a production-like web process, lock
holders) is in tests/support/faults.py."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet


@pytest.fixture
def encryption_key(settings: Any) -> str:
    """A field-encryption key shared with a DEBUG-off web process (which requires one): the secrets of
    the sources a test creates are encrypted with it."""
    key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [key]
    return key

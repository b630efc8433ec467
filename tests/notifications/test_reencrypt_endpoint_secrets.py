"""Rotating FIELD_ENCRYPTION_KEYS: `manage.py reencrypt_endpoint_secrets` moves every outbound endpoint's
signing secret to the new first key (the same plaintext, still signing), and a second run rewrites nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from core import crypto
from notifications.models import EndpointSecret
from notifications.services.endpoints import endpoint_create
from notifications.signing import endpoint_secrets_live
from tests.factories import VendorFactory

pytestmark = pytest.mark.django_db

OLD, NEW = (Fernet.generate_key().decode() for _ in range(2))


def run() -> str:
    out = StringIO()
    call_command("reencrypt_endpoint_secrets", stdout=out)
    return out.getvalue()


def test_every_endpoint_secret_moves_to_the_new_key_and_still_signs() -> None:
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD]):
        endpoint, secret = endpoint_create(
            vendor=VendorFactory.create(), url="https://hooks.example.com/verity", actor="system"
        )
    before = EndpointSecret.objects.get(endpoint=endpoint).secret_encrypted

    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW, OLD]):
        assert run() == "Re-encrypted 1 endpoint secret(s); 0 already used the first key.\n"
        assert run() == "Re-encrypted 0 endpoint secret(s); 1 already used the first key.\n"

    after = EndpointSecret.objects.get(endpoint=endpoint).secret_encrypted
    assert after != before
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW]):
        assert crypto.is_current(after)
        assert endpoint_secrets_live(endpoint_id=endpoint.pk, now=timezone.now()) == [secret]

"""Rotating FIELD_ENCRYPTION_KEYS: `manage.py reencrypt_secrets` moves every stored webhook secret to the
new first key, so the old key can be dropped; a second run rewrites nothing; an unreadable secret fails
the command without touching the others' plaintext."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from contracts.models import WebhookSecret, WebhookSource
from contracts.selectors import webhook_source_live_secrets
from contracts.services.credentials import webhook_source_create, webhook_source_rotate_secret
from core import crypto
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

OLD, NEW, OTHER = (Fernet.generate_key().decode() for _ in range(3))


def stored_tokens() -> dict[int, str]:
    return dict(WebhookSecret.objects.values_list("pk", "secret_encrypted"))


def run(*args: str) -> str:
    out = StringIO()
    call_command("reencrypt_secrets", *args, stdout=out)
    return out.getvalue()


def sources_under_old_key() -> dict[str, list[str]]:
    """Two sources, one with a rotated secret (three secrets), all encrypted with OLD alone."""
    plaintexts: dict[str, list[str]] = {}
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD]):
        for name in ("crm", "helpdesk"):
            customer = CustomerFactory.create()
            source, secret = webhook_source_create(
                vendor=customer.vendor, customer=customer, name=name, kind="customer_system", actor="system"
            )
            plaintexts[str(source.pk)] = [secret]
        rotated = next(iter(plaintexts))
        source = WebhookSource.objects.get(pk=rotated)
        new = webhook_source_rotate_secret(source=source, overlap=dt.timedelta(hours=1), actor="system")
        plaintexts[rotated].insert(0, new)
    return plaintexts


def test_reencrypts_every_secret_so_the_old_key_can_be_dropped() -> None:
    # given three secrets encrypted with OLD
    plaintexts = sources_under_old_key()
    before = stored_tokens()

    # when NEW is prepended and the command runs
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW, OLD]):
        output = run("--batch-size", "2")  # two batches

    # then every token changed, and NEW alone reads each back to the same plaintext
    assert output == "Re-encrypted 3 webhook secret(s); 0 already used the first key.\n"
    after = stored_tokens()
    assert after.keys() == before.keys()
    assert all(after[pk] != before[pk] for pk in before)
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW]):
        for source_id, secrets in plaintexts.items():
            assert (
                webhook_source_live_secrets(source=WebhookSource.objects.get(pk=source_id), at=timezone.now())
                == secrets
            )
        assert all(crypto.is_current(token) for token in after.values())
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD]):
        assert not any(crypto.is_current(token) for token in after.values())


def test_a_second_run_rewrites_nothing() -> None:
    sources_under_old_key()
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW, OLD]):
        run()
        once = stored_tokens()

        output = run()

    assert output == "Re-encrypted 0 webhook secret(s); 3 already used the first key.\n"
    assert stored_tokens() == once


def test_a_secret_no_key_reads_fails_the_command_and_the_others_are_still_moved() -> None:
    # given secrets under OLD, and one under a key that is no longer configured
    sources_under_old_key()
    with override_settings(FIELD_ENCRYPTION_KEYS=[OTHER]):
        customer = CustomerFactory.create()
        source, _ = webhook_source_create(
            vendor=customer.vendor, customer=customer, name="lost", kind="customer_system", actor="system"
        )
    lost = WebhookSecret.objects.get(source=source)

    # when the command runs with NEW and OLD only
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW, OLD]), pytest.raises(CommandError) as error:
        run()

    # then it names the unreadable secret, leaves it as it was, and moved the three others
    assert f"(ids {lost.pk})" in str(error.value)
    assert WebhookSecret.objects.get(pk=lost.pk).secret_encrypted == lost.secret_encrypted
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW]):
        movable = WebhookSecret.objects.exclude(pk=lost.pk)
        assert all(crypto.is_current(secret.secret_encrypted) for secret in movable)

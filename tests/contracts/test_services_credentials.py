"""Credentials: API keys (shown once, stored hashed) and webhook signing secrets (encrypted, rotated)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from typing import Any

import pytest
import time_machine
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from contracts.models import ApiKey, AuditEntry, Vendor, WebhookSecret, WebhookSource
from contracts.selectors import webhook_source_live_secrets
from contracts.services.credentials import (
    api_key_authenticate,
    api_key_create,
    api_key_revoke,
    webhook_source_create,
    webhook_source_revoke,
    webhook_source_rotate_secret,
)
from core import crypto
from core.errors import Conflict, ValidationFailed
from tests.factories import CustomerFactory, VendorFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
T0 = dt.datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
HOUR = dt.timedelta(hours=1)


def stored_text(model: type[Any], pk: Any) -> str:
    """Every column of one row, as text: what a database dump would show."""
    return json.dumps(model.objects.filter(pk=pk).values().get(), default=str)


# --- API keys -----------------------------------------------------------------------------------


def test_api_key_plaintext_is_returned_once_and_only_its_hash_is_stored() -> None:
    # given a vendor
    vendor = VendorFactory.create()

    # when a key is created
    api_key, raw_key = api_key_create(vendor=vendor, name="ci", actor="user:ann@v.test")

    # then the plaintext reads vrt_<prefix>_<secret>, the prefix is stored, the secret only as SHA-256
    label, prefix, secret = raw_key.split("_", 2)
    assert (label, prefix) == ("vrt", api_key.prefix)
    assert len(secret) >= 43
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in stored_text(ApiKey, api_key.pk)
    assert raw_key not in stored_text(ApiKey, api_key.pk)
    assert str(stored) == f"ci (vrt_{prefix}_…)"
    entry = AuditEntry.objects.get(object_id=str(api_key.pk))
    assert (entry.actor, entry.action, entry.object_type) == ("user:ann@v.test", "api_key.created", "apikey")
    assert secret not in stored_text(AuditEntry, entry.pk)


def test_two_keys_never_share_a_prefix_or_a_secret() -> None:
    vendor = VendorFactory.create()
    raw_keys = [api_key_create(vendor=vendor, name=f"k{i}", actor="system")[1] for i in range(20)]
    assert len({raw.split("_", 2)[1] for raw in raw_keys}) == 20
    assert len({raw.split("_", 2)[2] for raw in raw_keys}) == 20


def test_api_key_with_an_unknown_scope_is_refused() -> None:
    vendor = VendorFactory.create()
    with pytest.raises(ValidationFailed) as caught:
        api_key_create(vendor=vendor, name="ci", scope="admin", actor="system")
    assert [e["code"] for e in caught.value.field_errors["scope"]] == ["invalid_choice"]
    assert not ApiKey.objects.exists()


def test_authenticate_with_the_right_key_finds_it() -> None:
    api_key, raw_key = api_key_create(vendor=VendorFactory.create(), name="ci", actor="system")
    found = api_key_authenticate(raw_key=raw_key)
    assert found == api_key
    assert found is not None
    assert found.vendor == api_key.vendor


@pytest.fixture
def issued_key() -> tuple[ApiKey, str]:
    return api_key_create(vendor=VendorFactory.create(), name="ci", actor="system")


def test_authenticate_with_a_wrong_secret_is_refused(issued_key: tuple[ApiKey, str]) -> None:
    api_key, raw_key = issued_key
    tampered = raw_key[:-1] + ("A" if raw_key[-1] != "A" else "B")
    assert api_key_authenticate(raw_key=tampered) is None
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at is None


def test_authenticate_with_an_unknown_prefix_is_refused(issued_key: tuple[ApiKey, str]) -> None:
    api_key, raw_key = issued_key
    _, _, secret = raw_key.split("_", 2)
    assert api_key_authenticate(raw_key=f"vrt_000000000000_{secret}") is None
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at is None


@pytest.mark.parametrize(
    "malformed",
    [
        "",
        "vrt",
        "vrt_",
        "vrt_abc",
        "vrt__",
        "sk_live_abc",
        "Bearer vrt_abc_def",
        "VRT_abc_def",
        "vrt_ab\x00cdef012345_secret",  # a NUL byte must not reach the database
        "vrt_" + "f" * 200 + "_secret",
    ],
)
def test_authenticate_with_a_malformed_key_is_refused(issued_key: tuple[ApiKey, str], malformed: str) -> None:
    assert api_key_authenticate(raw_key=malformed) is None


def test_authenticate_with_another_keys_secret_is_refused() -> None:
    vendor = VendorFactory.create()
    _, first = api_key_create(vendor=vendor, name="one", actor="system")
    _, second = api_key_create(vendor=vendor, name="two", actor="system")
    first_prefix = first.split("_", 2)[1]
    second_secret = second.split("_", 2)[2]
    assert api_key_authenticate(raw_key=f"vrt_{first_prefix}_{second_secret}") is None


def test_a_revoked_key_no_longer_authenticates(issued_key: tuple[ApiKey, str]) -> None:
    api_key, raw_key = issued_key

    revoked = api_key_revoke(api_key=api_key, actor="user:ann@v.test")

    assert revoked.revoked_at is not None
    assert not revoked.is_active
    assert api_key_authenticate(raw_key=raw_key) is None


def test_revoking_twice_changes_nothing_the_second_time(issued_key: tuple[ApiKey, str]) -> None:
    api_key, _ = issued_key
    first = api_key_revoke(api_key=api_key, actor="user:ann@v.test").revoked_at

    second = api_key_revoke(api_key=api_key, actor="user:bo@v.test").revoked_at

    assert second == first
    assert list(AuditEntry.objects.filter(action="api_key.revoked").values_list("actor", flat=True)) == [
        "user:ann@v.test"
    ]


def test_last_used_at_is_written_at_most_once_a_minute(issued_key: tuple[ApiKey, str]) -> None:
    api_key, raw_key = issued_key

    def used_at(at: dt.datetime) -> dt.datetime | None:
        with time_machine.travel(at, tick=False):
            assert api_key_authenticate(raw_key=raw_key) is not None
        return ApiKey.objects.get(pk=api_key.pk).last_used_at

    # the first use is recorded; uses within the next minute are not; a use a minute later is
    assert used_at(T0) == T0
    assert used_at(T0 + dt.timedelta(seconds=1)) == T0
    assert used_at(T0 + dt.timedelta(seconds=59, microseconds=999_999)) == T0
    assert used_at(T0 + dt.timedelta(minutes=1)) == T0 + dt.timedelta(minutes=1)
    assert used_at(T0 + dt.timedelta(minutes=1, seconds=30)) == T0 + dt.timedelta(minutes=1)


def test_authenticating_within_the_minute_writes_nothing(
    issued_key: tuple[ApiKey, str], django_assert_num_queries: Any
) -> None:
    _, raw_key = issued_key
    with time_machine.travel(T0, tick=False):
        api_key_authenticate(raw_key=raw_key)
    with time_machine.travel(T0 + dt.timedelta(seconds=30), tick=False), django_assert_num_queries(1):
        api_key_authenticate(raw_key=raw_key)


# --- webhook sources and their secrets ----------------------------------------------------------


def new_source(vendor: Vendor | None = None) -> tuple[WebhookSource, str]:
    customer = CustomerFactory.create(**({"vendor": vendor} if vendor else {}))
    return webhook_source_create(
        vendor=customer.vendor, customer=customer, name="crm", kind="customer_system", actor="system"
    )


def signed_by(secret: str, payload: str, *, at: dt.datetime, msg_id: str = "msg_1") -> dict[str, str]:
    """Standard Webhooks headers a sender holding `secret` would send at `at`."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, payload),
    }


def verifies(secrets: list[str], payload: str, headers: dict[str, str]) -> bool:
    for secret in secrets:
        try:
            Webhook(secret).verify(payload, headers)
        except WebhookVerificationError:
            continue
        return True
    return False


def test_webhook_secret_is_stored_encrypted_and_decrypts_to_the_plaintext() -> None:
    source, secret = new_source()

    stored = WebhookSecret.objects.get(source=source)
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert secret not in stored_text(WebhookSecret, stored.pk)
    assert secret.removeprefix("whsec_") not in stored_text(WebhookSecret, stored.pk)
    assert crypto.decrypt(stored.secret_encrypted) == secret
    assert (stored.hint, stored.expires_at) == (secret[-4:], None)
    assert str(stored) == f"whsec_…{secret[-4:]}"


def test_webhook_source_for_another_vendors_customer_is_refused() -> None:
    foreign_customer = CustomerFactory.create()
    vendor = VendorFactory.create()
    with pytest.raises(ValidationFailed) as caught:
        webhook_source_create(
            vendor=vendor, customer=foreign_customer, name="crm", kind="customer_system", actor="system"
        )
    assert list(caught.value.field_errors) == ["customer_id"]
    assert not WebhookSource.objects.exists()
    assert not WebhookSecret.objects.exists()


def test_webhook_source_with_an_unknown_kind_is_refused() -> None:
    customer = CustomerFactory.create()
    with pytest.raises(ValidationFailed) as caught:
        webhook_source_create(
            vendor=customer.vendor, customer=customer, name="x", kind="robot", actor="system"
        )
    assert [e["code"] for e in caught.value.field_errors["kind"]] == ["invalid_choice"]
    assert not WebhookSource.objects.exists()


def test_the_secret_verifies_a_real_standard_webhooks_signature() -> None:
    # given a source and an event signed by a sender holding its secret
    with time_machine.travel(T0, tick=False):
        source, secret = new_source()
        payload = json.dumps({"type": "ticket.resolved", "ticket_id": "T-1"})
        headers = signed_by(secret, payload, at=T0)

        # when the receiver verifies with the live secrets, then it is authentic
        live = webhook_source_live_secrets(source=source, at=T0)
        assert live == [secret]
        assert Webhook(live[0]).verify(payload, headers) == {"type": "ticket.resolved", "ticket_id": "T-1"}

        # and a changed body or another source's secret does not verify
        assert not verifies(live, payload.replace("T-1", "T-2"), headers)
        _, other_secret = new_source()
        assert not verifies(live, payload, signed_by(other_secret, payload, at=T0))


def test_during_rotation_both_secrets_verify_and_after_the_overlap_only_the_new_one() -> None:
    payload = '{"type":"ticket.resolved"}'
    with time_machine.travel(T0, tick=False):
        source, old = new_source()
        new = webhook_source_rotate_secret(source=source, overlap=HOUR, actor="user:ann@v.test")

    # during the overlap both are live, newest first, and a sender still on the old one is accepted
    for at in (T0, T0 + HOUR - dt.timedelta(microseconds=1)):
        assert webhook_source_live_secrets(source=source, at=at) == [new, old]
    with time_machine.travel(T0 + HOUR - dt.timedelta(seconds=1), tick=False):
        at = T0 + HOUR - dt.timedelta(seconds=1)
        assert verifies(
            webhook_source_live_secrets(source=source, at=at), payload, signed_by(old, payload, at=at)
        )

    # from the end of the overlap only the new one is live, and the old one verifies nothing
    with time_machine.travel(T0 + HOUR, tick=False):
        live = webhook_source_live_secrets(source=source, at=T0 + HOUR)
        assert live == [new]
        assert not verifies(live, payload, signed_by(old, payload, at=T0 + HOUR))
        assert verifies(live, payload, signed_by(new, payload, at=T0 + HOUR))
    entry = AuditEntry.objects.get(action="webhook_source.secret_rotated")
    assert (entry.actor, entry.at, entry.details) == ("user:ann@v.test", T0, {"overlap_seconds": 3600})


def test_rotating_again_within_the_overlap_never_extends_an_earlier_expiry() -> None:
    # given a rotation at T0 with a one-hour overlap: secret A expires at T0+1h
    with time_machine.travel(T0, tick=False):
        source, a = new_source()
        b = webhook_source_rotate_secret(source=source, overlap=HOUR, actor="system")

    # when rotating again ten minutes later with a two-hour overlap
    with time_machine.travel(T0 + dt.timedelta(minutes=10), tick=False):
        c = webhook_source_rotate_secret(source=source, overlap=2 * HOUR, actor="system")

    # then A keeps its T0+1h expiry, B expires two hours after the second rotation, C does not expire
    expiries = {
        crypto.decrypt(s.secret_encrypted): s.expires_at for s in WebhookSecret.objects.filter(source=source)
    }
    assert expiries == {a: T0 + HOUR, b: T0 + dt.timedelta(minutes=130), c: None}
    assert webhook_source_live_secrets(source=source, at=T0 + HOUR) == [c, b]


def test_rotating_again_with_a_shorter_overlap_shortens_every_live_secret() -> None:
    with time_machine.travel(T0, tick=False):
        source, a = new_source()
        b = webhook_source_rotate_secret(source=source, overlap=HOUR, actor="system")
    with time_machine.travel(T0 + dt.timedelta(minutes=10), tick=False):
        c = webhook_source_rotate_secret(source=source, overlap=dt.timedelta(minutes=5), actor="system")

    cut = T0 + dt.timedelta(minutes=15)
    expiries = {
        crypto.decrypt(s.secret_encrypted): s.expires_at for s in WebhookSecret.objects.filter(source=source)
    }
    assert expiries == {a: cut, b: cut, c: None}


def test_rotation_with_zero_overlap_retires_the_old_secret_at_once() -> None:
    with time_machine.travel(T0, tick=False):
        source, _ = new_source()
        new = webhook_source_rotate_secret(source=source, overlap=dt.timedelta(0), actor="system")
    assert webhook_source_live_secrets(source=source, at=T0) == [new]


def test_an_expired_secret_is_not_touched_by_a_later_rotation() -> None:
    with time_machine.travel(T0, tick=False):
        source, a = new_source()
        webhook_source_rotate_secret(source=source, overlap=HOUR, actor="system")
    with time_machine.travel(T0 + 2 * HOUR, tick=False):
        webhook_source_rotate_secret(source=source, overlap=HOUR, actor="system")
    expired = next(
        s for s in WebhookSecret.objects.filter(source=source) if crypto.decrypt(s.secret_encrypted) == a
    )
    assert expired.expires_at == T0 + HOUR


@pytest.mark.parametrize("overlap", [dt.timedelta(seconds=-1), dt.timedelta(days=30, seconds=1)])
def test_rotation_overlap_out_of_range_is_refused(overlap: dt.timedelta) -> None:
    source, _ = new_source()

    with pytest.raises(ValidationFailed) as caught:
        webhook_source_rotate_secret(source=source, overlap=overlap, actor="system")

    assert [e["code"] for e in caught.value.field_errors["overlap_seconds"]] == ["out_of_range"]
    assert list(WebhookSecret.objects.filter(source=source).values_list("expires_at", flat=True)) == [None]
    assert not AuditEntry.objects.filter(action="webhook_source.secret_rotated").exists()


def test_rotation_overlap_of_thirty_days_is_accepted() -> None:
    with time_machine.travel(T0, tick=False):
        source, old = new_source()
        new = webhook_source_rotate_secret(source=source, overlap=dt.timedelta(days=30), actor="system")
    expiry = T0 + dt.timedelta(days=30)
    just_before = expiry - dt.timedelta(microseconds=1)
    assert webhook_source_live_secrets(source=source, at=just_before) == [new, old]
    assert webhook_source_live_secrets(source=source, at=expiry) == [new]


def test_rotating_a_revoked_source_is_a_conflict() -> None:
    source, _ = new_source()
    webhook_source_revoke(source=source, actor="system")

    with pytest.raises(Conflict) as caught:
        webhook_source_rotate_secret(source=source, overlap=HOUR, actor="system")

    assert (caught.value.status, caught.value.code) == (409, "source_revoked")
    assert WebhookSecret.objects.filter(source=source).count() == 1
    assert not AuditEntry.objects.filter(action="webhook_source.secret_rotated").exists()


def test_revoking_a_source_twice_changes_nothing_the_second_time() -> None:
    source, _ = new_source()
    first = webhook_source_revoke(source=source, actor="user:ann@v.test").revoked_at
    second = webhook_source_revoke(source=source, actor="user:bo@v.test").revoked_at
    assert first is not None
    assert second == first
    assert list(
        AuditEntry.objects.filter(action="webhook_source.revoked").values_list("actor", flat=True)
    ) == ["user:ann@v.test"]

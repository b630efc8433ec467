"""The audit log: who did what, when; filters by actor and action; keyset paging; one vendor's entries only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from contracts.models import AuditEntry, Vendor
from tests.factories import VendorFactory
from tests.support.portal import Member

pytestmark = pytest.mark.django_db


def entries(
    vendor: Vendor, count: int, *, actor: str = "user:ada@x.test", action: str = "contract.created"
) -> None:
    now = timezone.now()
    AuditEntry.objects.bulk_create(
        AuditEntry(
            vendor=vendor,
            actor=actor,
            action=action,
            object_type="contract",
            object_id=f"obj-{n}",
            details={"n": n},
            at=now - dt.timedelta(minutes=count - n),
        )
        for n in range(count)
    )


def test_the_log_shows_who_did_what_when(viewer_client: Client, viewer: Member) -> None:
    entries(viewer.vendor, 2)
    entries(VendorFactory.create(), 1, actor="user:someone@else.test")
    content = viewer_client.get("/audit/").content.decode()
    assert content.count("user:ada@x.test") == 2
    assert "someone@else.test" not in content
    assert "contract.created" in content
    assert "n: 1" in content


def test_filters_by_actor_and_action(owner_client: Client, owner: Member) -> None:
    entries(owner.vendor, 1, actor="user:ada@x.test", action="contract.created")
    entries(owner.vendor, 1, actor="api_key:abc123", action="api_key.revoked")
    content = owner_client.get("/audit/?actor=api_key").content.decode()
    assert "api_key:abc123" in content
    assert "user:ada@x.test" not in content
    content = owner_client.get("/audit/?action=contract.created").content.decode()
    assert "user:ada@x.test" in content
    assert "api_key:abc123" not in content
    assert '<option value="api_key.revoked">' in content  # the recorded actions are the choices
    assert "No entries match these filters" in owner_client.get("/audit/?action=nothing").content.decode()


def test_pages_by_key_keeping_the_filters(owner_client: Client, owner: Member) -> None:
    entries(owner.vendor, 55)
    entries(owner.vendor, 3, action="api_key.created")
    first = owner_client.get("/audit/?action=contract.created")
    assert first.context["page"].has_next
    assert [entry.details["n"] for entry in first.context["page"].items] == list(range(54, 4, -1))
    second = owner_client.get(f"/audit/?{first.context['page'].next_query}")
    assert "action=contract.created" in first.context["page"].next_query
    assert [entry.details["n"] for entry in second.context["page"].items] == [4, 3, 2, 1, 0]
    assert not second.context["page"].has_next
    assert second.context["page"].has_previous


def test_portal_actions_write_entries_with_the_person_as_actor(owner_client: Client, owner: Member) -> None:
    owner_client.post("/settings/api-keys/", {"name": "Exporter", "scope": "write"})
    content = owner_client.get("/audit/").content.decode()
    assert f"user:{owner.user.email}" in content
    assert "api_key.created" in content

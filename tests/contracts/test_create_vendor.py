"""`manage.py create_vendor`: a real deployment's first vendor and owner, without the admin or a shell."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from contracts.models import AuditEntry, Membership, Role, Vendor

pytestmark = pytest.mark.django_db


def create(*extra: str, **overrides: str) -> str:
    options = {"name": "Acme Agents", "slug": "acme", "owner_email": "owner@acme.test", **overrides}
    out = io.StringIO()
    call_command(
        "create_vendor",
        "--name",
        options["name"],
        "--slug",
        options["slug"],
        "--owner-email",
        options["owner_email"],
        "--base-url",
        "https://verity.example.com/",
        *extra,
        stdout=out,
    )
    return out.getvalue()


def test_a_vendor_and_its_owner_are_created_and_the_owner_sets_a_password_through_the_printed_link() -> None:
    out = create()

    membership = Membership.objects.select_related("vendor", "user").get()
    assert (membership.vendor.slug, membership.role, membership.user.email) == (
        "acme",
        Role.OWNER,
        "owner@acme.test",
    )
    assert not membership.user.has_usable_password()
    assert not membership.user.is_staff  # the admin is for operators, not vendors
    assert AuditEntry.objects.filter(vendor=membership.vendor, action="vendor.created").count() == 1
    link = out.strip().splitlines()[-1]
    assert link.startswith("https://verity.example.com/")
    path = link.removeprefix("https://verity.example.com")
    client = Client()
    form = client.get(path, follow=True)  # Django keeps the token in the session and redirects to the form
    assert form.status_code == 200
    response = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-long-new-pass-2026", "new_password2": "a-long-new-pass-2026"},
    )
    assert response.status_code == 302
    membership.user.refresh_from_db()
    assert membership.user.has_usable_password()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"slug": "Not A Slug"}, "slug"),
        ({"owner_email": "not-an-email"}, "owner_email"),
        ({"name": " "}, "name"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_created(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        create(**overrides)

    assert not Vendor.objects.exists()


def test_a_taken_slug_or_an_owner_of_another_vendor_is_refused() -> None:
    create()

    with pytest.raises(CommandError, match="already exists"):
        create(owner_email="other@acme.test")
    with pytest.raises(CommandError, match="already belongs"):
        create(slug="acme-two")

    assert Vendor.objects.count() == 1

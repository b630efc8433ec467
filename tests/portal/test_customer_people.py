"""The customer's admins manage its own people from the portal (Settings, People): invite by email (a
set-password link is sent), change a role, remove; approvers and viewers only read; the last admin stays;
another customer's person is a 404."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from contracts.models import AuditEntry, CustomerMembership, CustomerRole
from contracts.services.customer_members import customer_member_change_role, customer_member_remove
from core.errors import Conflict, NotFound, PermissionDenied
from tests.factories import CustomerFactory
from tests.support.portal import make_customer_member, signed_in

pytestmark = pytest.mark.django_db

PEOPLE = "/customer/settings/people/"


def test_an_admin_invites_changes_a_role_and_removes(django_capture_on_commit_callbacks: Any) -> None:
    customer = CustomerFactory.create()
    admin = make_customer_member(customer=customer, role=CustomerRole.ADMIN)
    client = signed_in(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(PEOPLE, {"email": "Dora@Buyer.test", "role": "viewer"})
    assert response.status_code == 302
    dora = CustomerMembership.objects.get(user__email__iexact="dora@buyer.test")
    assert (dora.customer, dora.role) == (customer, CustomerRole.VIEWER)
    [message] = mail.outbox
    assert customer.name in message.subject
    link = re.search(r"http://testserver(/accounts/reset/\S+)", str(message.body))
    assert link is not None
    page = client.get("/customer/settings/").content.decode()
    assert "Dora@buyer.test" in page
    assert f"{PEOPLE}{dora.pk}/remove/" in page

    assert client.post(f"{PEOPLE}{dora.pk}/role/", {"role": "approver"}).status_code == 302
    dora.refresh_from_db()
    assert dora.role == CustomerRole.APPROVER
    assert client.post(f"{PEOPLE}{dora.pk}/remove/").status_code == 302
    assert not CustomerMembership.objects.filter(pk=dora.pk).exists()
    entries = AuditEntry.objects.filter(action__startswith="customer_member").order_by("pk")
    assert [(e.action, e.actor) for e in entries] == [
        (action, f"customer_user:{admin.user.email}")
        for action in ("customer_member.invited", "customer_member.role_changed", "customer_member.removed")
    ]


def test_approvers_and_viewers_read_the_people_but_change_nothing() -> None:
    customer = CustomerFactory.create()
    admin = make_customer_member(customer=customer, role=CustomerRole.ADMIN)
    target = CustomerMembership.objects.get(user=admin.user)
    for role in (CustomerRole.APPROVER, CustomerRole.VIEWER):
        person = make_customer_member(customer=customer, role=role)
        client = signed_in(person)
        page = client.get("/customer/settings/").content.decode()
        assert admin.user.email in page
        assert f"{PEOPLE}{target.pk}/remove/" not in page
        for url, body in (
            (PEOPLE, {"email": "x@buyer.test", "role": "admin"}),
            (f"{PEOPLE}{target.pk}/role/", {"role": "viewer"}),
            (f"{PEOPLE}{target.pk}/remove/", {}),
        ):
            assert client.post(url, body).status_code == 403, (role, url)
        # The service refuses them the same way, whoever calls it.
        with pytest.raises(PermissionDenied):
            customer_member_remove(
                membership=target, by=CustomerMembership.objects.get(user=person.user), actor="t"
            )
    target.refresh_from_db()
    assert target.role == CustomerRole.ADMIN
    assert not CustomerMembership.objects.filter(user__email="x@buyer.test").exists()
    assert not AuditEntry.objects.filter(action__startswith="customer_member").exists()


def test_the_last_admin_is_neither_removed_nor_demoted_even_by_itself() -> None:
    customer = CustomerFactory.create()
    admin = make_customer_member(customer=customer, role=CustomerRole.ADMIN)
    me = CustomerMembership.objects.get(user=admin.user)
    client = signed_in(admin)
    for url, body in ((f"{PEOPLE}{me.pk}/role/", {"role": "approver"}), (f"{PEOPLE}{me.pk}/remove/", {})):
        response = client.post(url, body, follow=True)
        assert "last admin" in response.content.decode()
    with pytest.raises(Conflict) as refused:
        customer_member_change_role(membership=me, role="viewer", by=me, actor="t")
    assert refused.value.code == "last_admin"
    me.refresh_from_db()
    assert me.role == CustomerRole.ADMIN
    # With a second admin, either may step down.
    second = make_customer_member(customer=customer, role=CustomerRole.ADMIN)
    assert client.post(f"{PEOPLE}{me.pk}/role/", {"role": "approver"}).status_code == 302
    me.refresh_from_db()
    assert me.role == CustomerRole.APPROVER
    assert CustomerMembership.objects.get(user=second.user).role == CustomerRole.ADMIN


def test_another_customers_person_is_a_404_and_nothing_changes() -> None:
    customer = CustomerFactory.create()
    admin = make_customer_member(customer=customer, role=CustomerRole.ADMIN)
    neighbour = CustomerFactory.create(vendor=customer.vendor)
    theirs = make_customer_member(customer=neighbour, role=CustomerRole.VIEWER)
    their_membership = CustomerMembership.objects.get(user=theirs.user)
    client: Client = signed_in(admin)
    assert client.post(f"{PEOPLE}{their_membership.pk}/role/", {"role": "admin"}).status_code == 404
    assert client.post(f"{PEOPLE}{their_membership.pk}/remove/").status_code == 404
    with pytest.raises(NotFound):
        customer_member_remove(
            membership=their_membership, by=CustomerMembership.objects.get(user=admin.user), actor="t"
        )
    their_membership.refresh_from_db()
    assert their_membership.role == CustomerRole.VIEWER


def test_an_invitation_with_errors_shows_them_on_the_form_and_invites_no_one() -> None:
    customer = CustomerFactory.create()
    admin = make_customer_member(customer=customer, role=CustomerRole.ADMIN)
    client = signed_in(admin)
    before = CustomerMembership.objects.count()

    bad = client.post(PEOPLE, {"email": "not an email", "role": "owner"})

    assert bad.status_code == 400
    page = bad.content.decode()
    assert "2 problems to fix" in page
    # Each error beside its input, the typed values kept, the form open.
    for name in ("email", "role"):
        errors = re.search(rf'id="[^"]*{name}-errors">(.*?)</ul>', page, re.S)
        assert errors is not None, name
        assert "<li>" in errors.group(1), name
    assert 'value="not an email"' in page
    assert "<details open>" in page
    already = client.post(PEOPLE, {"email": admin.user.email, "role": "viewer"})
    assert already.status_code == 400
    assert "already" in already.content.decode()
    assert CustomerMembership.objects.count() == before
    assert not mail.outbox
    assert not AuditEntry.objects.filter(action__startswith="customer_member").exists()

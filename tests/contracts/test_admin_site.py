"""The admin's site is for operators: a member of a vendor's team never enters it, even marked staff."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from contracts.models import Membership, Role
from tests.factories import CustomerFactory, VendorFactory

pytestmark = pytest.mark.django_db

CUSTOMERS = "/admin/contracts/customer/"


def signed_in(username: str, *, member: bool) -> Client:
    user = get_user_model().objects.create_superuser(username=username, email=username, password="unused")
    if member:
        Membership.objects.create(user=user, vendor=VendorFactory.create(), role=Role.OWNER)
    client = Client()
    client.force_login(user)
    return client


def test_a_vendors_member_marked_superuser_sees_no_admin_page() -> None:
    CustomerFactory.create(name="Initech")
    member = signed_in("owner@vendor.test", member=True)

    index = member.get("/admin/")
    customers = member.get(CUSTOMERS)

    assert index.status_code == 302
    assert index["Location"] == "/admin/login/?next=/admin/"
    assert customers.status_code == 302
    assert b"Initech" not in customers.content


def test_an_operator_outside_every_team_sees_every_vendors_data() -> None:
    CustomerFactory.create(name="Initech")
    operator = signed_in("ops@verity.test", member=False)

    customers = operator.get(CUSTOMERS)

    assert customers.status_code == 200
    assert b"Initech" in customers.content


def test_the_admin_sign_in_page_tells_a_signed_in_member_they_may_not_enter() -> None:
    member = signed_in("owner@vendor.test", member=True)

    page = member.get("/admin/login/")

    assert page.status_code == 200
    assert b"not authorized to access this page" in page.content

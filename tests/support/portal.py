"""Portal stories: members of a vendor with a role, a signed-in test client, and browser screenshots."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client

from contracts.models import Customer, CustomerMembership, CustomerRole, Membership, Role, Vendor
from tests.factories import VendorFactory

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "correct-horse-battery-staple-42"


@dataclass
class Member:
    vendor: Vendor
    user: Any
    role: str
    password: str = PASSWORD

    @property
    def username(self) -> str:
        return str(self.user.get_username())


_counter = iter(range(1, 10**9))


def make_member(*, role: str = Role.OWNER, vendor: Vendor | None = None) -> Member:
    vendor = vendor if vendor is not None else VendorFactory.create()
    n = next(_counter)
    email = f"{role}{n}@{vendor.slug}.test"
    user = get_user_model().objects.create_user(username=email, email=email, password=PASSWORD)
    Membership.objects.create(user=user, vendor=vendor, role=role)
    return Member(vendor=vendor, user=user, role=role)


def make_customer_member(*, customer: Customer, role: str = CustomerRole.VIEWER, user: Any = None) -> Member:
    """A person of `customer` in the customer portal (a new user, or `user` who may belong elsewhere too)."""
    if user is None:
        email = f"{role}{next(_counter)}@customer-{customer.pk.hex[:8]}.test"
        user = get_user_model().objects.create_user(username=email, email=email, password=PASSWORD)
    CustomerMembership.objects.create(user=user, customer=customer, role=role)
    return Member(vendor=customer.vendor, user=user, role=role)


def signed_in(member: Member) -> Client:
    client = Client()
    client.force_login(member.user)
    return client


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as a test artifact and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


SignIn = Callable[[Member], None]

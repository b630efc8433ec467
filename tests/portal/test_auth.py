"""Sign in, sign out, password reset, throttling, and the vendor/role scoping every page gets."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client, override_settings

from contracts.models import ApiKey
from contracts.portal import NAV
from tests.support.portal import PASSWORD, Member, SignIn, screenshot

pytestmark = pytest.mark.django_db


def test_every_page_requires_sign_in(client: Client) -> None:
    for item in NAV:
        response = client.get(item.url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_a_user_without_a_vendor_is_refused(client: Client) -> None:
    user = get_user_model().objects.create_user(username="loner@x.test", password=PASSWORD)
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 403
    assert b"not a member of any vendor" in response.content


def test_every_nav_page_renders_for_a_member(owner_client: Client, owner: Member) -> None:
    for item in NAV:
        response = owner_client.get(item.url)
        assert response.status_code == 200, item.url
        assert owner.vendor.name in response.content.decode()
        assert 'aria-current="page"' in response.content.decode()


def test_sign_in_and_out_with_the_form(client: Client, owner: Member) -> None:
    response = client.post("/accounts/login/", {"username": owner.username, "password": "wrong"})
    assert response.status_code == 200
    assert b"Please enter a correct" in response.content
    response = client.post("/accounts/login/", {"username": owner.username, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.get("/accounts/logout/").status_code == 405  # signing out is a POST (CSRF-protected)
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


@override_settings(AXES_FAILURE_LIMIT=3)
def test_repeated_failures_lock_the_sign_in(client: Client, owner: Member) -> None:
    for _ in range(3):
        client.post("/accounts/login/", {"username": owner.username, "password": "wrong"})
    response = client.post("/accounts/login/", {"username": owner.username, "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many failed sign-ins" in response.content
    assert "_auth_user_id" not in client.session


def test_password_reset_sends_a_working_link(client: Client, owner: Member) -> None:
    response = client.post("/accounts/password_reset/", {"email": owner.user.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/reset/\S+)", str(mail.outbox[0].body))
    assert link is not None
    response = client.get(link.group(1), follow=True)
    assert response.status_code == 200
    new_password = "a-new-long-passphrase-77"
    response = client.post(
        response.redirect_chain[-1][0],
        {"new_password1": new_password, "new_password2": new_password},
    )
    assert response.status_code == 302
    response = Client().post("/accounts/login/", {"username": owner.username, "password": new_password})
    assert response.status_code == 302


def test_password_reset_rejects_a_weak_password(client: Client, owner: Member) -> None:
    client.post("/accounts/password_reset/", {"email": owner.user.email})
    link = re.search(r"http://testserver(/accounts/reset/\S+)", str(mail.outbox[0].body))
    assert link is not None
    response = client.get(link.group(1), follow=True)
    response = client.post(response.redirect_chain[-1][0], {"new_password1": "123", "new_password2": "123"})
    assert response.status_code == 200
    assert b"too short" in response.content


def test_sign_in_in_a_browser(page: Any, sign_in: SignIn, owner: Member) -> None:
    page.goto("/")
    assert "/accounts/login/" in page.url
    screenshot(page, "sign-in")
    sign_in(owner)
    assert page.get_by_role("navigation", name="Main").is_visible()
    assert page.get_by_text(owner.vendor.name).first.is_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/")
    page.goto("/")
    assert "/accounts/login/" in page.url


def test_a_portal_post_without_the_csrf_token_is_refused_and_changes_nothing(owner: Member) -> None:
    client = Client(enforce_csrf_checks=True)  # the test client skips the check unless asked
    client.force_login(owner.user)
    form = client.get("/settings/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.content.decode())
    assert token is not None

    forged = client.post("/settings/api-keys/", {"name": "forged", "scope": "write"})
    assert forged.status_code == 403
    assert not ApiKey.objects.filter(name="forged").exists()

    genuine = client.post(
        "/settings/api-keys/", {"name": "genuine", "scope": "write", "csrfmiddlewaretoken": token[1]}
    )
    assert genuine.status_code == 200
    assert ApiKey.objects.filter(name="genuine", vendor=owner.vendor).exists()

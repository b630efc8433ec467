"""Portal fixtures: members of a vendor with a role, a signed-in test client, and a real browser.

Browser tests drive Debian's Chromium (/usr/bin/chromium) through Playwright's sync API against
pytest-django's live server. Playwright runs an event loop in the test thread, so Django's
async-safety check would refuse ORM calls made by the test itself: DJANGO_ALLOW_ASYNC_UNSAFE is set
for this package only. Screenshots go to test-artifacts/screenshots/ (tests/support/portal.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from contracts.models import Role
from tests.portal.outcome_scenes import Scene, at_t0
from tests.support.portal import CHROMIUM, Member, SignIn, make_member, signed_in

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path: Path) -> Path:
    """Uploaded files (a dispute's evidence) go to the test's own directory, never the checkout's var/."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def owner(db: None) -> Member:
    return make_member(role=Role.OWNER)


@pytest.fixture
def viewer(owner: Member) -> Member:
    """A viewer of the same vendor as `owner`."""
    return make_member(role=Role.VIEWER, vendor=owner.vendor)


@pytest.fixture
def owner_client(owner: Member) -> Client:
    return signed_in(owner)


@pytest.fixture
def viewer_client(viewer: Member) -> Client:
    return signed_in(viewer)


# Outcomes made through the real webhook endpoint and pipeline (tests/portal/outcome_scenes.py) ----------


@pytest.fixture
def outcome_scene(db: None, django_capture_on_commit_callbacks: Any) -> Iterator[Scene]:
    """A scene builder, the whole test at the scenes' instant T0."""
    with at_t0():
        yield Scene(django_capture_on_commit_callbacks)


# Browser ------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install -y chromium)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, live_server: Any, transactional_db: None) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    # Every browser test also checks that the Content-Security-Policy blocked nothing the page uses.
    refused: list[str] = []
    page.on(
        "console",
        lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None,
    )
    yield page
    context.close()
    assert refused == [], "the Content-Security-Policy refused some of a page's own resources"


@pytest.fixture
def sign_in(page: Any) -> SignIn:
    """Sign in through the real form, as a person would."""

    def sign_in(member: Member) -> None:
        page.goto("/accounts/login/")
        page.get_by_label("Email or username").fill(member.username)
        page.get_by_label("Password").fill(member.password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/")

    return sign_in

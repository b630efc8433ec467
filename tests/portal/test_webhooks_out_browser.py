"""Settings > Webhooks out in a real browser: add an endpoint for some event types (its secret shown once),
send a test event and read its attempt in the delivery log; a disabled endpoint's notice and Enable."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from notifications.models import Endpoint
from notifications.services.endpoints import endpoint_create
from tests.support.portal import Member, SignIn, screenshot

# Loopback is not in the operator's allow-list here: the dispatcher refuses it at once, and says so.
URL = "https://127.0.0.1:9/verity"


def test_add_an_endpoint_send_a_test_event_and_read_the_log(
    page: Any, sign_in: SignIn, owner: Member
) -> None:
    sign_in(owner)
    page.goto("/settings/")
    page.get_by_role("link", name="Webhooks out").click()
    page.get_by_text("Add an endpoint").click()
    page.locator("#f-endpoint-url").fill(URL)
    page.locator("#f-endpoint-description").fill("Finance ERP")
    page.get_by_label("invoice.finalized").check()
    page.get_by_label("invoice.paid").check()
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.locator("#signing-secret").inner_text()
    assert secret.startswith("whsec_")
    screenshot(page, "webhooks-out-secret")

    page.get_by_role("link", name="Done: back to the endpoint").click()
    assert secret not in page.content()
    assert Endpoint.objects.get().event_types == ["invoice.finalized", "invoice.paid"]
    page.get_by_role("button", name="Send test event").click()
    assert "A webhook.test event is on its way" in page.locator(".messages").inner_text()
    log = page.locator("table").nth(1).inner_text()
    assert "webhook.test" in log
    screenshot(page, "webhooks-out-endpoint")


def test_a_disabled_endpoint_is_noticed_and_enabled(page: Any, sign_in: SignIn, owner: Member) -> None:
    endpoint, _ = endpoint_create(vendor=owner.vendor, url="https://hooks.example.com/verity", actor="system")
    Endpoint.objects.filter(pk=endpoint.pk).update(
        disabled_at=timezone.now(),
        disabled_reason="Every delivery failed for 72 hours (at least 10 attempts).",
        failing_since=timezone.now() - dt.timedelta(days=3),
        consecutive_failures=12,
    )
    sign_in(owner)
    page.goto("/")
    notice = page.locator(".webhooks-out-notice")
    assert "A webhook endpoint is disabled" in notice.inner_text()
    notice.get_by_role("link", name="Webhooks out").click()
    screenshot(page, "webhooks-out-disabled")
    page.get_by_role("button", name="Enable https://hooks.example.com/verity").click()

    assert "enabled" in page.locator(".messages").inner_text()
    assert page.locator(".webhooks-out-notice").count() == 0
    endpoint.refresh_from_db()
    assert (endpoint.disabled_at, endpoint.consecutive_failures) == (None, 0)

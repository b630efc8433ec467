"""Settings in a real browser: create a webhook source and rotate its secret (each shown once), the
settings page and the audit log that records it; a viewer's forged rotation is refused."""

from __future__ import annotations

from typing import Any

from contracts.models import WebhookSource
from contracts.services.contracts import contract_activate
from tests.factories import CustomerFactory, contract_create_for, webhook_source_create_for
from tests.support.portal import Member, SignIn, screenshot


def test_create_a_source_and_rotate_its_secret(page: Any, sign_in: SignIn, owner: Member) -> None:
    customer = CustomerFactory.create(vendor=owner.vendor, name="Acme Support", external_ref="acme")
    contract_activate(contract=contract_create_for(customer, reference="ACME-2026"), actor="system")
    sign_in(owner)
    page.goto("/settings/")
    page.get_by_text("Create a webhook source").click()
    page.locator("#f-source-name").fill("Helpdesk production")
    page.locator("#f-source-kind").select_option("customer_system")
    page.locator("#f-source-customer-id").select_option(label="Acme Support (acme)")
    page.get_by_role("button", name="Create source").click()
    first = page.locator("#signing-secret").inner_text()
    assert first.startswith("whsec_")
    assert "ACME-2026" in page.locator("#curl-example").inner_text()

    page.get_by_role("link", name="Done: back to the source").click()
    assert first not in page.content()  # shown once
    page.get_by_label("Overlap").select_option("86400")
    page.get_by_role("button", name="Rotate secret").click()
    second = page.locator("#signing-secret").inner_text()
    assert second.startswith("whsec_")
    assert second != first
    assert "the previous secret keeps verifying until the overlap ends" in page.content()
    assert second in page.locator("#curl-example").inner_text()

    source = WebhookSource.objects.get(vendor=owner.vendor)
    page.goto(f"/settings/sources/{source.pk}/")
    rows = page.locator("table tbody tr")
    assert rows.count() == 2
    assert "Expiring" in rows.nth(1).inner_text()
    assert "Active" in rows.nth(0).inner_text()

    page.goto("/settings/")
    assert page.get_by_role("link", name="Helpdesk production").is_visible()
    screenshot(page, "settings")
    page.goto("/audit/")
    log = page.locator("table").inner_text()
    assert "webhook_source.secret_rotated" in log
    assert "webhook_source.created" in log
    assert f"user:{owner.user.email}" in log
    screenshot(page, "audit-log")


def test_a_viewers_forged_rotation_is_refused(page: Any, sign_in: SignIn, viewer: Member) -> None:
    source, _ = webhook_source_create_for(CustomerFactory.create(vendor=viewer.vendor))
    sign_in(viewer)
    page.goto("/settings/")
    assert page.get_by_text("Create a webhook source").count() == 0
    page.goto(f"/settings/sources/{source.pk}/")
    assert page.get_by_role("button", name="Rotate secret").count() == 0
    token = next(cookie["value"] for cookie in page.context.cookies() if cookie["name"] == "csrftoken")
    response = page.request.post(
        f"/settings/sources/{source.pk}/rotate/",
        form={"overlap_seconds": "0"},
        headers={"X-CSRFToken": token, "Referer": page.url},
    )
    assert response.status == 403
    assert source.secrets.count() == 1

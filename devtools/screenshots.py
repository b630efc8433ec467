"""Retake the README's screenshots from a running demo (`make run`): the dashboard and the disputed
outcome's trail; the customer portal's overview and one of the customer's outcome trails (signed in as
the demo customer's person). Playwright drives Debian's Chromium, as the browser tests do.

    .venv/bin/python devtools/screenshots.py [http://127.0.0.1:8000] [docs/screenshots]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
OUT = Path(sys.argv[2] if len(sys.argv) > 2 else "docs/screenshots")
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def main() -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-background-networking"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, base_url=BASE)
        page.goto("/accounts/login/")
        page.get_by_label("Email or username").fill("demo@verity.test")
        page.get_by_label("Password").fill("verity-demo")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{BASE}/")
        page.wait_for_timeout(800)  # the charts' animation
        page.screenshot(path=OUT / "dashboard.png", full_page=True)
        page.goto("/disputes/")
        page.locator("main table a[href^='/outcomes/']").first.click()
        page.wait_for_load_state()
        page.screenshot(path=OUT / "outcome-trail.png")
        page.close()
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, base_url=BASE)
        page.goto("/accounts/login/")
        page.get_by_label("Email or username").fill("buyer@contoso.test")
        page.get_by_label("Password").fill("verity-customer")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{BASE}/customer/")
        page.wait_for_timeout(800)  # the charts' animation
        page.screenshot(path=OUT / "customer-overview.png", full_page=True)
        # A held outcome's trail says most (why it waits), else the newest outcome's.
        held = page.locator("#held a[href^='/customer/outcomes/']")
        href = held.first.get_attribute("href") if held.count() else None
        page.goto(href or "/customer/outcomes/")
        page.locator("#outcomes a[href^='/customer/outcomes/']").first.click()
        page.wait_for_load_state()
        page.screenshot(path=OUT / "customer-outcome-trail.png")
        browser.close()


if __name__ == "__main__":
    main()

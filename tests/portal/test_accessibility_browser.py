"""Accessibility in a real browser, on every main page: each form control has a label, text meets
WCAG 2.1 AA contrast (4.5:1, 3:1 for large text) against what is really behind it, the keyboard
reaches the content first through the skip link, and a phone-sized screen needs no sideways scroll."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from contracts.models import CustomerCap, Role
from contracts.portal import NAV
from settlement.invoicing.close import period_close
from tests.factories import contract_create_for, webhook_source_create_for
from tests.portal.test_invoices import contract_ingest
from tests.support.portal import SignIn, make_customer_member, make_member, screenshot
from tests.support.settlement import APRIL, MARCH, billable

pytestmark = pytest.mark.django_db(transaction=True)

OPEN_DISCLOSURES = "() => document.querySelectorAll('details').forEach(d => { d.open = true; })"
UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
  .filter(el => el.checkVisibility())
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby') && !(el.tagName === 'BUTTON' && el.innerText.trim()))
  .map(el => el.outerHTML.slice(0, 120))"""

# Every element with text of its own, its colour over the colours really behind it (alpha blended).
LOW_CONTRAST = """() => {
  const rgba = c => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(',').map(parseFloat); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const over = (top, base) => ({r: top.r * top.a + base.r * (1 - top.a), g: top.g * top.a + base.g * (1 - top.a),
                                b: top.b * top.a + base.b * (1 - top.a), a: 1});
  const background = el => { const layers = [];
    for (let e = el; e; e = e.parentElement) { const c = rgba(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; } }
    return layers.reverse().reduce((base, c) => over(c, base), {r: 255, g: 255, b: 255, a: 1}); };
  const lum = ({r, g, b}) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const failures = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent.trim()).join('');
    if (!own || !el.checkVisibility() || el.closest('[disabled], canvas, .visually-hidden')) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || parseFloat(style.opacity) === 0) continue;
    const back = background(el), fore = over(rgba(style.color), back);
    const [hi, lo] = [lum(fore), lum(back)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05), size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && parseInt(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) failures.push(`${el.tagName.toLowerCase()}.${el.className} "${own.slice(0, 30)}" ${ratio.toFixed(2)}`);
  }
  return failures; }"""


def pages_of_a_vendor() -> tuple[Any, list[str], Any, list[str]]:
    """A vendor's owner and its pages; a member of its customer and the customer portal's pages (an
    overview with a chart, a cap's meter and held outcomes: two outcomes of two days ago, maturing)."""
    ingest = contract_ingest("CTR-A11Y")
    billable(ingest, 3, MARCH + dt.timedelta(days=3))
    billable(ingest, 2, timezone.now() - dt.timedelta(days=2), prefix="RECENT")
    CustomerCap.objects.create(
        contract=ingest.contract,
        outcome_type_key="ticket.resolved",
        max_units=10,
        set_by="t",
        set_at=timezone.now(),
    )
    invoice = period_close(
        contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL + dt.timedelta(hours=1)
    )
    source, _ = webhook_source_create_for(ingest.contract.customer)
    draft = contract_create_for(ingest.contract.customer, reference="CTR-A11Y-DRAFT")
    outcome = invoice.lines.get(position=2).outcome_links.first()
    assert outcome is not None
    member = make_member(role=Role.OWNER, vendor=ingest.api.vendor)
    details = [
        f"/contracts/{ingest.contract.pk}/",
        "/contracts/new/",
        f"/contracts/{ingest.contract.pk}/amend/",
        f"/contracts/{draft.pk}/edit/",
        f"/outcomes/{outcome.outcome_id}/",
        f"/invoices/{invoice.pk}/",
        f"/invoices/{invoice.pk}/lines/2/",
        f"/settings/sources/{source.pk}/",
        f"/customers/{ingest.contract.customer_id}/",
        "/customers/new/",
        f"/customers/{ingest.contract.customer_id}/edit/",
    ]
    customer_member = make_customer_member(customer=ingest.contract.customer)
    customer_urls = ["/customer/", "/customer/outcomes/", f"/customer/outcomes/{outcome.outcome_id}/"]
    return member, [item.url for item in NAV] + details, customer_member, customer_urls


def problems_on(page: Any) -> list[str]:
    """Unlabelled controls and low-contrast text, with every disclosure (<details>) opened."""
    page.evaluate(OPEN_DISCLOSURES)
    return [*page.evaluate(UNLABELLED), *page.evaluate(LOW_CONTRAST)]


def test_every_main_page_is_labelled_and_readable(page: Any, sign_in: SignIn) -> None:
    member, urls, customer_member, customer_urls = pages_of_a_vendor()
    page.goto("/accounts/login/")
    problems = {"/accounts/login/": problems_on(page)}
    sign_in(member)
    for url in urls:
        page.goto(url)
        problems[url] = problems_on(page)
    page.context.clear_cookies()
    sign_in(customer_member)
    for url in customer_urls:
        page.goto(url)
        problems[url] = problems_on(page)
    assert page.locator("canvas[data-outcomes-per-day]").count() == 0  # the trail: no chart
    page.goto("/customer/")
    assert page.locator("canvas[data-outcomes-per-day]").count() == 1
    assert page.locator("#contract-charts meter").count() == 1
    assert {url: found for url, found in problems.items() if found} == {}


def test_the_keyboard_reaches_the_content_first(page: Any, sign_in: SignIn) -> None:
    member, *_ = pages_of_a_vendor()
    sign_in(member)
    page.goto("/outcomes/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.evaluate("getComputedStyle(document.activeElement).opacity") != "0"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    page.keyboard.press("Tab")
    assert page.evaluate("!!document.activeElement.closest('main')"), "the next stop is in the content"


def test_a_phone_sized_screen_needs_no_sideways_scroll(page: Any, sign_in: SignIn) -> None:
    member, urls, customer_member, customer_urls = pages_of_a_vendor()
    page.set_viewport_size({"width": 390, "height": 844})
    wide = {}
    for person, visited in ((member, urls), (customer_member, customer_urls)):
        page.context.clear_cookies()
        sign_in(person)
        for url in visited:
            page.goto(url)
            # Wide tables scroll inside their own box; the page itself must fit the screen.
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > 390:
                wide[url] = width
            if url in ("/", "/customer/"):
                screenshot(page, "phone-dashboard" if url == "/" else "phone-customer-overview")
    assert wide == {}

"""In a real browser: signed events posted through the real webhook endpoint show up on the dashboard,
its two charts draw."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest
from django.utils import timezone

from contracts.models import Role
from outcomes.services.building import outcomes_build_sweep
from outcomes.services.verification import outcomes_evaluate_due
from tests.portal.test_invoices import contract_ingest
from tests.support.ingest import event, sign
from tests.support.portal import SignIn, make_member, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def test_posted_events_are_counted_on_the_dashboard(page: Any, live_server: Any, sign_in: SignIn) -> None:
    ingest = contract_ingest("CTR-LIVE")
    member = make_member(role=Role.OWNER, vendor=ingest.api.vendor)
    sign_in(member)
    assert (
        page.locator(
            '#current-periods [data-contract="CTR-LIVE"] [data-figure="billable-outcomes"]'
        ).inner_text()
        == "0"
    )

    # Four outcomes today, posted over HTTP to the live server's webhook endpoint, signed as the customer.
    occurred = (timezone.now() - dt.timedelta(minutes=5)).isoformat()
    body = orjson.dumps(
        {
            "events": [
                event(contract="CTR-LIVE", natural_key=f"LIVE-{n}", occurred_at=occurred) for n in range(4)
            ]
        }
    )
    headers = {name[5:].replace("_", "-").lower(): value for name, value in sign(ingest.secret, body).items()}
    response = page.request.post(
        f"{live_server.url}/webhooks/v1/sources/{ingest.source.pk}/events",
        data=body,
        headers={**headers, "content-type": "application/json"},
    )
    assert response.status == 200, response.text()
    outcomes_build_sweep()
    outcomes_evaluate_due()

    page.reload()
    row = page.locator('#current-periods [data-contract="CTR-LIVE"]')
    assert row.locator('[data-figure="billable-outcomes"]').inner_text() == "4"
    # rated as the invoice will be: 1 free, 2 x 1.00, 1 x 0.505 (rounded once per line: 0.51)
    assert row.locator('[data-figure="billable"]').inner_text() == "2.51 USD"
    assert (
        page.locator('#states-by-contract [data-contract="CTR-LIVE"] [data-state="billable"]').inner_text()
        == "4"
    )
    assert page.locator('[data-kpi="outcomes"]').inner_text() == "4"
    # Chart.js drew the stacked bars (a canvas with pixels, not an empty box).
    assert page.evaluate("Chart.getChart('chart-outcomes').data.datasets.map(d => d.label)") == ["Billable"]
    assert page.evaluate("Chart.getChart('chart-outcomes').data.datasets[0].data.at(-1)") == 4
    screenshot(page, "dashboard")

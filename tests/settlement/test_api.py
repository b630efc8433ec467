"""The invoice API: list, detail, drill-down from a line to its outcomes, printable view, isolation."""

from __future__ import annotations

import datetime as dt

import pytest

from settlement.services.invoicing import invoice_finalize, period_close
from tests.conftest import make_vendor_api
from tests.outcomes.conftest import Ingest
from tests.settlement.conftest import APRIL, MARCH, billable

pytestmark = pytest.mark.django_db


def test_an_invoice_line_drills_down_to_the_outcomes_it_bills(ingest: Ingest) -> None:
    billable(ingest, 3, MARCH + dt.timedelta(days=2))
    invoice = invoice_finalize(
        invoice_id=period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL).pk, now=APRIL
    )
    client = ingest.api.client

    listed = client.get("/api/v1/invoices", {"contract_id": str(ingest.contract.pk)}).json()["results"]
    assert [(i["number"], i["status"], i["total_minor"]) for i in listed] == [
        (1, "finalized", invoice.total_minor)
    ]
    detail = client.get(f"/api/v1/invoices/{invoice.pk}").json()
    assert sum(line["amount_minor"] for line in detail["lines"]) == detail["total_minor"]
    tier_one = next(line for line in detail["lines"] if line["tier"] == 0)
    outcomes = client.get(f"/api/v1/invoices/{invoice.pk}/lines/{tier_one['position']}/outcomes").json()[
        "results"
    ]
    assert len(outcomes) == tier_one["quantity"] == 2
    trail = client.get(f"/api/v1/outcomes/{outcomes[0]['outcome_id']}").json()
    assert trail["state"] == "billed"
    assert trail["raw_events"]
    printable = client.get(f"/api/v1/invoices/{invoice.pk}/print")
    assert printable.status_code == 200
    assert b"Invoice #1" in printable.content


def test_another_vendor_cannot_see_the_invoice(ingest: Ingest) -> None:
    billable(ingest, 1, MARCH + dt.timedelta(days=2))
    invoice = period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL)
    other = make_vendor_api().client

    assert other.get("/api/v1/invoices").json()["results"] == []
    for path in ("", "/print", "/lines/1/outcomes"):
        response = other.get(f"/api/v1/invoices/{invoice.pk}{path}")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"

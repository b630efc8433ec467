"""The invoice API: list, detail, drill-down from a line to its outcomes, printable view, where
collection stands, credit notes (vendor and customer), isolation."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from outcomes.models import Outcome
from settlement.invoicing.close import period_close
from settlement.invoicing.finalize import invoice_finalize
from settlement.models import Invoice
from tests.settlement.collection_scenes import (
    blocked,
    credited,
    finalized,
    on_stripe,
    payment_failed,
    stripe_says,
)
from tests.support.ingest import Ingest, make_ingest
from tests.support.settlement import APRIL, MARCH, billable
from tests.support.vendors import make_vendor_api

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
    for path in ("", "/print", "/lines/1/outcomes", "/share-links"):
        response = other.get(f"/api/v1/invoices/{invoice.pk}{path}")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


COLLECTION_FIELDS = (
    "settlement_status",
    "payment_error",
    "payment_attempts",
    "next_payment_attempt_at",
    "overdue_at",
)


def test_an_invoice_says_where_collection_stands(ingest: Ingest) -> None:
    billable(ingest, 3, MARCH + dt.timedelta(days=2))
    invoice = on_stripe(finalized(ingest, MARCH, APRIL))
    payment_failed(
        invoice, APRIL + dt.timedelta(days=2), next_attempt=dt.datetime(2026, 4, 6, 12, tzinfo=dt.UTC)
    )
    stripe_says(invoice, "invoice.overdue", APRIL + dt.timedelta(days=3))
    client = ingest.api.client

    detail = client.get(f"/api/v1/invoices/{invoice.pk}").json()
    [listed] = client.get("/api/v1/invoices").json()["results"]

    expected = {
        "settlement_status": "done",
        "payment_error": "Stripe could not collect the payment (attempt 2).",
        "payment_attempts": 2,
        "next_payment_attempt_at": "2026-04-06T12:00:00Z",
        "overdue_at": "2026-04-04T04:00:00Z",
    }
    assert {name: detail[name] for name in COLLECTION_FIELDS} == expected
    assert {name: listed[name] for name in COLLECTION_FIELDS} == expected
    assert detail["status"] == "payment_failed"


def test_a_blocked_settlement_reads_as_blocked(ingest: Ingest) -> None:
    billable(ingest, 1, MARCH + dt.timedelta(days=2))
    invoice = finalized(ingest, MARCH, APRIL)
    blocked(invoice, APRIL + dt.timedelta(hours=1))

    detail = ingest.api.client.get(f"/api/v1/invoices/{invoice.pk}").json()

    assert (detail["settlement_status"], detail["payment_attempts"], detail["overdue_at"]) == (
        "blocked",
        0,
        None,
    )
    assert [(step["step"], step["status"]) for step in detail["settlement_steps"]] == [("invoice", "failed")]


def test_an_invoice_lists_its_credit_notes_with_the_outcomes_they_credit(ingest: Ingest) -> None:
    billable(ingest, 5, MARCH + dt.timedelta(days=2))
    invoice = finalized(ingest, MARCH, APRIL)
    first = credited(ingest, invoice, ["T-3", "T-4"], APRIL + dt.timedelta(days=2))
    second = credited(ingest, invoice, ["T-2"], APRIL + dt.timedelta(days=4))
    ids = dict(Outcome.objects.filter(contract=ingest.contract).values_list("natural_key", "pk"))
    client = ingest.api.client

    body = client.get(f"/api/v1/invoices/{invoice.pk}/credit-notes").json()

    assert (body["next"], body["previous"]) == (None, None)
    assert body["results"] == [
        {
            "id": second.pk,
            "amount_minor": 100,  # without T-2 too: 1 free + 1 x 1.00 + the fee
            "status": "pending",
            "method": "",
            "reason": "1 outcome reversed after billing",
            "charges_minor": 10_301,
            "rerated_minor": 10_100,
            "credited_before_minor": 101,
            "stripe_credit_note_id": "",
            "withheld_reason": "",
            "withheld_at": None,
            "released_at": None,
            "created_at": "2026-04-05T04:05:00Z",
            "issued_at": None,
            "outcome_ids": [ids["T-2"]],
        },
        {
            "id": first.pk,
            "amount_minor": 101,  # 1 free, 2 x 1.00, 2 x 0.505 (1.01) billed; the two 0.505 off
            "status": "pending",
            "method": "",
            "reason": "2 outcomes reversed after billing",
            "charges_minor": 10_301,
            "rerated_minor": 10_200,
            "credited_before_minor": 0,
            "stripe_credit_note_id": "",
            "withheld_reason": "",
            "withheld_at": None,
            "released_at": None,
            "created_at": "2026-04-03T04:05:00Z",
            "issued_at": None,
            "outcome_ids": sorted([ids["T-3"], ids["T-4"]]),
        },
    ]
    paged = client.get(f"/api/v1/invoices/{invoice.pk}/credit-notes", {"limit": 1}).json()
    assert [note["id"] for note in paged["results"]] == [second.pk]
    assert [note["id"] for note in client.get(paged["next"]).json()["results"]] == [first.pk]


def test_an_invoice_without_reversals_has_no_credit_note(ingest: Ingest) -> None:
    billable(ingest, 2, MARCH + dt.timedelta(days=2))
    invoice = period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL)

    body = ingest.api.client.get(f"/api/v1/invoices/{invoice.pk}/credit-notes").json()

    assert body == {"next": None, "previous": None, "results": []}


def customer_client(ingest: Ingest) -> APIClient:
    response = ingest.api.client.post(
        f"/api/v1/customers/{ingest.contract.customer_id}/api-keys", {"name": "AP"}, format="json"
    )
    assert response.status_code == 201, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['key']}")
    return client


def test_the_customer_reads_the_credit_notes_of_its_own_invoices_only(ingest: Ingest) -> None:
    billable(ingest, 5, MARCH + dt.timedelta(days=2))
    invoice = finalized(ingest, MARCH, APRIL)
    credited(ingest, invoice, ["T-4"], APRIL + dt.timedelta(days=2))
    neighbour = make_ingest(ingest.api, reference="CTR-neighbour")  # same vendor, another customer
    path = f"/api/v1/customer/invoices/{invoice.pk}/credit-notes"

    mine = customer_client(ingest).get(path)
    theirs = customer_client(neighbour).get(path)

    assert mine.status_code == 200
    assert mine.json() == ingest.api.client.get(f"/api/v1/invoices/{invoice.pk}/credit-notes").json()
    assert theirs.status_code == 404
    assert theirs.json()["code"] == "not_found"
    assert customer_client(ingest).get("/api/v1/customer/invoices/x/credit-notes").status_code == 404


def test_another_vendor_cannot_see_the_credit_notes(ingest: Ingest) -> None:
    billable(ingest, 5, MARCH + dt.timedelta(days=2))
    invoice = finalized(ingest, MARCH, APRIL)
    credited(ingest, invoice, ["T-4"], APRIL + dt.timedelta(days=2))
    other = make_vendor_api().client

    for path in (f"/api/v1/invoices/{invoice.pk}/credit-notes", "/api/v1/invoices/nope/credit-notes"):
        response = other.get(path)
        assert response.status_code == 404
        assert response.json() == {
            "status": 404,
            "code": "not_found",
            "message": "No such invoice.",
            "field_errors": {},
        }


def test_an_invoice_says_its_period_in_words_to_the_vendor_and_the_customer(ingest: Ingest) -> None:
    """period_start and period_end are instants, the end excluded (01 March 05:00Z to 01 April 04:00Z in
    New York's zone); period_label is the period as people read it."""
    billable(ingest, 1, MARCH + dt.timedelta(days=2))
    invoice = period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL)
    label = "1\N{EN DASH}31 March 2026"

    [listed] = ingest.api.client.get("/api/v1/invoices").json()["results"]
    detail = ingest.api.client.get(f"/api/v1/invoices/{invoice.pk}").json()
    [customers] = customer_client(ingest).get("/api/v1/customer/invoices").json()["results"]

    assert (listed["period_start"], listed["period_end"]) == ("2026-03-01T05:00:00Z", "2026-04-01T04:00:00Z")
    assert listed["period_label"] == detail["period_label"] == customers["period_label"] == label


def test_an_invoice_shows_its_tax_to_the_vendor_and_the_customer(ingest: Ingest) -> None:
    billable(ingest, 1, MARCH + dt.timedelta(days=2))
    invoice = period_close(contract_id=ingest.contract.pk, period_start=MARCH, now=APRIL)
    untaxed = ingest.api.client.get(f"/api/v1/invoices/{invoice.pk}").json()
    Invoice.objects.filter(pk=invoice.pk).update(tax_minor=1_957)

    detail = ingest.api.client.get(f"/api/v1/invoices/{invoice.pk}").json()
    [customers] = customer_client(ingest).get("/api/v1/customer/invoices").json()["results"]

    assert untaxed["tax_minor"] is None
    assert detail["tax_minor"] == customers["tax_minor"] == 1_957

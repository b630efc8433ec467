"""The outcome type's natural_key_field: the natural key read from evidence when an event names none."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from contracts.services.contracts import contract_amend
from contracts.terms import Amendment, parse
from outcomes.ingestion import contract_facts
from outcomes.models import Delivery, Outcome, RawEvent
from tests.factories import outcome_type_terms, version_terms
from tests.support.ingest import Ingest, event, make_ingest

pytestmark = pytest.mark.django_db


def keyed_by_evidence(**evidence: Any) -> dict[str, Any]:
    """An event naming no natural_key: the fixture's outcome type reads it from evidence.ticket_id."""
    claim = event(evidence={"ticket_status": "solved", **evidence})
    del claim["natural_key"]
    return claim


def test_an_event_without_natural_key_takes_it_from_the_evidence_field_the_outcome_type_names(
    ingest: Ingest, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = ingest.post(keyed_by_evidence(ticket_id="T-100"))

    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 1
    assert RawEvent.objects.get().natural_key == "T-100"
    assert Outcome.objects.get().natural_key == "T-100"


def test_an_integer_in_the_evidence_field_is_the_natural_key_in_digits(ingest: Ingest) -> None:
    response = ingest.post(keyed_by_evidence(ticket_id=1234))

    assert response.status_code == 200, response.content
    assert RawEvent.objects.get().natural_key == "1234"


def test_events_keyed_either_way_merge_into_one_outcome(
    ingest: Ingest, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        ingest.post(keyed_by_evidence(ticket_id="T-7"))
        ingest.post(event(natural_key="T-7", kind="outcome.confirmed"))

    assert Outcome.objects.get().event_links.count() == 2


def test_a_natural_key_equal_to_the_evidence_field_is_accepted(ingest: Ingest) -> None:
    response = ingest.post(event(natural_key="T-5", evidence={"ticket_id": "T-5"}))

    assert response.status_code == 200, response.content
    assert RawEvent.objects.get().natural_key == "T-5"


def test_a_natural_key_that_disagrees_with_the_evidence_field_is_refused_and_nothing_is_stored(
    ingest: Ingest,
) -> None:
    response = ingest.post(event(natural_key="T-5", evidence={"ticket_id": "T-6"}))

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "natural_key_mismatch"
    assert body["message"] == (
        "natural_key 'T-5' differs from evidence.ticket_id 'T-6', the outcome type's natural_key_field."
    )
    assert body["field_errors"] == {
        "natural_key": [{"code": "natural_key_mismatch", "message": body["message"]}]
    }
    assert (Delivery.objects.count(), RawEvent.objects.count()) == (0, 0)


def test_a_batch_refuses_only_the_event_whose_keys_disagree(ingest: Ingest) -> None:
    good = keyed_by_evidence(ticket_id="T-1")
    bad = event(natural_key="T-2", evidence={"ticket_id": "T-3"})

    response = ingest.post({"events": [good, bad]})

    assert response.status_code == 200
    assert response.json()["results"] == [
        {"index": 0, "id": good["id"], "status": "accepted"},
        {
            "index": 1,
            "id": bad["id"],
            "status": "rejected",
            "code": "natural_key_mismatch",
            "message": "natural_key 'T-2' differs from evidence.ticket_id 'T-3', "
            "the outcome type's natural_key_field.",
        },
    ]
    assert list(RawEvent.objects.values_list("natural_key", flat=True)) == ["T-1"]


def test_an_event_with_neither_natural_key_nor_the_evidence_field_is_invalid(ingest: Ingest) -> None:
    response = ingest.post(keyed_by_evidence())

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_event"
    assert list(body["field_errors"]) == ["natural_key"]
    assert "evidence.ticket_id" in body["message"]
    assert RawEvent.objects.count() == 0


@pytest.mark.parametrize("held", ["", "x" * 201, True, 1.5, {"id": "T-1"}, ["T-1"]])
def test_an_evidence_field_that_cannot_be_a_natural_key_is_invalid(ingest: Ingest, held: Any) -> None:
    response = ingest.post(keyed_by_evidence(ticket_id=held))

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_event"
    assert list(body["field_errors"]) == ["evidence.ticket_id"]
    assert RawEvent.objects.count() == 0


def test_a_null_evidence_field_counts_as_absent(ingest: Ingest) -> None:
    response = ingest.post(event(natural_key="T-9", evidence={"ticket_id": None}))

    assert response.status_code == 200, response.content
    assert RawEvent.objects.get().natural_key == "T-9"


def test_each_outcome_type_reads_its_own_field(db: None) -> None:
    ingest = make_ingest(
        terms=version_terms(
            outcome_types=[
                outcome_type_terms(),
                outcome_type_terms(key="document.reviewed", natural_key_field="document_id"),
            ]
        )
    )
    claim = keyed_by_evidence(ticket_id="T-1", document_id="D-1")

    ingest.post({"events": [claim, {**claim, "id": "evt_doc", "outcome_type": "document.reviewed"}]})

    assert set(RawEvent.objects.values_list("outcome_type_key", "natural_key")) == {
        ("ticket.resolved", "T-1"),
        ("document.reviewed", "D-1"),
    }


T0 = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


def test_the_field_is_the_one_of_the_version_in_force_when_the_event_occurred(db: None) -> None:
    with time_machine.travel(T0, tick=False):
        ingest = make_ingest()
        contract_amend(
            contract=ingest.contract,
            amendment=parse(
                Amendment,
                {
                    "effective_from": "2026-03-02T00:00:00Z",
                    "terms": version_terms(outcome_types=[outcome_type_terms(natural_key_field="case_id")]),
                },
            ),
            actor="test",
        )
    before = {**keyed_by_evidence(ticket_id="T-1", case_id="C-1"), "occurred_at": "2026-03-01T23:00:00Z"}
    after = {**keyed_by_evidence(ticket_id="T-2", case_id="C-2"), "occurred_at": "2026-03-02T01:00:00Z"}

    with time_machine.travel(dt.datetime(2026, 3, 2, 2, tzinfo=dt.UTC), tick=False):
        response = ingest.post({"events": [before, after]})

    assert response.json()["accepted"] == 2, response.content
    assert set(RawEvent.objects.values_list("event_id", "natural_key")) == {
        (before["id"], "T-1"),
        (after["id"], "C-2"),
    }


def test_reading_the_key_from_evidence_adds_no_query_per_event(ingest: Ingest) -> None:
    def queries_to_ingest(count: int) -> int:
        contract_facts.contract_cache.clear()
        events = [keyed_by_evidence(ticket_id=f"T-{count}-{index}") for index in range(count)]
        with CaptureQueriesContext(connection) as captured:
            response = ingest.post({"events": events})
        assert response.json()["accepted"] == count
        return len(captured)

    queries_to_ingest(1)  # the source's facts are read once, then cached
    assert queries_to_ingest(2) == queries_to_ingest(40)


def test_the_api_schema_says_what_natural_key_field_does() -> None:
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = schema["components"]["schemas"]

    written = components["OutcomeTypeTerms"]["properties"]["natural_key_field"]["description"]
    read = components["OutcomeTypeOut"]["properties"]["natural_key_field"]["description"]

    for description in (written, read):
        assert "an event without `natural_key` takes it from evidence.<field>" in description
    assert "natural_key" not in components["OutcomeEvent"]["required"]

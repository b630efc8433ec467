"""The webhook endpoint: authenticity, idempotency, batches, bad input — and nothing stored on refusal."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import orjson
import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from contracts.services.credentials import webhook_source_revoke, webhook_source_rotate_secret
from outcomes import tasks
from outcomes.events import MAX_BATCH_EVENTS, MAX_BODY_BYTES
from outcomes.models import (
    Delivery,
    DeliveryResult,
    Outcome,
    OutcomeState,
    OutcomeTransition,
    RawEvent,
    TamperEvidence,
)
from outcomes.services import building
from outcomes.services.building import outcomes_build_for_deliveries, outcomes_build_sweep
from tests.support.ingest import Ingest, event, make_ingest, sign
from tests.support.vendors import make_vendor_api

pytestmark = pytest.mark.django_db


def stored() -> tuple[int, int, int, int]:
    return (
        Delivery.objects.count(),
        DeliveryResult.objects.count(),
        RawEvent.objects.count(),
        Outcome.objects.count(),
    )


def assert_refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["message"]
    assert stored() == (0, 0, 0, 0)


# --- the happy path -------------------------------------------------------------------------


def test_signed_event_is_stored_raw_and_becomes_a_pending_outcome(
    ingest: Ingest, django_capture_on_commit_callbacks: Any
) -> None:
    claim = event(natural_key="T-1", parent_key="conv-9", value=None)

    with django_capture_on_commit_callbacks(execute=True):
        response = ingest.post(claim, msg_id="msg_1")

    assert response.status_code == 200
    assert response.json() == {
        "webhook_id": "msg_1",
        "accepted": 1,
        "duplicates": 0,
        "rejected": 0,
        "results": [{"index": 0, "id": claim["id"], "status": "accepted"}],
    }
    delivery = Delivery.objects.get()
    assert bytes(delivery.body) == orjson.dumps(claim)
    assert delivery.headers["webhook-id"] == "msg_1"
    raw = RawEvent.objects.get()
    assert raw.payload == claim
    assert raw.contract_id == ingest.contract.pk
    outcome = Outcome.objects.get()
    # The worker merged it and verification started: the system of record's claim now matures.
    assert (outcome.natural_key, outcome.parent_key, outcome.state) == (
        "T-1",
        "conv-9",
        OutcomeState.MATURING,
    )
    assert list(OutcomeTransition.objects.order_by("id").values_list("from_state", "to_state", "reason")) == [
        ("", "received", "first_event"),
        ("received", "pending", "events_recorded"),
        ("pending", "maturing", "maturing"),
    ]


def test_events_sharing_a_natural_key_merge_into_one_outcome(
    ingest: Ingest, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        ingest.post(
            {"events": [event(natural_key="T-7"), event(natural_key="T-7", kind="outcome.confirmed")]}
        )
        ingest.post(event(natural_key="T-7", kind="outcome.reversed"))

    assert RawEvent.objects.count() == 3
    outcome = Outcome.objects.get()
    assert outcome.event_links.count() == 3
    # Created once, never re-created by later events; the reversal then voids it before billing.
    assert list(outcome.transitions.order_by("id").values_list("to_state", flat=True)) == [
        "received",
        "pending",
        "maturing",
        "reversed",
    ]


def test_the_vendor_api_shows_the_outcome_with_its_raw_events_and_transitions(
    ingest: Ingest, django_capture_on_commit_callbacks: Any
) -> None:
    claim = event(natural_key="T-42")
    with django_capture_on_commit_callbacks(execute=True):
        ingest.post(claim)

    listed = ingest.api.client.get(
        "/api/v1/outcomes", {"contract_id": str(ingest.contract.pk), "state": "maturing"}
    )
    assert [o["natural_key"] for o in listed.json()["results"]] == ["T-42"]
    detail = ingest.api.client.get(f"/api/v1/outcomes/{listed.json()['results'][0]['id']}").json()
    assert [e["event_id"] for e in detail["raw_events"]] == [claim["id"]]
    assert [t["to_state"] for t in detail["transitions"]] == ["received", "pending", "maturing"]
    deliveries = ingest.api.client.get(f"/webhooks-unused/{ingest.source.pk}")
    assert deliveries.status_code == 404
    deliveries = ingest.api.client.get(f"/api/v1/webhook-sources/{ingest.source.pk}/deliveries").json()
    assert [d["response_status"] for d in deliveries["results"]] == [200]
    one = ingest.api.client.get(
        f"/api/v1/webhook-sources/{ingest.source.pk}/deliveries/{deliveries['results'][0]['id']}"
    ).json()
    assert orjson.loads(one["body"]) == claim


def test_another_vendor_cannot_read_outcomes_or_deliveries(
    ingest: Ingest, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        ingest.post(event())
    other = make_vendor_api()
    outcome_id = Outcome.objects.get().pk

    assert other.client.get("/api/v1/outcomes").json()["results"] == []
    assert other.client.get(f"/api/v1/outcomes/{outcome_id}").status_code == 404
    assert other.client.get(f"/api/v1/webhook-sources/{ingest.source.pk}/deliveries").status_code == 404


# --- authenticity ---------------------------------------------------------------------------


def test_wrong_signature_is_401(ingest: Ingest) -> None:
    other_secret = "whsec_" + "A" * 43 + "="
    assert_refused(ingest.post(event(), secret=other_secret), 401, "invalid_signature")


def test_malformed_signature_header_is_401_not_500(ingest: Ingest) -> None:
    body = orjson.dumps(event())
    headers = sign(ingest.secret, body)
    for bad in ("garbage", "v1,not-base64!!", "v1", ",,,"):
        headers["HTTP_WEBHOOK_SIGNATURE"] = bad
        response = ingest.client.post(ingest.url, body, content_type="application/json", **headers)  # type: ignore[arg-type]
        assert_refused(response, 401, "invalid_signature")


@pytest.mark.parametrize("missing", ["HTTP_WEBHOOK_ID", "HTTP_WEBHOOK_TIMESTAMP", "HTTP_WEBHOOK_SIGNATURE"])
def test_missing_signature_header_is_401(ingest: Ingest, missing: str) -> None:
    body = orjson.dumps(event())
    headers = sign(ingest.secret, body)
    del headers[missing]
    response = ingest.client.post(ingest.url, body, content_type="application/json", **headers)  # type: ignore[arg-type]
    assert_refused(response, 401, "missing_signature_headers")


def test_non_numeric_timestamp_is_401(ingest: Ingest) -> None:
    body = orjson.dumps(event())
    headers = sign(ingest.secret, body)
    headers["HTTP_WEBHOOK_TIMESTAMP"] = "yesterday"
    response = ingest.client.post(ingest.url, body, content_type="application/json", **headers)  # type: ignore[arg-type]
    assert_refused(response, 401, "invalid_timestamp")


@pytest.mark.parametrize(
    ("offset", "status", "code"),
    [
        (dt.timedelta(minutes=-5, seconds=-1), 401, "timestamp_too_old"),
        (dt.timedelta(minutes=-4, seconds=-59), 200, None),
        (dt.timedelta(minutes=4, seconds=59), 200, None),
        (dt.timedelta(minutes=5, seconds=1), 401, "timestamp_too_new"),
    ],
)
def test_timestamp_tolerance_is_five_minutes_both_ways(
    ingest: Ingest, offset: dt.timedelta, status: int, code: str | None
) -> None:
    now = timezone.now().replace(microsecond=0)
    with time_machine.travel(now, tick=False):
        response = ingest.post(event(occurred_at=(now - dt.timedelta(hours=1)).isoformat()), at=now + offset)
    assert response.status_code == status
    if code:
        assert_refused(response, status, code)


def test_rotation_overlap_accepts_both_secrets_then_only_the_new_one(ingest: Ingest) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        new_secret = webhook_source_rotate_secret(
            source=ingest.source, overlap=dt.timedelta(hours=1), actor="t", by_customer=True
        )
        assert ingest.post(event(), secret=ingest.secret).status_code == 200
        assert ingest.post(event(), secret=new_secret).status_code == 200
    later = start + dt.timedelta(hours=1, seconds=1)
    with time_machine.travel(later, tick=False):
        old = ingest.post(event(occurred_at=start.isoformat()), secret=ingest.secret)
        assert old.status_code == 401
        assert old.json()["code"] == "invalid_signature"
        assert ingest.post(event(occurred_at=start.isoformat()), secret=new_secret).status_code == 200


def test_revoked_and_unknown_sources_are_refused(ingest: Ingest) -> None:
    webhook_source_revoke(source=ingest.source, actor="t")
    assert_refused(ingest.post(event()), 401, "source_revoked")
    response = ingest.client.post(
        "/webhooks/v1/sources/not-a-uuid/events", b"{}", content_type="application/json"
    )
    assert_refused(response, 404, "unknown_source")


def test_a_known_source_read_with_a_malformed_encryption_key_is_a_server_error_not_404(
    ingest: Ingest,
) -> None:
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=["not-a-fernet-key"]),
        pytest.raises(ValueError, match="Fernet"),
    ):
        ingest.post(event())  # the test client re-raises what would be a 500 (the sender retries)

    assert stored() == (0, 0, 0, 0)


# --- idempotency ----------------------------------------------------------------------------


def test_redelivery_returns_the_original_result_and_stores_nothing_new(ingest: Ingest) -> None:
    payload = {"events": [event(), event(contract="nope")]}
    first = ingest.post(payload, msg_id="msg_same")
    # Standard Webhooks retries resign the same body with a fresh timestamp, days later.
    with time_machine.travel(timezone.now() + dt.timedelta(days=3)):
        again = ingest.post(payload, msg_id="msg_same")

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert stored()[:3] == (1, 1, 1)


def test_same_webhook_id_with_a_different_body_is_a_conflict_kept_as_evidence(ingest: Ingest) -> None:
    ingest.post(event(natural_key="T-1"), msg_id="msg_x")
    before = stored()

    response = ingest.post(event(natural_key="T-2"), msg_id="msg_x")

    assert response.status_code == 409
    assert response.json()["code"] == "webhook_id_conflict"
    assert stored() == before
    evidence = TamperEvidence.objects.get()
    assert (evidence.kind, evidence.reused_id) == ("delivery", "msg_x")
    assert b"T-2" in bytes(evidence.body)


def test_same_event_id_in_a_new_delivery_counts_once(
    ingest: Ingest, django_capture_on_commit_callbacks: Any
) -> None:
    claim = event()
    with django_capture_on_commit_callbacks(execute=True):
        ingest.post(claim)
        response = ingest.post(claim)  # new webhook-id, same event

    assert response.status_code == 200
    assert response.json()["results"] == [{"index": 0, "id": claim["id"], "status": "duplicate"}]
    assert RawEvent.objects.count() == 1
    assert Outcome.objects.count() == 1


def test_same_event_id_with_a_different_body_is_refused_and_kept_as_evidence(ingest: Ingest) -> None:
    claim = event(natural_key="T-1")
    ingest.post(claim)

    response = ingest.post({**claim, "natural_key": "T-2"})

    assert response.status_code == 409
    assert response.json()["code"] == "event_id_conflict"
    assert RawEvent.objects.count() == 1
    assert Delivery.objects.count() == 1
    evidence = TamperEvidence.objects.get()
    assert (evidence.kind, evidence.reused_id) == ("event", claim["id"])


def test_key_order_and_whitespace_do_not_make_a_different_event(ingest: Ingest) -> None:
    claim = event()
    ingest.post(claim)
    reordered = orjson.dumps(dict(reversed(list(claim.items()))), option=orjson.OPT_INDENT_2)
    assert ingest.post(reordered).json()["results"][0]["status"] == "duplicate"


# A served request has no transaction around it: a lone event is then stored by one statement, its
# own transaction, and a reused event id aborts it (the tests above run in the test's transaction,
# where that statement takes a savepoint).


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_lone_event_is_stored_with_its_answer_which_a_resend_gets() -> None:
    ingest, claim = make_ingest(), event()

    first = ingest.post(claim, msg_id="msg_lone")
    again = ingest.post(claim, msg_id="msg_lone")

    assert first.status_code == again.status_code == 200
    assert first.json()["results"] == [{"index": 0, "id": claim["id"], "status": "accepted"}]
    assert again.json() == first.json()
    assert stored() == (1, 1, 1, 1)
    assert DeliveryResult.objects.get().body == first.json()
    assert not TamperEvidence.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_reused_event_id_is_a_duplicate_or_only_evidence() -> None:
    ingest, claim = make_ingest(), event(natural_key="T-1")
    ingest.post(claim)

    duplicate = ingest.post(claim)  # new webhook-id, same event
    conflict = ingest.post({**claim, "natural_key": "T-2"})

    assert duplicate.status_code == 200
    assert duplicate.json()["results"] == [{"index": 0, "id": claim["id"], "status": "duplicate"}]
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "event_id_conflict"
    assert stored() == (2, 2, 1, 1)  # the conflicting delivery left nothing behind
    evidence = TamperEvidence.objects.get()
    assert (evidence.kind, evidence.reused_id) == ("event", claim["id"])


# --- batches --------------------------------------------------------------------------------


def test_batch_with_mixed_events_answers_per_event_in_input_order(ingest: Ingest) -> None:
    good = event()
    dupe_in_batch = dict(good)
    conflicting_in_batch = {**good, "natural_key": "other"}
    payload = {
        "events": [
            good,
            event(kind="outcome.won"),
            event(contract="CTR-unknown"),
            dupe_in_batch,
            conflicting_in_batch,
            event(outcome_type="document.reviewed"),
        ]
    }

    response = ingest.post(payload)

    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (1, 1, 4)
    assert [(r["index"], r["status"], r.get("code")) for r in body["results"]] == [
        (0, "accepted", None),
        (1, "rejected", "invalid_event"),
        (2, "rejected", "unknown_contract"),
        (3, "duplicate", None),
        (4, "rejected", "event_id_conflict"),
        (5, "rejected", "unknown_outcome_type"),
    ]
    assert "kind" in body["results"][1]["message"]
    assert RawEvent.objects.count() == 1


def test_a_batch_whose_every_event_is_rejected_stores_nothing(ingest: Ingest) -> None:
    response = ingest.post({"events": [event(contract="nope"), event(kind="bad")]})
    assert response.status_code == 422
    assert response.json()["code"] == "all_events_rejected"
    assert [r["code"] for r in response.json()["results"]] == ["unknown_contract", "invalid_event"]
    assert stored() == (0, 0, 0, 0)


def test_a_full_batch_of_1000_is_stored_with_one_outcome_each(
    ingest: Ingest, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = ingest.post({"events": [event() for _ in range(MAX_BATCH_EVENTS)]})
    assert response.json()["accepted"] == MAX_BATCH_EVENTS
    assert RawEvent.objects.count() == Outcome.objects.count() == MAX_BATCH_EVENTS


def test_too_many_events_is_413(ingest: Ingest) -> None:
    assert_refused(
        ingest.post({"events": [event() for _ in range(MAX_BATCH_EVENTS + 1)]}), 413, "too_many_events"
    )


def test_body_over_one_mebibyte_is_413(ingest: Ingest) -> None:
    huge = event(evidence={"blob": "x" * MAX_BODY_BYTES})
    assert_refused(ingest.post(huge), 413, "body_too_large")


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (b"{not json", 400, "malformed_json"),
        (b"[1, 2]", 400, "invalid_body"),
        (b'"text"', 400, "invalid_body"),
        ({"events": []}, 400, "invalid_batch"),
        ({"events": "all"}, 400, "invalid_batch"),
        ({"events": [{}], "extra": 1}, 400, "invalid_batch"),
        (event(kind="outcome.won"), 400, "invalid_event"),
        (event(natural_key=123), 400, "invalid_event"),
        (event(natural_key=""), 400, "invalid_event"),
        (event(occurred_at="yesterday"), 400, "invalid_event"),
        (event(occurred_at="2026-13-45T00:00:00Z"), 400, "invalid_event"),
        (event(occurred_at="2026-01-01T00:00:00"), 400, "invalid_event"),
        (event(evidence=[1]), 400, "invalid_event"),
        (event(value={"amount_minor": -5, "currency": "USD"}), 400, "invalid_event"),
        (event(value={"amount_minor": "NaN", "currency": "USD"}), 400, "invalid_event"),
        (event(value={"amount_minor": 10**16, "currency": "USD"}), 400, "invalid_event"),
        (json.dumps(event(value={"amount_minor": 10**30, "currency": "USD"})).encode(), 400, "invalid_event"),
        (event(unexpected="field"), 400, "invalid_event"),
        (event(contract="CTR-unknown"), 422, "unknown_contract"),
        (event(outcome_type="document.reviewed"), 422, "unknown_outcome_type"),
        (event(value={"amount_minor": 100, "currency": "EUR"}), 422, "currency_mismatch"),
        (event(occurred_at=(timezone.now() + dt.timedelta(hours=1)).isoformat()), 422, "occurred_in_future"),
    ],
)
def test_bad_input_gets_a_clear_4xx_and_stores_nothing(
    ingest: Ingest, payload: Any, status: int, code: str
) -> None:
    assert_refused(ingest.post(payload), status, code)


def test_deeply_nested_evidence_is_refused_cleanly(ingest: Ingest) -> None:
    nested = b'{"a":' * 2000 + b"1" + b"}" * 2000
    body = orjson.dumps(event())[:-1] + b',"evidence":' + nested + b"}"
    response = ingest.post(body)
    assert response.status_code == 400
    assert stored() == (0, 0, 0, 0)


def test_a_contract_of_another_vendor_is_unknown_to_this_source(ingest: Ingest) -> None:
    make_ingest(reference="CTR-theirs")
    assert_refused(ingest.post(event(contract="CTR-theirs")), 422, "unknown_contract")


def test_a_contract_of_another_customer_of_the_same_vendor_is_unknown_to_this_source(ingest: Ingest) -> None:
    make_ingest(api=ingest.api, reference="CTR-sibling")
    assert_refused(ingest.post(event(contract="CTR-sibling")), 422, "unknown_contract")


def test_get_is_not_allowed(ingest: Ingest) -> None:
    assert ingest.client.get(ingest.url).status_code == 405


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "", "application/json; charset=latin-1"],
)
def test_a_body_not_declared_json_is_415_as_in_the_api(ingest: Ingest, content_type: str) -> None:
    response = ingest.post(event(), content_type=content_type)

    assert_refused(response, 415, "unsupported_media_type")
    assert response.json() == {
        "status": 415,
        "code": "unsupported_media_type",
        "message": f'Unsupported media type "{content_type}" in request.',
        "field_errors": {},
    }


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON; Charset=UTF-8"]
)
def test_json_with_a_utf8_charset_is_accepted(ingest: Ingest, content_type: str) -> None:
    assert ingest.post(event(), content_type=content_type).status_code == 200


# --- webhook and event ids -------------------------------------------------------------------


def test_a_webhook_id_of_255_characters_is_stored_whole(ingest: Ingest) -> None:
    msg_id = "m" * 255

    assert ingest.post(event(), msg_id=msg_id).status_code == 200
    assert Delivery.objects.get().webhook_id == msg_id


def test_webhook_ids_over_255_characters_are_refused_not_cut_into_a_collision(ingest: Ingest) -> None:
    shared = "m" * 255

    first = ingest.post(event(), msg_id=shared + "1")
    second = ingest.post(event(), msg_id=shared + "2")

    for response in (first, second):
        assert_refused(response, 400, "invalid_webhook_id")
        assert response.json()["field_errors"] == {
            "webhook-id": [{"code": "max_length", "message": "webhook-id holds at most 255 characters."}]
        }
    assert not TamperEvidence.objects.exists()


@pytest.mark.parametrize("msg_id", ["msg\x001", "msg\t1", "msg\x7f1", "msg\x851"])
def test_a_webhook_id_with_control_characters_is_refused(ingest: Ingest, msg_id: str) -> None:
    response = ingest.post(event(), msg_id=msg_id)

    assert_refused(response, 400, "invalid_webhook_id")
    assert response.json()["field_errors"] == {
        "webhook-id": [
            {"code": "control_characters", "message": "webhook-id must not hold control characters."}
        ]
    }


@pytest.mark.parametrize("event_id", ["evt\n1", "evt\t1", "evt\x1b[31m", "evt\x7f", "evt\u0085"])
def test_an_event_id_with_control_characters_is_refused(ingest: Ingest, event_id: str) -> None:
    single = ingest.post(event(id=event_id))
    batch = ingest.post({"events": [event(id=event_id), event()]})

    assert single.status_code == 400
    assert single.json()["field_errors"] == {
        "id": [{"code": "invalid_event", "message": "id: must not hold control characters"}]
    }
    assert batch.status_code == 200
    assert batch.json()["results"][0] | {"id": None} == {
        "index": 0,
        "id": None,
        "status": "rejected",
        "code": "invalid_event",
        "message": "id: must not hold control characters",
    }
    assert list(RawEvent.objects.values_list("event_id", flat=True)) == [batch.json()["results"][1]["id"]]


def test_the_sweep_builds_what_no_task_built_and_is_idempotent(ingest: Ingest) -> None:
    # No on-commit callback runs here: as if the enqueue was lost (broker down) after the commit.
    ingest.post({"events": [event(natural_key="A"), event(natural_key="B")]})
    assert (RawEvent.objects.count(), Outcome.objects.count()) == (2, 0)

    with time_machine.travel(timezone.now() + dt.timedelta(seconds=30)):
        assert outcomes_build_sweep() == 0  # too fresh: its task may still be on the way
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=2)):
        assert outcomes_build_sweep() == 2
        assert outcomes_build_sweep() == 0
    assert Outcome.objects.count() == 2


def test_deliveries_built_together_merge_into_one_outcome_each_and_twice_changes_nothing(
    ingest: Ingest,
) -> None:
    # Three deliveries, two of them about the same ticket (the agent's claim, the customer's record):
    # one pass over all three makes two outcomes, each verified, and a rerun finds nothing to link.
    ingest.post({"events": [event(natural_key="A")]}, as_agent=True)
    ingest.post({"events": [event(natural_key="A", kind="outcome.confirmed")]})
    ingest.post({"events": [event(natural_key="B")]})
    deliveries = list(Delivery.objects.order_by("id").values_list("id", flat=True))
    assert len(deliveries) == 3

    assert outcomes_build_for_deliveries(delivery_ids=deliveries) == 2
    assert outcomes_build_for_deliveries(delivery_ids=deliveries) == 0

    a = Outcome.objects.get(natural_key="A")
    assert a.event_links.count() == 2
    assert Outcome.objects.count() == 2
    assert RawEvent.objects.filter(outcome_link__isnull=True).count() == 0
    assert set(Outcome.objects.values_list("state", flat=True)) <= {
        OutcomeState.MATURING,
        OutcomeState.BILLABLE,
        OutcomeState.FLAGGED,
    }


def test_a_message_whose_batch_fails_is_built_delivery_by_delivery(
    ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest.post({"events": [event(natural_key="A")]})
    ingest.post({"events": [event(natural_key="B")]})
    deliveries = list(Delivery.objects.order_by("id").values_list("id", flat=True))

    def fails_together(*, delivery_ids: list[int]) -> int:  # a bug that shows only in a batch
        if len(delivery_ids) > 1:
            raise ValueError("boom")
        return outcomes_build_for_deliveries(delivery_ids=delivery_ids)

    monkeypatch.setattr(tasks, "outcomes_build_for_deliveries", fails_together)

    assert tasks.build_outcomes_for_deliveries.delay(deliveries).get() == 0  # handed on, one job each

    assert set(Outcome.objects.values_list("natural_key", flat=True)) == {"A", "B"}
    assert RawEvent.objects.filter(outcome_link__isnull=True).count() == 0


def test_an_event_the_sweep_cannot_build_holds_back_only_its_own_delivery(
    ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No on-commit callback runs here: the sweep is what builds these.
    ingest.post({"events": [event(natural_key="POISON")]})
    ingest.post({"events": [event(natural_key="FINE-1"), event(natural_key="FINE-2")]})
    real_build = building._build

    def chokes_on_poison(events: list[RawEvent], now: dt.datetime) -> Any:  # a bug on one event
        if any(e.natural_key == "POISON" for e in events):
            raise ValueError("cannot build")
        return real_build(events, now)

    monkeypatch.setattr(building, "_build", chokes_on_poison)

    with time_machine.travel(timezone.now() + dt.timedelta(minutes=2)):
        assert outcomes_build_sweep() == 2

    assert set(Outcome.objects.values_list("natural_key", flat=True)) == {"FINE-1", "FINE-2"}
    assert list(RawEvent.objects.filter(outcome_link__isnull=True).values_list("natural_key", flat=True)) == [
        "POISON"
    ]

"""The customer's actions on its outcomes in the portal: decide a flag, dispute with evidence files,
answer an audit sample or a contested disqualifier, bulk decisions over a filter, the CSV export. Each
goes through the API's services (same rules, same messages on the form); a viewer gets 403; another
customer's outcome or file, 404."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from contracts.models import AuditEntry, CustomerRole
from outcomes.models import (
    AuditSample,
    Dispute,
    DisputeAttachment,
    DisqualifierContest,
    Outcome,
    OutcomeState,
    ReviewDecision,
)
from outcomes.services.dispute_evidence import MAX_BYTES
from tests.portal.outcome_scenes import Scene, flagged_ingest, ingest_for
from tests.support.portal import make_customer_member, make_member, signed_in

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


@pytest.fixture
def media(settings: Any) -> Path:
    return Path(settings.MEDIA_ROOT)  # the test's own (tests/portal/conftest.py)


def _member(ingest: Any, role: str = CustomerRole.APPROVER) -> Client:
    return signed_in(make_customer_member(customer=ingest.contract.customer, role=role))


def _billable(scene: Scene, *keys: str) -> tuple[Any, list[Outcome]]:
    ingest = ingest_for(make_member().vendor, reference="CTR-acts")
    ids = scene.billable(ingest, *keys)
    return ingest, list(Outcome.objects.filter(pk__in=ids).order_by("natural_key"))


# --- one outcome ---------------------------------------------------------------------------------


def test_an_approver_confirms_and_rejects_flags_from_the_trail_a_viewer_cannot(outcome_scene: Scene) -> None:
    ingest, flagged = flagged_ingest(outcome_scene, make_member().vendor, burst=10)
    approver, viewer = _member(ingest), _member(ingest, CustomerRole.VIEWER)
    first, second = flagged[0], flagged[1]
    page = approver.get(f"/customer/outcomes/{first}/").content.decode()
    assert "Your actions" in page
    assert "Confirm" in page
    assert "Reject" in page
    assert "You are a viewer" in viewer.get(f"/customer/outcomes/{first}/").content.decode()
    reason = Outcome.objects.get(pk=first).verdicts.filter(decision="flag").first().reason  # type: ignore[union-attr]

    assert (
        viewer.post(
            f"/customer/outcomes/{first}/decide/", {"flag_reason": reason, "verdict": "accept"}
        ).status_code
        == 403
    )
    # Rejecting needs a reason: the form says so, nothing changes.
    refused = approver.post(
        f"/customer/outcomes/{first}/decide/", {"flag_reason": reason, "verdict": "reject"}
    )
    assert refused.status_code == 200  # the form again, with the message
    assert "Say why you reject it." in refused.content.decode()
    assert not ReviewDecision.objects.exists()

    done = approver.post(f"/customer/outcomes/{first}/decide/", {"flag_reason": reason, "verdict": "accept"})
    assert done.status_code == 302
    approver.post(
        f"/customer/outcomes/{second}/decide/",
        {"flag_reason": reason, "verdict": "reject", "reason": "Not ours."},
    )
    decisions = {d.outcome_id: d for d in ReviewDecision.objects.all()}
    assert (decisions[first].verdict, decisions[first].party) == ("accept", "customer")
    assert (decisions[second].verdict, decisions[second].justification) == ("reject", "Not ours.")
    assert decisions[first].actor.startswith("customer_user:")
    assert AuditEntry.objects.filter(action="outcome.flag_decided").count() == 2
    # Deciding again: the service's refusal on the form.
    again = approver.post(f"/customer/outcomes/{first}/decide/", {"flag_reason": reason, "verdict": "accept"})
    assert again.status_code == 409
    assert "already decided" in again.content.decode()


def test_a_dispute_with_files_is_stored_safely_and_served_only_to_the_two_parties(
    outcome_scene: Scene, media: Path
) -> None:
    ingest, (outcome, other) = _billable(outcome_scene, "T-1", "T-2")
    approver = _member(ingest)
    assert "Dispute this outcome" in approver.get(f"/customer/outcomes/{outcome.pk}/").content.decode()
    files = [
        SimpleUploadedFile("../../etc/receipt.pdf", PDF, content_type="text/html"),
        SimpleUploadedFile("log.csv", b"ticket,agent\nT-1,our staff\n", content_type="application/pdf"),
    ]
    response = approver.post(
        f"/customer/outcomes/{outcome.pk}/dispute/",
        {"reason": "Our own staff solved it.", "evidence": "See the log.", "attachments": files},
    )
    assert response.status_code == 302
    dispute = Dispute.objects.get(outcome=outcome)
    assert dispute.reason == "Our own staff solved it.\n\nEvidence: See the log."
    pdf, log = dispute.attachments.order_by("pk")
    assert (pdf.original_name, pdf.content_type, pdf.size) == ("receipt.pdf", "application/pdf", len(PDF))
    assert log.content_type == "text/csv"
    assert "receipt" not in pdf.file.name
    assert (media / pdf.file.name).read_bytes() == PDF
    assert Outcome.objects.get(pk=outcome.pk).state == OutcomeState.DISPUTED
    [entry] = AuditEntry.objects.filter(action="dispute.opened")
    assert (entry.object_id, entry.actor) == (str(dispute.pk), dispute.opened_by)
    assert entry.actor.startswith("customer_user:")
    assert entry.details["reason"] == dispute.reason

    download = approver.get(f"/customer/outcomes/{outcome.pk}/evidence/{pdf.pk}/")
    assert download.status_code == 200
    assert download.content == PDF
    assert download["Content-Type"] == "application/pdf"
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Disposition"].startswith("attachment;")
    # The vendor's members see it from the dispute; another customer's or vendor's do not.
    vendor_member = signed_in(make_member(vendor=ingest.contract.vendor))
    assert vendor_member.get(f"/disputes/{dispute.pk}/").content.decode().count("receipt.pdf") == 1
    assert vendor_member.get(f"/disputes/{dispute.pk}/evidence/{pdf.pk}/").status_code == 200
    assert signed_in(make_member()).get(f"/disputes/{dispute.pk}/evidence/{pdf.pk}/").status_code == 404
    neighbour = ingest_for(ingest.contract.vendor, reference="CTR-neighbour")
    assert _member(neighbour).get(f"/customer/outcomes/{outcome.pk}/evidence/{pdf.pk}/").status_code == 404
    # Through another of the customer's own outcomes: not found either.
    assert approver.get(f"/customer/outcomes/{other.pk}/evidence/{pdf.pk}/").status_code == 404


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([("big.pdf", PDF + b"x" * MAX_BYTES)], "larger than 5 MB"),
        ([("photo.png", b"MZ\x90\x00\x03 not an image")], "not a PDF, PNG, JPEG, plain text or CSV file"),
        ([(f"p{n}.png", PNG) for n in range(6)], "At most 5 files."),
    ],
    ids=["too-big", "wrong-type-by-content", "too-many"],
)
def test_attachments_over_the_limits_are_refused_and_nothing_is_disputed(
    outcome_scene: Scene, files: list[tuple[str, bytes]], message: str
) -> None:
    ingest, (outcome,) = _billable(outcome_scene, "T-1")
    response = _member(ingest).post(
        f"/customer/outcomes/{outcome.pk}/dispute/",
        {"reason": "Not ours.", "attachments": [SimpleUploadedFile(n, b, "image/png") for n, b in files]},
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Dispute.objects.exists()
    assert not DisputeAttachment.objects.exists()


def test_a_dispute_outside_its_window_or_by_a_viewer_changes_nothing(outcome_scene: Scene) -> None:
    ingest, (outcome,) = _billable(outcome_scene, "T-1")
    viewer = _member(ingest, CustomerRole.VIEWER)
    assert viewer.post(f"/customer/outcomes/{outcome.pk}/dispute/", {"reason": "No."}).status_code == 403
    Outcome.objects.filter(pk=outcome.pk).update(billable_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    approver = _member(ingest)
    assert "Dispute this outcome" not in approver.get(f"/customer/outcomes/{outcome.pk}/").content.decode()
    response = approver.post(f"/customer/outcomes/{outcome.pk}/dispute/", {"reason": "Too late?"})
    assert response.status_code == 409
    assert "The dispute window closed" in response.content.decode()
    assert not Dispute.objects.exists()


def test_an_audit_sample_is_answered_before_its_deadline_and_a_contest_upheld(outcome_scene: Scene) -> None:
    ingest, (sampled, contested) = _billable(outcome_scene, "T-1", "T-2")
    approver = _member(ingest)
    now = dt.datetime.now(dt.UTC)
    AuditSample.objects.create(outcome=sampled, selected_at=now, deadline=now + dt.timedelta(days=7))
    assert "Audit sample" in approver.get(f"/customer/outcomes/{sampled.pk}/").content.decode()
    missing = approver.post(f"/customer/outcomes/{sampled.pk}/attest/", {})
    assert missing.status_code == 200
    response = approver.post(
        f"/customer/outcomes/{sampled.pk}/attest/", {"answer": "deny", "note": "Never happened."}
    )
    assert response.status_code == 302
    sample = AuditSample.objects.get(outcome=sampled)
    assert (sample.answer, sample.note) == ("denied", "Never happened.")
    late = approver.post(f"/customer/outcomes/{sampled.pk}/attest/", {"answer": "attest"})
    assert late.status_code == 409
    assert "can no longer be answered" in late.content.decode()

    # No contest on the outcome: the service's 404 on the form.
    assert (
        approver.post(
            f"/customer/outcomes/{contested.pk}/contest/", {"answer": "uphold", "response": "x"}
        ).status_code
        == 404
    )
    DisqualifierContest.objects.create(
        outcome=contested,
        event_id="ev-1",
        disqualifier="no_show",
        opened_at=now,
        deadline=now + dt.timedelta(days=3),
    )
    assert (
        "Your disqualifier is contested"
        in approver.get(f"/customer/outcomes/{contested.pk}/").content.decode()
    )
    no_evidence = approver.post(
        f"/customer/outcomes/{contested.pk}/contest/", {"answer": "uphold", "response": "They did not come."}
    )
    assert no_evidence.status_code == 400
    assert "Upholding a disqualifier needs evidence." in no_evidence.content.decode()
    upheld = approver.post(
        f"/customer/outcomes/{contested.pk}/contest/",
        {"answer": "uphold", "response": "They did not come.", "evidence": "Door log attached to ticket 9."},
    )
    assert upheld.status_code == 302
    assert DisqualifierContest.objects.get(outcome=contested).status == "upheld"
    # Both answers are in the vendor's audit log as the customer's person (the refused tries are not),
    # where the vendor reads its audit log.
    entries = AuditEntry.objects.filter(
        action__in=["audit_sample.attested", "audit_sample.denied", "disqualifier_contest.upheld"]
    ).order_by("pk")
    email = sample.answered_by.removeprefix("customer_user:")
    assert [(e.action, e.actor, e.details["outcome_id"]) for e in entries] == [
        ("audit_sample.denied", f"customer_user:{email}", sampled.pk),
        ("disqualifier_contest.upheld", f"customer_user:{email}", contested.pk),
    ]
    log = signed_in(make_member(vendor=ingest.contract.vendor)).get("/audit/").content.decode()
    assert "audit_sample.denied" in log
    assert "disqualifier_contest.upheld" in log
    assert log.count(f"customer_user:{email}") == 2


# --- the filtered list ---------------------------------------------------------------------------


def test_bulk_reject_decides_each_flag_of_the_filter_only_after_the_count(outcome_scene: Scene) -> None:
    vendor = make_member().vendor
    ingest, flagged = flagged_ingest(outcome_scene, vendor, burst=6)
    other_ingest, other_flagged = flagged_ingest(outcome_scene, vendor, reference="CTR-other", burst=6)
    # Same customer, a second contract: outside the filter below.
    other_ingest.contract.customer = ingest.contract.customer
    other_ingest.contract.save(update_fields=["customer"])
    approver = _member(ingest)
    query = {
        "contract": str(ingest.contract.pk),
        "state": "flagged",
        "verdict": "reject",
        "reason": "Not ours.",
    }

    assert _member(ingest, CustomerRole.VIEWER).get("/customer/outcomes/bulk/", query).status_code == 403
    step = approver.get("/customer/outcomes/bulk/", query)
    assert step.status_code == 200
    assert (
        f"<strong>{len(flagged)}</strong> flagged outcomes of this filter will be rejected"
        in step.content.decode()
    )
    assert not ReviewDecision.objects.exists()
    newest = max(flagged)
    assert approver.post("/customer/outcomes/bulk/", {**query, "reason": ""}).status_code == 200
    done = approver.post("/customer/outcomes/bulk/", {**query, "newest_outcome_id": newest})
    assert done.status_code == 302
    decisions = ReviewDecision.objects.all()
    assert sorted(d.outcome_id for d in decisions) == sorted(flagged)
    assert {(d.verdict, d.party, d.justification) for d in decisions} == {("reject", "customer", "Not ours.")}
    audited = AuditEntry.objects.filter(action="outcome.flag_decided")
    assert sorted(int(e.object_id) for e in audited) == sorted(flagged)
    assert Outcome.objects.filter(pk__in=other_flagged, state=OutcomeState.FLAGGED).count() == len(
        other_flagged
    )
    # A contract the filter does not know is refused, never read as "every outcome".
    foreign = {**query, "contract": str(uuid.uuid4())}
    assert "Select a valid choice" in approver.get("/customer/outcomes/bulk/", foreign).content.decode()
    # Again: nothing left to decide.
    assert "Nothing will change." in approver.get("/customer/outcomes/bulk/", query).content.decode()


def test_the_csv_export_streams_the_filtered_list(outcome_scene: Scene) -> None:
    ingest, outcomes = _billable(outcome_scene, "T-1", "=HYPERLINK(1)")
    neighbour = ingest_for(ingest.contract.vendor, reference="CTR-neighbour")
    outcome_scene.billable(neighbour, "N-1")
    viewer = _member(ingest, CustomerRole.VIEWER)
    listed = viewer.get("/customer/outcomes/", {"state": "billable"}).content.decode()
    assert 'href="/customer/outcomes/export.csv?state=billable"' in listed
    assert "Review…" not in listed  # a viewer may export, not act
    response = viewer.get("/customer/outcomes/export.csv", {"state": "billable"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="outcomes-')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))  # type: ignore[attr-defined]
    assert rows[0] == [
        "id",
        "contract",
        "outcome_type",
        "natural_key",
        "occurred_at",
        "state",
        "reason",
        "amount",
    ]
    by_key = {row[3]: row for row in rows[1:]}
    assert set(by_key) == {"T-1", "'=HYPERLINK(1)"}
    row = by_key["T-1"]
    t1 = next(o for o in outcomes if o.natural_key == "T-1")
    assert row[:2] == [str(t1.pk), "CTR-acts"]
    assert row[5] == "billable"
    assert row[6]
    none = _member(ingest).get("/customer/outcomes/export.csv", {"state": "rejected"})
    assert len(list(csv.reader(io.StringIO(b"".join(none.streaming_content).decode())))) == 1  # type: ignore[attr-defined]

"""The audit log, the raw inbox and Stripe's raw events are append-only in the database itself: no UPDATE
(but of processing state) and no DELETE, whoever issues it."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from contracts.models import AuditEntry
from outcomes.models import Delivery, DeliveryResult, OutcomeTransition, RawEvent, TamperEvidence
from settlement.models import StripeEvent
from tests.support.estate import Estate

pytestmark = pytest.mark.django_db

APPEND_ONLY = [
    (AuditEntry, {"action": "nothing.happened"}),
    (Delivery, {"webhook_id": "rewritten"}),
    (DeliveryResult, {"status": 204}),
    (RawEvent, {"natural_key": "T-rewritten"}),
    (OutcomeTransition, {"reason": "rewritten"}),
]


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("The triggers are PostgreSQL's; the embedded SQLite demo has none.")


def refused(statement: object) -> str:
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        statement()  # type: ignore[operator]
    return str(caught.value)


@pytest.mark.parametrize(("model", "change"), APPEND_ONLY, ids=lambda v: getattr(v, "__name__", ""))
def test_the_application_can_neither_update_nor_delete_an_append_only_row(
    estate: Estate, model: type, change: dict[str, object]
) -> None:
    row = model.objects.order_by("pk").first()  # type: ignore[attr-defined]
    assert row is not None
    rows = model.objects.filter(pk=row.pk)  # type: ignore[attr-defined]
    before = list(rows.values())

    assert "append-only" in refused(lambda: rows.update(**change))
    # A raw DELETE: Django's own delete() may stop earlier, at a protecting foreign key.
    assert "append-only" in refused(lambda: rows._raw_delete(connection.alias))
    assert "append-only" in refused(lambda: model.objects.all()._raw_delete(connection.alias))  # type: ignore[attr-defined]
    assert list(rows.values()) == before


def test_tamper_evidence_cannot_be_rewritten(estate: Estate) -> None:
    ingest = estate.ingest
    from tests.support.ingest import event

    ingest.post(event(id="evt_once"), msg_id="msg_once")
    ingest.post(event(id="evt_twice"), msg_id="msg_once")  # the same delivery id, another body
    evidence = TamperEvidence.objects.get()

    assert "append-only" in refused(
        lambda: TamperEvidence.objects.filter(pk=evidence.pk).update(reused_id="x")
    )
    assert "append-only" in refused(lambda: TamperEvidence.objects.filter(pk=evidence.pk).delete())


def test_a_stripe_event_may_change_only_its_processing_state(estate: Estate) -> None:
    now = timezone.now()
    event = StripeEvent.objects.create(
        id="evt_1", type="invoice.paid", payload={}, created=now, received_at=now
    )
    stored = StripeEvent.objects.filter(pk=event.pk)

    stored.update(processed_at=now, error="retried once")

    assert "append-only" in refused(lambda: stored.update(type="invoice.voided"))
    assert "append-only" in refused(lambda: stored.update(payload={"forged": True}))
    assert "append-only" in refused(lambda: stored.delete())
    assert stored.values_list("type", "processed_at", "error").get() == ("invoice.paid", now, "retried once")


def test_the_vendor_of_an_audit_trail_cannot_be_deleted_with_it(estate: Estate) -> None:
    from django.db.models import ProtectedError

    vendor = estate.ingest.api.vendor
    with pytest.raises(ProtectedError):
        vendor.delete()
    assert AuditEntry.objects.filter(vendor=vendor).exists()

"""A webhook-id seen before: answer as its first delivery did, or refuse a different body as a conflict."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from contracts.selectors import WebhookSourceFacts
from outcomes.ingestion.responses import IngestResponse, error_response
from outcomes.models import Delivery, DeliveryResult, TamperEvidence


def replay(
    delivery: Delivery,
    body_sha256: str,
    source: WebhookSourceFacts,
    body: bytes,
    headers: dict[str, str],
    now: dt.datetime,
) -> IngestResponse:
    """A delivery id seen before: the original answer for the same body, a conflict for another."""
    if delivery.body_sha256 == body_sha256:
        result = DeliveryResult.objects.get(delivery=delivery)
        return IngestResponse(result.status, result.body)
    TamperEvidence.objects.create(
        source_id=source.id,
        kind=TamperEvidence.Kind.DELIVERY,
        reused_id=delivery.webhook_id,
        received_at=now,
        body=body,
        body_sha256=body_sha256,
        original_sha256=delivery.body_sha256,
        headers=headers,
    )
    return error_response(
        409, "webhook_id_conflict", "This webhook-id was already delivered with a different body."
    )


def refusal_or_replay(
    response: IngestResponse,
    *,
    source: WebhookSourceFacts,
    webhook_id: str,
    body_sha256: str,
    body: bytes,
    headers: dict[str, str],
    now: dt.datetime,
) -> IngestResponse:
    """`response` (a refusal), unless the webhook-id was delivered before: then the replay.

    A resend of a delivery id answers as the first delivery did, whatever this body is; the
    accepting path learns of it from the insert (no lookup), the refusing ones look here.
    """
    earlier = Delivery.objects.filter(source_id=source.id, webhook_id=webhook_id).first()
    if earlier is None:
        return response
    with transaction.atomic():
        return replay(earlier, body_sha256, source, body, headers, now)

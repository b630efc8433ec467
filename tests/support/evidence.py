"""A dispute's evidence file, stored as the customer portal stores one (outcomes.services.dispute_evidence)."""

from __future__ import annotations

from outcomes.models import Dispute, DisputeAttachment
from outcomes.services.dispute_evidence import CheckedFile, evidence_store


def dispute_file(dispute: Dispute, content: bytes = b"ticket,agent\nT-1,our staff\n") -> DisputeAttachment:
    (attachment,) = evidence_store(
        dispute=dispute,
        files=[CheckedFile(name="log.csv", content_type="text/csv", extension=".csv", content=content)],
        actor="customer_user:test@buyer.test",
    )
    return attachment

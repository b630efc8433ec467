"""The vendor's audit log: one row per state-changing action, written inside the action's transaction."""

import datetime as dt
from typing import Any

from django.db import models

from contracts.models import AuditEntry, Vendor


def audit_record(
    *,
    vendor: Vendor,
    actor: str,
    action: str,
    target: models.Model,
    at: dt.datetime,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        vendor=vendor,
        actor=actor,
        action=action,
        object_type=target._meta.model_name or type(target).__name__,
        object_id=str(target.pk),
        details=details or {},
        at=at,
    )

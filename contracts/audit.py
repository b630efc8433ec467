"""The vendor's audit log: one row per state-changing action, written inside the action's transaction."""

import datetime as dt
import uuid
from collections.abc import Iterable
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
        object_type=_object_type(target),
        object_id=str(target.pk),
        details=details or {},
        at=at,
    )


def audit_record_many(
    *,
    vendor_id: uuid.UUID,
    actor: str,
    action: str,
    at: dt.datetime,
    entries: Iterable[tuple[models.Model, dict[str, Any]]],
) -> list[AuditEntry]:
    """One action over many objects (a review group's decisions): an entry per object, in one INSERT."""
    return AuditEntry.objects.bulk_create(
        AuditEntry(
            vendor_id=vendor_id,
            actor=actor,
            action=action,
            object_type=_object_type(target),
            object_id=str(target.pk),
            details=details,
            at=at,
        )
        for target, details in entries
    )


def _object_type(target: models.Model) -> str:
    return target._meta.model_name or type(target).__name__

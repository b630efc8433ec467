"""A dispute's evidence files: checked (how many, how large, what they are from their first bytes, never
from their name or the browser's word), stored under a random name in the default storage with their
size and SHA-256, and read back only by whoever may see the dispute (the caller checks: a customer's or
the vendor's members, through the selectors scoped to them)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone

from core.errors import ValidationFailed
from outcomes.models import Dispute, DisputeAttachment

MAX_FILES = 5
MAX_BYTES = 5 * 1024 * 1024
# What a file is, from its first bytes; text is any UTF-8 without NUL bytes (.csv names it CSV).
SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
)
ACCEPTED = "PDF, PNG, JPEG, plain text or CSV"


@dataclass(frozen=True)
class CheckedFile:
    name: str
    content_type: str
    extension: str
    content: bytes


def _refuse(code: str, message: str) -> ValidationFailed:
    return ValidationFailed.on_field("attachments", code, message)


def sniff(content: bytes, name: str) -> tuple[str, str] | None:
    """(content type, extension) of a file from its bytes, or None when it is none of the accepted kinds."""
    for magic, content_type, extension in SIGNATURES:
        if content.startswith(magic):
            return content_type, extension
    if b"\x00" in content:
        return None
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return ("text/csv", ".csv") if name.lower().endswith(".csv") else ("text/plain", ".txt")


def evidence_check(files: Sequence[UploadedFile]) -> list[CheckedFile]:
    """The files as they will be stored, or a ValidationFailed on `attachments` saying what is wrong."""
    if len(files) > MAX_FILES:
        raise _refuse("too_many", f"At most {MAX_FILES} files.")
    checked = []
    for upload in files:
        name = (upload.name or "evidence").rsplit("/", 1)[-1][:200]
        if (upload.size or 0) > MAX_BYTES:
            raise _refuse("too_large", f"{name}: larger than {MAX_BYTES // (1024 * 1024)} MB.")
        content = upload.read(MAX_BYTES + 1)
        if len(content) > MAX_BYTES:
            raise _refuse("too_large", f"{name}: larger than {MAX_BYTES // (1024 * 1024)} MB.")
        kind = sniff(content, name)
        if kind is None or not content:
            raise _refuse("unsupported_type", f"{name}: not a {ACCEPTED} file.")
        checked.append(CheckedFile(name=name, content_type=kind[0], extension=kind[1], content=content))
    return checked


def evidence_store(*, dispute: Dispute, files: Sequence[CheckedFile], actor: str) -> list[DisputeAttachment]:
    now = timezone.now()
    stored = []
    for item in files:
        attachment = DisputeAttachment(
            dispute=dispute,
            original_name=item.name,
            content_type=item.content_type,
            size=len(item.content),
            sha256=hashlib.sha256(item.content).hexdigest(),
            uploaded_by=actor,
            at=now,
        )
        attachment.file.save(secrets.token_hex(16) + item.extension, ContentFile(item.content), save=False)
        attachment.save()
        stored.append(attachment)
    return stored

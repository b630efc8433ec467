"""Is a request its source's own? The source's live secrets verify its Standard Webhooks signature."""

from __future__ import annotations

import binascii
import datetime as dt
import uuid
from collections.abc import Mapping, Sequence

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from contracts.selectors import WebhookSourceFacts, webhook_source_facts
from outcomes.ingestion.responses import IngestResponse, error_response


def _verify_signature(
    secrets: Sequence[str], body: bytes, headers: Mapping[str, str]
) -> IngestResponse | None:
    """None when any live secret verifies the Standard Webhooks signature, else the 401 to send."""
    if not all(headers.get(name) for name in ("webhook-id", "webhook-timestamp", "webhook-signature")):
        return error_response(
            401, "missing_signature_headers", "Send webhook-id, webhook-timestamp and webhook-signature."
        )
    if not secrets:
        return error_response(
            401, "invalid_signature", "The signature does not match any current secret of this source."
        )
    for secret in secrets:
        try:
            Webhook(secret).verify(body, dict(headers), json_parse=False)
            return None
        except WebhookVerificationError as exc:
            text = str(exc)
            if "too old" in text:
                return error_response(
                    401, "timestamp_too_old", "webhook-timestamp is more than 5 minutes in the past."
                )
            if "too new" in text:
                return error_response(
                    401, "timestamp_too_new", "webhook-timestamp is more than 5 minutes in the future."
                )
            if "Invalid Signature Headers" in text:
                return error_response(
                    401, "invalid_timestamp", "webhook-timestamp must be integer seconds since the epoch."
                )
        except (ValueError, TypeError, binascii.Error):
            # The library raises plain ValueError on a malformed signature header or a non-UTF-8 body.
            return error_response(401, "invalid_signature", "The webhook-signature header is malformed.")
    return error_response(
        401, "invalid_signature", "The signature does not match any current secret of this source."
    )


def authenticate(
    source_id: str, body: bytes, headers: Mapping[str, str], now: dt.datetime
) -> WebhookSourceFacts | IngestResponse:
    """The source whose live secret signed the request, or the 401/404 to send."""
    try:
        parsed_id = uuid.UUID(source_id)
    except ValueError:
        parsed_id = None
    # Outside the try: a ValueError reading the source (a bad FIELD_ENCRYPTION_KEYS) is a 500, not a 404.
    source = webhook_source_facts(source_id=parsed_id) if parsed_id is not None else None
    for attempt in ("cached", "fresh"):
        if source is None:
            return error_response(404, "unknown_source", "No such webhook source.")
        if source.revoked_at is not None:
            return error_response(401, "source_revoked", "This webhook source is revoked.")
        rejected = _verify_signature(source.live_secrets(now), body, headers)
        if rejected is None:
            return source
        if attempt == "fresh" or rejected.body["code"] != "invalid_signature":
            return rejected
        # The cached secrets may predate a rotation done by another process: read them again.
        source = webhook_source_facts(source_id=source.id, fresh=True)
    raise AssertionError("unreachable")

"""Endpoints: registration (its first signing secret shown once), changes, deletion, re-enabling one the
dispatcher disabled, and secret rotation with an overlap during which both secrets sign.

Who may register what: a vendor registers endpoints for itself (every customer's events) or for one of
its customers; a customer registers its own with its customer key. A customer's endpoint subscribes
only to event types whose audiences include the customer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from contracts.audit import audit_record
from contracts.models import Customer, Vendor
from core.errors import Conflict, ValidationFailed
from core.events import CUSTOMER
from notifications.catalogue import EVENT_TYPES_BY_NAME
from notifications.models import Delivery, DeliveryStatus, Endpoint, EndpointSecret
from notifications.services.secrets import secret_check, secret_store
from notifications.signing import secret_generate

URL_MAX_LENGTH = Endpoint._meta.get_field("url").max_length or 2000
DESCRIPTION_MAX_LENGTH = Endpoint._meta.get_field("description").max_length or 200
MAX_ROTATION_OVERLAP = dt.timedelta(days=30)


def _url_problem(url: str) -> tuple[str, str] | None:
    """(code, message) of what makes `url` unusable as an endpoint, or None."""
    if len(url) > URL_MAX_LENGTH:
        return "too_long", f"The URL is longer than {URL_MAX_LENGTH} characters."
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return "invalid_url", "Not a URL."
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        return "invalid_url", "The URL must be an absolute http:// or https:// URL."
    if parts.username is not None or parts.password is not None:
        # Credentials in a URL end up in logs and in the portal's list: a receiver authenticates by signature.
        return "credentials_in_url", "The URL must not carry a user name or password."
    if settings.WEBHOOKS_OUT_REQUIRE_HTTPS and parts.scheme != "https":
        return "https_required", "The URL must use https://."
    return None


def _checked_url(url: str) -> str:
    url = url.strip()
    problem = _url_problem(url)
    if problem is not None:
        raise ValidationFailed.on_field("url", *problem)
    return url


def _checked_description(description: str) -> str:
    if len(description) > DESCRIPTION_MAX_LENGTH:
        raise ValidationFailed.on_field(
            "description", "too_long", f"The description is longer than {DESCRIPTION_MAX_LENGTH} characters."
        )
    return description


def _checked_event_types(event_types: Sequence[str], *, for_customer: bool) -> list[str]:
    """The subscribed types, each once, in the order given; refused if one is unknown or, for a
    customer's endpoint, one only the vendor receives."""
    errors = []
    for index, name in enumerate(event_types):
        event_type = EVENT_TYPES_BY_NAME.get(name)
        if event_type is None:
            errors.append((f"event_types[{index}]", "unknown_event_type", f"No event type {name!r}."))
        elif for_customer and CUSTOMER not in event_type.audiences:
            errors.append(
                (
                    f"event_types[{index}]",
                    "not_for_customers",
                    f"{name} is sent to the vendor's endpoints only.",
                )
            )
    if errors:
        raise ValidationFailed.from_pairs(errors)
    return list(dict.fromkeys(event_types))


def endpoint_create(
    *,
    vendor: Vendor,
    customer: Customer | None = None,
    registered_by: str = Endpoint.Owner.VENDOR,
    url: str,
    description: str = "",
    event_types: Sequence[str] = (),
    secret: str | None = None,
    actor: str,
) -> tuple[Endpoint, str]:
    """Register an endpoint and its first signing secret; the secret is returned here once.

    `customer`: the endpoint receives that customer's events only. `registered_by` CUSTOMER: the customer
    registered it with its own key (it manages only those). `secret`: a given `whsec_…` secret instead of
    a new one (the demo's fixed one); normally left out.
    """
    if customer is not None and customer.vendor_id != vendor.pk:
        raise ValidationFailed.on_field("customer_id", "not_found", "No such customer.")
    if registered_by not in Endpoint.Owner.values:
        raise ValidationFailed.on_field(
            "registered_by", "invalid_choice", f"registered_by must be one of {Endpoint.Owner.values}."
        )
    if registered_by == Endpoint.Owner.CUSTOMER and customer is None:
        raise ValidationFailed.on_field(
            "customer_id", "required", "A customer's endpoint names its customer."
        )
    url = _checked_url(url)
    description = _checked_description(description)
    event_types = _checked_event_types(event_types, for_customer=customer is not None)
    if secret is not None:
        secret_check(secret)
    secret = secret or secret_generate()
    with transaction.atomic():
        endpoint = Endpoint.objects.create(
            vendor=vendor,
            customer=customer,
            registered_by=registered_by,
            url=url,
            description=description,
            event_types=event_types,
        )
        secret_store(endpoint=endpoint, secret=secret)
        audit_record(
            vendor=vendor,
            actor=actor,
            action="webhook_endpoint.created",
            target=endpoint,
            at=endpoint.created_at,
            details={"url": url, "customer_id": str(customer.pk) if customer else None},
        )
    return endpoint, secret


def endpoint_update(
    *,
    endpoint: Endpoint,
    url: str | None = None,
    description: str | None = None,
    event_types: Sequence[str] | None = None,
    actor: str,
) -> Endpoint:
    """Change what is given (None: unchanged). The secrets, the state and the log stay as they are."""
    changes: dict[str, object] = {}
    if url is not None:
        changes["url"] = _checked_url(url)
    if description is not None:
        changes["description"] = _checked_description(description)
    if event_types is not None:
        changes["event_types"] = _checked_event_types(
            event_types, for_customer=endpoint.customer_id is not None
        )
    changed = {name: value for name, value in changes.items() if getattr(endpoint, name) != value}
    if not changed:
        return endpoint
    now = timezone.now()
    with transaction.atomic():
        Endpoint.objects.filter(pk=endpoint.pk).update(**changed, updated_at=now)
        audit_record(
            vendor=endpoint.vendor,
            actor=actor,
            action="webhook_endpoint.updated",
            target=endpoint,
            at=now,
            details={"changed": sorted(changed)},
        )
    endpoint.refresh_from_db()
    return endpoint


def endpoint_delete(*, endpoint: Endpoint, actor: str) -> None:
    """Delete the endpoint with its secrets, deliveries and log: nothing more is sent to it."""
    now = timezone.now()
    with transaction.atomic():
        audit_record(
            vendor=endpoint.vendor,
            actor=actor,
            action="webhook_endpoint.deleted",
            target=endpoint,
            at=now,
            details={"url": endpoint.url},
        )
        endpoint.delete()


def endpoint_enable(*, endpoint: Endpoint, actor: str) -> Endpoint:
    """Re-enable an endpoint the dispatcher disabled, with a fresh failure count. Deliveries cancelled
    while it was disabled stay cancelled (resend them since a time). Enabling an enabled one changes nothing."""
    now = timezone.now()
    with transaction.atomic():
        # Only if still disabled: a second click, or a race with another person, changes nothing.
        updated = Endpoint.objects.filter(pk=endpoint.pk, disabled_at__isnull=False).update(
            disabled_at=None,
            disabled_reason="",
            failing_since=None,
            consecutive_failures=0,
            updated_at=now,
        )
        if updated:
            audit_record(
                vendor=endpoint.vendor,
                actor=actor,
                action="webhook_endpoint.enabled",
                target=endpoint,
                at=now,
                details={"was_disabled_for": endpoint.disabled_reason},
            )
    endpoint.refresh_from_db()
    return endpoint


def endpoint_disable(*, endpoint: Endpoint, actor: str) -> Endpoint:
    """Stop sending to an endpoint until it is enabled again (its owner's choice, not the dispatcher's):
    its pending deliveries are cancelled, as the dispatcher's disabling does. Disabling a disabled one
    changes nothing."""
    now = timezone.now()
    with transaction.atomic():
        updated = Endpoint.objects.filter(pk=endpoint.pk, disabled_at__isnull=True).update(
            disabled_at=now, disabled_reason=f"Disabled by {actor}"[:200], updated_at=now
        )
        if updated:
            Delivery.objects.filter(endpoint_id=endpoint.pk, status=DeliveryStatus.PENDING).update(
                status=DeliveryStatus.CANCELLED, next_attempt_at=None
            )
            audit_record(
                vendor=endpoint.vendor,
                actor=actor,
                action="webhook_endpoint.disabled",
                target=endpoint,
                at=now,
            )
    endpoint.refresh_from_db()
    return endpoint


def endpoint_secret_rotate(*, endpoint: Endpoint, overlap: dt.timedelta | None = None, actor: str) -> str:
    """Add a new signing secret, returned here once; the current ones keep signing beside it for
    `overlap` (default WEBHOOKS_OUT_SECRET_OVERLAP_HOURS), so the receiver may switch at any moment."""
    if overlap is None:
        overlap = dt.timedelta(hours=settings.WEBHOOKS_OUT_SECRET_OVERLAP_HOURS)
    if overlap < dt.timedelta(0) or overlap > MAX_ROTATION_OVERLAP:
        raise ValidationFailed.on_field(
            "overlap_seconds",
            "out_of_range",
            f"The overlap must be between 0 and {MAX_ROTATION_OVERLAP.days} days.",
        )
    now = timezone.now()
    expires_at = now + overlap
    secret = secret_generate()
    with transaction.atomic():
        # Locked so two rotations at once cannot both see the same live secrets and leave three signing.
        locked = Endpoint.objects.select_for_update().filter(pk=endpoint.pk).first()
        if locked is None:
            raise Conflict("This endpoint was deleted.", code="endpoint_deleted")
        live = EndpointSecret.objects.filter(endpoint=locked).exclude(expires_at__lte=now)
        live.filter(expires_at__isnull=True).update(expires_at=expires_at)
        live.filter(expires_at__gt=expires_at).update(expires_at=expires_at)
        secret_store(endpoint=locked, secret=secret)
        audit_record(
            vendor=endpoint.vendor,
            actor=actor,
            action="webhook_endpoint.secret_rotated",
            target=locked,
            at=now,
            details={"overlap_seconds": int(overlap.total_seconds())},
        )
    return secret

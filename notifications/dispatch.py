"""The dispatcher: fans the outbox's events out to the endpoints that should receive them, then delivers
what is due, retrying on Standard Webhooks' schedule; also the retention sweep.

At least once, never lost: an event becomes one Delivery per matching endpoint in the transaction that
marks it fanned out; a delivery is claimed under a lease (its `next_attempt_at` pushed past the longest an
attempt can take, committed before the POST), so a worker killed mid-POST leaves it due again when the
lease ends. The POST itself runs outside any transaction; its result is recorded afterwards. The
`webhook-id` is the event's, the same on every attempt, for receivers to deduplicate.

Run by the `dispatch_webhooks` task: woken after each outbox commit (`wake`) and swept by beat every
10 seconds, which delivers even if the wake-up was lost (broker down).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.db.bulk import insert_rows, update_rows
from core.events import CUSTOMER, events_publish
from core.transport import PostResult, webhook_post
from notifications.domain_events import ENDPOINT_DISABLED, endpoint_disabled_event
from notifications.emails import event_emails_send
from notifications.models import Attempt, Delivery, DeliveryStatus, Endpoint, Event
from notifications.payloads import envelope_build, envelope_serialize, event_type_of
from notifications.signing import endpoint_secrets_live, payload_sign

logger = logging.getLogger(__name__)

# Standard Webhooks' (Svix's) schedule after the first, immediate attempt: 5 s, 5 min, 30 min, 2 h, 5 h,
# 10 h, 10 h; extended with 14 h three times so the last attempt is about three days (69.6 h) after the first.
RETRY_DELAYS = tuple(
    dt.timedelta(seconds=seconds)
    for seconds in (
        5,
        5 * 60,
        30 * 60,
        2 * 3600,
        5 * 3600,
        10 * 3600,
        10 * 3600,
        14 * 3600,
        14 * 3600,
        14 * 3600,
    )
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = 0.1  # each delay ±10 %, so endpoints that failed together are not retried in one burst
RETRY_AFTER_CAP = dt.timedelta(days=1)

FAN_OUT_BATCH = 500
DELIVERY_BATCH = 128
POST_THREADS = 8  # POSTs of one batch run side by side: one slow endpoint does not hold up the others
# How long a claimed delivery is left alone: a batch's POSTs, each bounded by the connect and read timeouts.
LEASE_MARGIN = dt.timedelta(seconds=60)
# One dispatch stops taking new batches after this long (the task has a time limit; beat sweeps again).
DISPATCH_BUDGET_SECONDS = 120.0
WAKE_THROTTLE_SECONDS = 0.2
RETENTION_BATCH = 5000
# Longer than any billing period (at most twelve months) and its close: a once-only event outlives it.
ONCE_ONLY_KEPT = dt.timedelta(days=400)


@dataclass(slots=True)
class DispatchSummary:
    fanned_out: int = 0  # events
    deliveries_created: int = 0
    attempts: int = 0
    succeeded: int = 0
    failed_attempts: int = 0
    endpoints_disabled: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "fanned_out": self.fanned_out,
            "deliveries_created": self.deliveries_created,
            "attempts": self.attempts,
            "succeeded": self.succeeded,
            "failed_attempts": self.failed_attempts,
            "endpoints_disabled": self.endpoints_disabled,
        }


# --- waking ----------------------------------------------------------------------------------------------

_last_wake = 0.0
_deferred = False
_wake_lock = threading.Lock()


@contextmanager
def dispatch_deferred() -> Iterator[None]:
    """No dispatch woken while inside (events are still recorded): for a simulated clock (the demo), whose
    signatures a receiver would refuse as dated in the past, and for benchmarks that time the outbox's
    write alone. Dispatch afterwards, with the real clock. One thread only (the demo, a benchmark)."""
    global _deferred
    previous, _deferred = _deferred, True
    try:
        yield
    finally:
        _deferred = previous


def wake() -> None:
    """Ask for the outbox to be dispatched soon; called on commit after outbox writes. Never raises.

    Eager Celery (the embedded `make run`, most tests): dispatch here and now. Otherwise send one
    `dispatch_webhooks` task, at most one per WAKE_THROTTLE_SECONDS per process; a broker error is
    logged and dropped, the beat sweep delivers anyway.
    """
    from config.celery import app
    from notifications.tasks import dispatch_webhooks

    global _last_wake
    if _deferred:
        return
    try:
        if app.conf.task_always_eager:
            dispatch()
            return
        with _wake_lock:
            moment = time.monotonic()
            if moment - _last_wake < WAKE_THROTTLE_SECONDS:
                return
            _last_wake = moment
        dispatch_webhooks.delay()
    except Exception:
        logger.warning("Waking the webhook dispatcher failed; the periodic sweep will deliver", exc_info=True)


# --- fan-out ---------------------------------------------------------------------------------------------


def endpoint_receives(*, endpoint: Endpoint, event: Event) -> bool:
    """Whether `endpoint` should receive `event`: the vendor's endpoints every event of theirs; a
    customer's only events about that customer whose type customers may receive; each only the types it
    subscribes to (none listed: all). `endpoint.disabled` goes to the vendor's other endpoints."""
    if endpoint.vendor_id != event.vendor_id or endpoint.disabled_at is not None:
        return False
    if endpoint.event_types and event.type not in endpoint.event_types:
        return False
    if event.type == ENDPOINT_DISABLED.name and event.object_id == str(endpoint.pk):
        return False
    if endpoint.customer_id is None:
        return True
    event_type = event_type_of(event.type)
    # An unknown type is the vendor's only: nothing reaches a customer that the catalogue does not allow.
    return (
        event_type is not None
        and CUSTOMER in event_type.audiences
        and event.customer_id is not None
        and event.customer_id == endpoint.customer_id
    )


def events_fan_out(*, now: dt.datetime, batch: int = FAN_OUT_BATCH) -> tuple[int, int]:
    """Fan out up to `batch` events not fanned out yet: one Delivery, due now, per receiving endpoint.
    Returns (events, deliveries created)."""
    with transaction.atomic():
        # SKIP LOCKED: dispatchers running side by side take different events; a locked event is in
        # another's hands and becomes a Delivery once (the unique (event, endpoint) guards a replay too).
        events = list(
            Event.objects.select_for_update(skip_locked=True)
            .filter(fanned_out=False)
            .order_by("id")
            # What matching needs; an email's text reads the rest (`data`) for the few types that send one.
            .only("id", "type", "vendor_id", "customer_id", "contract_id", "object_id")[:batch]
        )
        if not events:
            return 0, 0
        endpoints = list(
            Endpoint.objects.filter(
                vendor_id__in={event.vendor_id for event in events}, disabled_at__isnull=True
            )
        )
        by_vendor: dict[object, list[Endpoint]] = {}
        for endpoint in endpoints:
            by_vendor.setdefault(endpoint.vendor_id, []).append(endpoint)
        deliveries = [
            Delivery(event=event, endpoint=endpoint, next_attempt_at=now, created_at=now)
            for event in events
            for endpoint in by_vendor.get(event.vendor_id, [])
            if endpoint_receives(endpoint=endpoint, event=event)
        ]
        created = Delivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        Event.objects.filter(pk__in=[event.pk for event in events]).update(fanned_out=True)
    _emails_send(events)
    return len(events), len(created)


def _emails_send(events: Sequence[Event]) -> None:
    """The emails some events also make (budget thresholds, invoices awaiting approval), once their fan-out
    has committed: no mail server inside a transaction, and one that is down never holds up the webhooks
    (the email is then lost and logged; the webhook, its durable twin, is still delivered)."""
    try:
        event_emails_send(events=events)
    except Exception:
        logger.exception("Alert emails for events %s were not sent", [event.pk for event in events])


# --- delivery --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Request:
    delivery_id: int
    endpoint_id: uuid.UUID
    url: str
    body: bytes
    headers: dict[str, str]
    manual: bool  # asked for by a person (a resend, a test event)


def retry_delay(*, attempts: int, retry_after: float | None) -> dt.timedelta | None:
    """How long after its `attempts`-th failed attempt a delivery is tried again; None: no more tries."""
    if attempts >= MAX_ATTEMPTS:
        return None
    delay = RETRY_DELAYS[attempts - 1] * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311 - not a secret
    if retry_after is not None:
        delay = max(delay, min(dt.timedelta(seconds=retry_after), RETRY_AFTER_CAP))
    return delay


def _lease() -> dt.timedelta:
    per_post = settings.WEBHOOKS_OUT_CONNECT_TIMEOUT + settings.WEBHOOKS_OUT_READ_TIMEOUT
    rounds = -(-DELIVERY_BATCH // POST_THREADS)
    return dt.timedelta(seconds=per_post * rounds) + LEASE_MARGIN


def deliveries_claim(*, now: dt.datetime, limit: int = DELIVERY_BATCH) -> list[Delivery]:
    """Take up to `limit` due deliveries for this dispatcher: each is leased (due again only once the
    lease ends) in a transaction committed before any POST."""
    with transaction.atomic():
        # SKIP LOCKED: concurrent dispatchers claim different deliveries; the lease, committed, keeps the
        # claim after the lock is gone.
        claimed = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                status=DeliveryStatus.PENDING, next_attempt_at__lte=now, endpoint__disabled_at__isnull=True
            )
            .order_by("next_attempt_at", "id")
            .select_related("event", "endpoint")
            # What a request is built from (the envelope, the URL, the secrets), nothing more.
            .only(
                "id",
                "resend_requested",
                "event__id",
                "event__uid",
                "event__type",
                "event__vendor_id",
                "event__customer_id",
                "event__contract_id",
                "event__object_id",
                "event__data",
                "event__occurred_at",
                "event__created_at",
                "endpoint__id",
                "endpoint__url",
                "endpoint__customer_id",
            )[:limit]
        )
        if claimed:
            Delivery.objects.filter(pk__in=[delivery.pk for delivery in claimed]).update(
                next_attempt_at=now + _lease()
            )
    return claimed


def _request_build(
    delivery: Delivery, *, now: dt.datetime, secrets_of: dict[uuid.UUID, list[str]]
) -> _Request:
    event, endpoint = delivery.event, delivery.endpoint
    body = envelope_serialize(envelope_build(event=event, endpoint=endpoint))
    if endpoint.pk not in secrets_of:  # read and decrypted once per endpoint and batch
        secrets_of[endpoint.pk] = endpoint_secrets_live(endpoint_id=endpoint.pk, now=now)
    headers = {
        "webhook-id": event.webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": payload_sign(
            secrets=secrets_of[endpoint.pk], msg_id=event.webhook_id, timestamp=now, payload=body
        ),
    }
    return _Request(delivery.pk, endpoint.pk, endpoint.url, body, headers, delivery.resend_requested)


@dataclass(slots=True)
class _Batch:
    """Claimed deliveries whose POSTs are under way on the dispatcher's threads."""

    requests: list[_Request]
    results: list[Future[PostResult]]
    at: dt.datetime


def _batch_send(pool: ThreadPoolExecutor, deliveries: Sequence[Delivery], now: dt.datetime) -> _Batch:
    """Start the POSTs of claimed deliveries (outside any transaction) and return at once."""
    secrets_of: dict[uuid.UUID, list[str]] = {}
    requests = [_request_build(delivery, now=now, secrets_of=secrets_of) for delivery in deliveries]
    results = [
        pool.submit(webhook_post, url=request.url, body=request.body, headers=request.headers, now=now)
        for request in requests
    ]
    return _Batch(requests, results, now)


def _batch_record(batch: _Batch, summary: DispatchSummary) -> None:
    """Wait for a batch's POSTs, then record its attempts and count them."""
    results = [future.result() for future in batch.results]
    summary.endpoints_disabled += attempts_record(
        attempts=list(zip(batch.requests, results, strict=True)), at=batch.at
    )
    summary.attempts += len(results)
    summary.succeeded += sum(result.succeeded for result in results)
    summary.failed_attempts += sum(not result.succeeded for result in results)


ATTEMPT_COLUMNS = (
    "delivery_id",
    "endpoint_id",
    "at",
    "status_code",
    "succeeded",
    "latency_ms",
    "error",
    "response_excerpt",
    "manual",
)


def _attempt_row(*, request: _Request, result: PostResult, at: dt.datetime) -> tuple[Any, ...]:
    return (
        request.delivery_id,
        request.endpoint_id,
        at,
        result.status_code,
        result.succeeded,
        result.latency_ms,
        result.error,
        result.excerpt,
        request.manual,
    )


def _delivery_moved_on(delivery: Delivery, result: PostResult, at: dt.datetime) -> None:
    """Set in memory where one attempt leaves its delivery: delivered; due again on the schedule; failed
    once the schedule is over. One no longer pending (cancelled while its POST was under way, or a manual
    resend of a finished one) keeps its status: the attempt is logged, the schedule is over."""
    delivery.last_attempt_at, delivery.last_status_code = at, result.status_code
    delivery.resend_requested = False
    if delivery.status != DeliveryStatus.PENDING:
        return
    delivery.attempts += 1
    delay = (
        None if result.succeeded else retry_delay(attempts=delivery.attempts, retry_after=result.retry_after)
    )
    if result.succeeded:
        delivery.status = DeliveryStatus.SUCCEEDED
    elif delay is None:
        delivery.status = DeliveryStatus.FAILED
    delivery.next_attempt_at = None if delay is None else at + delay


def attempts_record(*, attempts: Sequence[tuple[_Request, PostResult]], at: dt.datetime) -> list[str]:
    """Log a batch's attempts, move each delivery on and each endpoint's health, in one transaction (a few
    statements for the batch, not a few per delivery); disable the endpoints that have failed too long.
    Returns the endpoints this batch disabled."""
    if not attempts:
        return []
    with transaction.atomic():
        # Locked (id order, as every writer of deliveries) so a cancel or resend meanwhile is not overwritten.
        deliveries = {
            delivery.pk: delivery
            for delivery in Delivery.objects.select_for_update()
            .filter(pk__in=[request.delivery_id for request, _ in attempts])
            .order_by("pk")
            .only("id", "status", "attempts")
        }
        # A delivery deleted while its POST was under way (its endpoint deleted) has nothing left to log.
        attempts = [(request, result) for request, result in attempts if request.delivery_id in deliveries]
        insert_rows(
            Attempt,
            ATTEMPT_COLUMNS,
            [_attempt_row(request=request, result=result, at=at) for request, result in attempts],
        )
        for request, result in attempts:
            _delivery_moved_on(deliveries[request.delivery_id], result, at)
        update_rows(
            Delivery,
            sorted(deliveries.values(), key=lambda delivery: delivery.pk),
            (
                "status",
                "attempts",
                "next_attempt_at",
                "last_attempt_at",
                "last_status_code",
                "resend_requested",
            ),
        )
        # Each endpoint's run of failures after its last success in this batch (all at the same moment).
        failures_after: dict[uuid.UUID, int] = {}
        succeeded: set[uuid.UUID] = set()
        for request, result in attempts:
            if result.succeeded:
                succeeded.add(request.endpoint_id)
                failures_after[request.endpoint_id] = 0
            else:
                failures_after[request.endpoint_id] = failures_after.get(request.endpoint_id, 0) + 1
        for endpoint_id, failures in failures_after.items():
            endpoint = Endpoint.objects.filter(pk=endpoint_id)
            if endpoint_id in succeeded:
                endpoint.update(
                    consecutive_failures=failures,
                    failing_since=at if failures else None,
                    last_success_at=at,
                    updated_at=at,
                )
            else:
                endpoint.update(
                    consecutive_failures=F("consecutive_failures") + failures,
                    failing_since=Coalesce(F("failing_since"), at),
                    updated_at=at,
                )
        return [
            str(endpoint_id)
            for endpoint_id, failures in sorted(failures_after.items())
            if failures and endpoint_disable_if_failing(endpoint_id=endpoint_id, now=at)
        ]


def endpoint_disable_if_failing(*, endpoint_id: uuid.UUID, now: dt.datetime) -> bool:
    """Disable the endpoint if every attempt has failed for WEBHOOKS_OUT_DISABLE_AFTER_HOURS, at least
    WEBHOOKS_OUT_DISABLE_AFTER_FAILURES times: its pending deliveries are cancelled and `endpoint.disabled`
    goes to the vendor's other endpoints. Runs inside the caller's transaction; returns whether it did."""
    hours = settings.WEBHOOKS_OUT_DISABLE_AFTER_HOURS
    failures = settings.WEBHOOKS_OUT_DISABLE_AFTER_FAILURES
    reason = f"Every delivery failed for {hours:g} hours (at least {failures} attempts)."
    # Only if still enabled and still failing (the row count says whether this call is the one that did).
    disabled = Endpoint.objects.filter(
        pk=endpoint_id,
        disabled_at__isnull=True,
        failing_since__lte=now - dt.timedelta(hours=hours),
        consecutive_failures__gte=failures,
    ).update(disabled_at=now, disabled_reason=reason, updated_at=now)
    if not disabled:
        return False
    endpoint = Endpoint.objects.get(pk=endpoint_id)
    Delivery.objects.filter(endpoint_id=endpoint_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.CANCELLED, next_attempt_at=None
    )
    assert endpoint.failing_since is not None  # the update above matched on it
    events_publish(
        [
            endpoint_disabled_event(
                vendor_id=endpoint.vendor_id,
                endpoint_id=endpoint.pk,
                customer_id=endpoint.customer_id,
                url=endpoint.url,
                reason=reason,
                failing_since=endpoint.failing_since,
                consecutive_failures=endpoint.consecutive_failures,
                at=now,
            )
        ]
    )
    logger.warning("Webhook endpoint %s of vendor %s disabled: %s", endpoint.pk, endpoint.vendor_id, reason)
    return True


def dispatch(*, now: dt.datetime | None = None, limit: int = 10_000) -> DispatchSummary:
    """Fan out the outbox, then deliver what is due, batch after batch while work is due (at most `limit`
    attempts, at most DISPATCH_BUDGET_SECONDS). `now` fixes the clock (tests); else it is read per batch.

    Pipelined: while one batch's POSTs are under way on the threads, the previous batch's attempts are
    recorded and the next one fanned out and claimed, so the network and the database overlap."""
    summary = DispatchSummary()
    started = time.monotonic()
    sent = 0
    in_flight: _Batch | None = None
    with ThreadPoolExecutor(max_workers=POST_THREADS) as pool:
        while time.monotonic() - started < DISPATCH_BUDGET_SECONDS and sent < limit:
            moment = now or timezone.now()
            events, created = events_fan_out(now=moment)
            summary.fanned_out += events
            summary.deliveries_created += created
            claimed = deliveries_claim(now=moment, limit=min(DELIVERY_BATCH, limit - sent))
            sent += len(claimed)
            batch = _batch_send(pool, claimed, moment)
            # Recording may publish (`endpoint.disabled`) or make work due: look again before stopping.
            recorded = in_flight is not None and bool(in_flight.requests)
            if in_flight is not None:
                _batch_record(in_flight, summary)
            in_flight = batch
            if not events and not claimed and not recorded:
                break
        if in_flight is not None:
            _batch_record(in_flight, summary)
    return summary


# --- retention -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PruneSummary:
    attempts: int
    deliveries: int
    events: int


def prune(*, now: dt.datetime | None = None) -> PruneSummary:
    """Delete attempts, finished deliveries and fanned-out events older than WEBHOOKS_OUT_RETENTION_DAYS;
    never a pending delivery, nor the event of one (nor an event with a recent delivery: a resend). A
    once-only event (a dedup key: a budget threshold in a period, a reminder) stays for ONCE_ONLY_KEPT: its
    row is what keeps it once-only, and the period it is about may last months."""
    moment = now or timezone.now()
    cutoff = moment - dt.timedelta(days=settings.WEBHOOKS_OUT_RETENTION_DAYS)
    once_only_cutoff = min(cutoff, moment - ONCE_ONLY_KEPT)
    attempts = _delete_in_batches(Attempt.objects.filter(at__lt=cutoff))
    deliveries = _delete_in_batches(
        Delivery.objects.filter(created_at__lt=cutoff).exclude(status=DeliveryStatus.PENDING)
    )
    keep = Delivery.objects.filter(event=OuterRef("pk")).filter(
        Q(status=DeliveryStatus.PENDING) | Q(created_at__gte=cutoff)
    )
    events = _delete_in_batches(
        Event.objects.filter(fanned_out=True, created_at__lt=cutoff)
        .filter(Q(dedup_key__isnull=True) | Q(created_at__lt=once_only_cutoff))
        .filter(~Exists(keep))
    )
    return PruneSummary(attempts=attempts, deliveries=deliveries, events=events)


def _delete_in_batches(queryset: QuerySet[Any]) -> int:
    total = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:RETENTION_BATCH])
        if not ids:
            return total
        # Short transactions: a large backlog is not deleted under one long lock.
        total += queryset.model.objects.filter(pk__in=ids).delete()[1].get(queryset.model._meta.label, 0)

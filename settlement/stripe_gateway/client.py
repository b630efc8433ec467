"""Stripe's client, idempotency keys and the settlement step: each Stripe call at most once to completion.

Each call is one SettlementStep (Zulip's billing pattern): created with its parameters frozen at the
first attempt, marked DONE with the Stripe id after. A retry or a crash resumes at the first step not
DONE and sends exactly the frozen parameters again under the same idempotency key, so Stripe answers
with the original object instead of making a second one (and never `idempotency_error`, whatever
changed in Verity meanwhile). Two limits of Stripe's idempotency are handled here
(https://docs.stripe.com/api/idempotent_requests):

- keys "can be removed after they're at least 24 hours old": a step first tried longer ago than
  KEY_LIFETIME looks for what an earlier attempt made (by the Verity id in its metadata) before
  sending again, and sends under a new key version only when nothing was made;
- a result is saved "including 500 errors" once the endpoint started: every retry under that key
  gets the same 500 back. After such a replay the same lookup decides, then a new key version.

The SDK retries network errors, 409, 429 and 5xx with backoff and the same key; what is still
unavailable after that raises StripeUnavailable (the task retries later). A 4xx marks the step
FAILED for a person (`manage.py settlement_steps`), unless the step's `refused` handler explains it.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError
from django.db.models import F
from django.utils import timezone

from core import crypto
from settlement.models import Invoice, SettlementStep, StripeConnection

logger = logging.getLogger(__name__)

KEY_VERSION = "v1"
# The API version every call speaks, pinned here and matching the SDK's major version in
# pyproject.toml (stripe-python 16.x is generated for this version): a Stripe account's default
# version can change under us, a request's pinned version cannot.
API_VERSION = "2026-10-28.endive"
# Stripe keeps an idempotency key at least 24 hours; an hour's margin for clocks and slow calls.
KEY_LIFETIME = dt.timedelta(hours=23)

StripeObject = Any  # what the SDK returns (a StripeObject); read with getattr/to_dict
Params = dict[str, Any]


class StripeUnavailable(Exception):
    """A transient failure (network, 429, 5xx after the SDK's own retries): try again later, same keys."""


class SettlementBlocked(Exception):
    """Stripe refused a call (4xx): recorded on the step and the invoice; a person must look."""


def idempotency_key(*parts: object) -> str:
    return ":".join(["verity", KEY_VERSION, *(str(p) for p in parts)])


@dataclass(frozen=True)
class StripeAccount:
    """Where a vendor's calls go: an API key, and the connected account they act on (`Stripe-Account`,
    platform mode) or "" (the key's own account)."""

    api_key: str
    account: str = ""


def deployment_account() -> StripeAccount:
    """The deployment's own key (STRIPE_API_KEY): a vendor without a connection, and the platform."""
    return StripeAccount(settings.STRIPE_API_KEY)


def vendor_account(vendor_id: Any) -> StripeAccount:
    """The Stripe account a vendor settles in: its own key, a connected account under the platform key,
    or the deployment's key when it has no connection (settlement.models.StripeConnection)."""
    connection = StripeConnection.objects.filter(vendor_id=vendor_id).first()
    if connection is None:
        return deployment_account()
    if connection.mode == StripeConnection.Mode.OWN_ACCOUNT:
        return StripeAccount(crypto.decrypt(connection.secret_key_encrypted))
    return StripeAccount(settings.STRIPE_API_KEY, connection.account_id)


def versioned_key(step: SettlementStep, version: int) -> str:
    """The step's idempotency key under another version: its first key, then `…:r2`, `…:r3`."""
    first = step.idempotency_key.rsplit(":r", 1)[0] if step.key_version > 1 else step.idempotency_key
    return first if version == 1 else f"{first}:r{version}"


def client(account: StripeAccount | None = None) -> stripe.StripeClient:
    """The process's client for an account (the deployment's by default): one per account and process,
    so its HTTP connections are kept alive across invoices instead of a TLS handshake per call."""
    account = account or deployment_account()
    return _client(
        account.api_key,
        account.account,
        settings.STRIPE_API_BASE,
        settings.STRIPE_MAX_NETWORK_RETRIES,
        settings.STRIPE_TIMEOUT_SECONDS,
    )


def vendor_client(vendor_id: Any) -> stripe.StripeClient:
    return client(vendor_account(vendor_id))


@functools.lru_cache(maxsize=64)
def _client(
    api_key: str, account: str, api_base: str, max_network_retries: int, timeout: float
) -> stripe.StripeClient:
    base = {"api": api_base} if api_base else None
    return stripe.StripeClient(
        api_key,
        stripe_account=account or None,
        base_addresses=base,  # type: ignore[arg-type]
        stripe_version=API_VERSION,
        max_network_retries=max_network_retries,
        # A hung call times out and is retried with the same key, well inside the task's time limit.
        http_client=stripe.new_default_http_client(timeout=timeout),
    )


def options(key: str) -> Any:
    """Request options of a settlement call (the SDK's RequestOptions)."""
    return {"idempotency_key": key}


@dataclass(frozen=True)
class StepCall:
    """One settlement step: what it sends, how, and how to find what an earlier attempt made.

    `params` is called once, at the step's first attempt; its result is stored and every later attempt
    sends exactly that. `find` returns the Stripe id of what an earlier attempt made, or None.
    `refused` may turn a 4xx into a finished step (returning the note to keep), e.g. a declined card.
    """

    name: str
    key: str
    params: Callable[[], Params]
    send: Callable[[Params, str], StripeObject]
    find: Callable[[Params], str | None]
    refused: Callable[[stripe.StripeError], str | None] | None = None
    results: list[StripeObject] = field(default_factory=list)  # what send returned in this run


def _step_for(invoice: Invoice, call: StepCall) -> SettlementStep:
    step = SettlementStep.objects.filter(invoice=invoice, step=call.name).first()
    if step is not None:
        if step.status == SettlementStep.Status.STARTED and step.attempts == 0:
            # Never sent (created and crashed, or reset by an operator's retry): freeze them now.
            step.params = call.params()
            SettlementStep.objects.filter(pk=step.pk, attempts=0).update(params=step.params)
        return step
    try:
        return SettlementStep.objects.create(
            invoice=invoice,
            step=call.name,
            idempotency_key=call.key,
            params=call.params(),
            started_at=timezone.now(),
        )
    except IntegrityError:  # a concurrent push created it first: use that one's frozen parameters
        return SettlementStep.objects.get(invoice=invoice, step=call.name)


def _finish(step: SettlementStep, stripe_id: str, note: str = "") -> SettlementStep:
    SettlementStep.objects.filter(pk=step.pk).update(
        status=SettlementStep.Status.DONE, stripe_id=stripe_id, error=note, done_at=timezone.now()
    )
    step.refresh_from_db()
    return step


def _next_key(step: SettlementStep, call: StepCall) -> SettlementStep:
    """Stripe provably made nothing under the step's key (lookup done): send under a new version."""
    version = step.key_version + 1
    SettlementStep.objects.filter(pk=step.pk).update(
        key_version=version, idempotency_key=versioned_key(step, version), started_at=timezone.now()
    )
    logger.info("Step %s of invoice %s continues under key version %d", call.name, step.invoice_id, version)
    step.refresh_from_db()
    return step


def _replayed(exc: stripe.StripeError) -> bool:
    return any(
        name.lower() == "idempotent-replayed" and str(value).lower() == "true"
        for name, value in (exc.headers or {}).items()
    )


class _ReplayedFailure(Exception):
    """Stripe replayed a stored 5xx for this key: the key is spent whatever we do."""


def _transient(invoice: Invoice, name: str, exc: stripe.StripeError) -> StripeUnavailable:
    logger.warning("Stripe unavailable at %s for invoice %s: %s", name, invoice.pk, exc)
    return StripeUnavailable(str(exc))


def _send(invoice: Invoice, step: SettlementStep, call: StepCall) -> StripeObject:
    SettlementStep.objects.filter(pk=step.pk).update(attempts=F("attempts") + 1)
    try:
        result = call.send(step.params, step.idempotency_key)
    except stripe.APIError as exc:
        if _replayed(exc):
            raise _ReplayedFailure(str(exc)) from exc
        raise _transient(invoice, call.name, exc) from exc
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        raise _transient(invoice, call.name, exc) from exc
    except stripe.IdempotencyError as exc:
        if exc.http_status == 409:  # the same key still in flight elsewhere: later
            raise _transient(invoice, call.name, exc) from exc
        raise
    call.results.append(result)
    return result


@contextmanager
def outage_is_unavailable(what: str) -> Iterator[None]:
    """Around a call outside a step (a read, a lookup): Stripe's outages become StripeUnavailable."""
    try:
        yield
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
        raise StripeUnavailable(f"{what}: {exc}") from exc


def _found(call: StepCall, step: SettlementStep) -> str | None:
    with outage_is_unavailable(f"looking for what {call.name} made"):
        return call.find(step.params)


def step_run(invoice: Invoice, call: StepCall) -> SettlementStep:
    """Run one Stripe call at most once to completion; a DONE step is returned as it is."""
    step = _step_for(invoice, call)
    if step.status == SettlementStep.Status.DONE:
        return step
    if step.status == SettlementStep.Status.FAILED:
        raise SettlementBlocked(f"{call.name}: {step.error}")
    if step.attempts and timezone.now() - step.started_at >= KEY_LIFETIME:
        # Stripe may have forgotten the key: what we made must be found, not made again.
        found = _found(call, step)
        if found is not None:
            return _finish(step, found)
        step = _next_key(step, call)
    try:
        try:
            result = _send(invoice, step, call)
        except _ReplayedFailure:
            found = _found(call, step)
            if found is not None:
                return _finish(step, found)
            step = _next_key(step, call)
            result = _send(invoice, step, call)
    except _ReplayedFailure as exc:
        raise StripeUnavailable(str(exc)) from exc
    except stripe.StripeError as exc:
        note = call.refused(exc) if call.refused is not None else None
        if note is not None:
            return _finish(step, "", note)
        message = f"{type(exc).__name__}: {exc.user_message or exc}"
        SettlementStep.objects.filter(pk=step.pk).update(status=SettlementStep.Status.FAILED, error=message)
        Invoice.objects.filter(pk=invoice.pk).update(stripe_error=f"{call.name}: {message}")
        raise SettlementBlocked(message) from exc
    return _finish(step, str(getattr(result, "id", "") or ""))


def every(listing: StripeObject) -> Iterator[StripeObject]:
    """Every object of a Stripe list, page after page."""
    return iter(listing.auto_paging_iter())


def metadata_of(obj: StripeObject) -> dict[str, Any]:
    metadata = getattr(obj, "metadata", None)
    if metadata is None:
        return {}
    return dict(metadata.to_dict() if hasattr(metadata, "to_dict") else metadata)

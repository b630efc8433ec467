"""Stripe's client, idempotency keys and the settlement step: each Stripe call at most once to completion.

Each call is one SettlementStep: marked STARTED before the call and DONE with the Stripe id after,
with an idempotency key built from our own ids in a versioned format (`verity:v1:…`). A crash or
retry between calls resumes from the first step not DONE and repeats its call with the same key,
so Stripe returns the original object instead of creating a second. The SDK retries network
errors, 409, 429 and 5xx with backoff and the same key; a 4xx marks the step FAILED for a person.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import stripe
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from settlement.models import Invoice, SettlementStep

logger = logging.getLogger(__name__)

KEY_VERSION = "v1"


class StripeUnavailable(Exception):
    """A transient failure (network, 429, 5xx after the SDK's own retries): try again later, same keys."""


class SettlementBlocked(Exception):
    """Stripe refused a call (4xx): recorded on the step and the invoice; a person must look."""


def idempotency_key(*parts: object) -> str:
    return ":".join(["verity", KEY_VERSION, *(str(p) for p in parts)])


def client() -> stripe.StripeClient:
    """The process's client for the current settings: one per process, so its HTTP connections are
    kept alive across invoices instead of a TLS handshake per call."""
    return _client(
        settings.STRIPE_API_KEY,
        settings.STRIPE_API_BASE,
        settings.STRIPE_MAX_NETWORK_RETRIES,
        settings.STRIPE_TIMEOUT_SECONDS,
    )


@functools.lru_cache(maxsize=4)
def _client(api_key: str, api_base: str, max_network_retries: int, timeout: float) -> stripe.StripeClient:
    base = {"api": api_base} if api_base else None
    return stripe.StripeClient(
        api_key,
        base_addresses=base,  # type: ignore[arg-type]
        max_network_retries=max_network_retries,
        # A hung call times out and is retried with the same key, well inside the task's time limit.
        http_client=stripe.new_default_http_client(timeout=timeout),
    )


def step_run(invoice: Invoice, name: str, key: str, call: Callable[[str], Any]) -> Any:
    """Run one Stripe call at most once to completion; a DONE step returns its stored Stripe id."""
    step, _ = SettlementStep.objects.get_or_create(
        invoice=invoice, step=name, defaults={"idempotency_key": key, "started_at": timezone.now()}
    )
    if step.status == SettlementStep.Status.DONE:
        return step.stripe_id
    if step.status == SettlementStep.Status.FAILED:
        raise SettlementBlocked(f"{name}: {step.error}")
    SettlementStep.objects.filter(pk=step.pk).update(attempts=F("attempts") + 1)
    try:
        result = call(step.idempotency_key)
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
        logger.warning("Stripe unavailable at %s for invoice %s: %s", name, invoice.pk, exc)
        raise StripeUnavailable(str(exc)) from exc
    except stripe.CardError:
        raise  # a business outcome (declined), handled by the caller
    except stripe.StripeError as exc:
        message = f"{type(exc).__name__}: {exc.user_message or exc}"
        SettlementStep.objects.filter(pk=step.pk).update(status=SettlementStep.Status.FAILED, error=message)
        Invoice.objects.filter(pk=invoice.pk).update(stripe_error=f"{name}: {message}")
        raise SettlementBlocked(message) from exc
    stripe_id = getattr(result, "id", "") or ""
    SettlementStep.objects.filter(pk=step.pk).update(
        status=SettlementStep.Status.DONE, stripe_id=stripe_id, done_at=timezone.now()
    )
    return stripe_id

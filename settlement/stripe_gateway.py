"""The one module that talks to Stripe, through the official SDK's StripeClient.

Each call is one SettlementStep: marked STARTED before the call and DONE with the Stripe id after,
with an idempotency key built from our own ids in a versioned format (`verity:v1:…`). A crash or
retry between calls resumes from the first step not DONE and repeats its call with the same key,
so Stripe returns the original object instead of creating a second. The SDK retries network
errors, 409, 429 and 5xx with backoff and the same key; a 4xx marks the step FAILED for a person.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import stripe
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from contracts.models import CollectionMethod, Customer
from settlement.models import Invoice, InvoiceLine, InvoiceStatus, SettlementStep

logger = logging.getLogger(__name__)

KEY_VERSION = "v1"
MAX_STRIPE_LINES = 250


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


def _step(invoice: Invoice, name: str, key: str, call: Callable[[str], Any]) -> Any:
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


@dataclass(frozen=True)
class StripeLine:
    description: str
    amount_minor: int
    key: str


def stripe_lines(invoice: Invoice) -> list[StripeLine]:
    """What Stripe sees: our lines, merged per kind and outcome type when there are more than Stripe takes.

    Per-outcome traceability stays in Verity; Stripe gets at most 250 lines.
    """
    lines = list(invoice.lines.order_by("position"))
    if len(lines) <= MAX_STRIPE_LINES:
        return [
            StripeLine(line.description, line.amount_minor, f"line{line.position}")
            for line in lines
            if line.amount_minor
        ]
    merged: dict[tuple[str, str], list[InvoiceLine]] = {}
    for line in lines:
        merged.setdefault((line.kind, line.outcome_type_key), []).append(line)
    return [
        StripeLine(
            f"{group[0].get_kind_display()}{' ' + type_key if type_key else ''} ({len(group)} lines)",
            sum(line.amount_minor for line in group),
            f"group-{kind}-{type_key or 'none'}",
        )
        for (kind, type_key), group in merged.items()
        if sum(line.amount_minor for line in group)
    ]


def _ensure_customer(api: stripe.StripeClient, invoice: Invoice, customer: Customer) -> str:
    if customer.stripe_customer_id:
        return customer.stripe_customer_id
    stripe_id = _step(
        invoice,
        "customer",
        idempotency_key("customer", customer.pk),
        lambda key: api.v1.customers.create(
            params={
                "name": customer.name,
                "email": customer.billing_email,
                "metadata": {"verity_customer_id": str(customer.pk), "external_ref": customer.external_ref},
            },
            options={"idempotency_key": key},
        ),
    )
    Customer.objects.filter(pk=customer.pk, stripe_customer_id="").update(stripe_customer_id=stripe_id)
    customer.refresh_from_db()
    return customer.stripe_customer_id


def invoice_push(*, invoice_id: int) -> Invoice:
    """Settle a finalized invoice through Stripe: customer, draft, lines, finalize, collect. Resumable."""
    invoice = Invoice.objects.select_related("contract__customer").get(pk=invoice_id)
    if invoice.status != InvoiceStatus.FINALIZED:
        return invoice  # a draft is not ready; anything later was already pushed
    contract = invoice.contract
    if invoice.total_minor <= 0:
        # Nothing to collect: a zero invoice, or credits only (the balance carries forward in Verity).
        Invoice.objects.filter(pk=invoice.pk, status=InvoiceStatus.FINALIZED).update(
            status=InvoiceStatus.PAID, stripe_status="not_required", paid_at=timezone.now()
        )
        invoice.refresh_from_db()
        return invoice
    api = client()
    customer_id = _ensure_customer(api, invoice, contract.customer)
    send = contract.collection_method == CollectionMethod.SEND_INVOICE
    params: dict[str, Any] = {
        "customer": customer_id,
        "auto_advance": False,
        "collection_method": contract.collection_method,
        "pending_invoice_items_behavior": "exclude",
        "currency": invoice.currency.lower(),
        "description": f"{contract.reference}: {invoice.period_start:%Y-%m-%d} to {invoice.period_end:%Y-%m-%d}",
        "metadata": {"verity_invoice_id": str(invoice.pk), "verity_invoice_number": str(invoice.number)},
    }
    if send:
        params["days_until_due"] = contract.days_until_due
    stripe_invoice_id = _step(
        invoice,
        "invoice",
        idempotency_key("invoice", invoice.pk, "create"),
        lambda key: api.v1.invoices.create(params=params, options={"idempotency_key": key}),  # type: ignore[arg-type]
    )
    Invoice.objects.filter(pk=invoice.pk).update(
        stripe_invoice_id=stripe_invoice_id, stripe_customer_id=customer_id
    )
    for line in stripe_lines(invoice):
        _step(
            invoice,
            f"item:{line.key}",
            idempotency_key("invoice", invoice.pk, "item", line.key),
            lambda key, line=line: api.v1.invoice_items.create(  # type: ignore[misc]
                params={
                    "customer": customer_id,
                    "invoice": stripe_invoice_id,
                    "amount": line.amount_minor,
                    "currency": invoice.currency.lower(),
                    "description": line.description[:500],
                    "metadata": {"verity_invoice_id": str(invoice.pk), "verity_line": line.key},
                },
                options={"idempotency_key": key},
            ),
        )
    finalized: list[dict[str, Any]] = []

    def finalize(key: str) -> Any:
        result = api.v1.invoices.finalize_invoice(
            stripe_invoice_id, params={"auto_advance": False}, options={"idempotency_key": key}
        )
        finalized.append(result.to_dict())
        return result

    _step(invoice, "finalize", idempotency_key("invoice", invoice.pk, "finalize"), finalize)
    if finalized:  # a resumed settlement learns these from Stripe's webhooks instead
        Invoice.objects.filter(pk=invoice.pk).update(**stripe_invoice_facts(finalized[0]))
    collected_status = InvoiceStatus.OPEN
    try:
        if send:
            _step(
                invoice,
                "send",
                idempotency_key("invoice", invoice.pk, "send"),
                lambda key: api.v1.invoices.send_invoice(stripe_invoice_id, options={"idempotency_key": key}),
            )
        else:
            _step(
                invoice,
                "pay",
                idempotency_key("invoice", invoice.pk, "pay"),
                lambda key: api.v1.invoices.pay(stripe_invoice_id, options={"idempotency_key": key}),
            )
            collected_status = InvoiceStatus.PAID
    except stripe.CardError as exc:
        SettlementStep.objects.filter(invoice=invoice, step="pay").update(
            status=SettlementStep.Status.DONE, error=str(exc.user_message or exc), done_at=timezone.now()
        )
        collected_status = InvoiceStatus.PAYMENT_FAILED
    now = timezone.now()
    Invoice.objects.filter(pk=invoice.pk, status=InvoiceStatus.FINALIZED).update(
        status=collected_status,
        stripe_status="paid" if collected_status == InvoiceStatus.PAID else "open",
        paid_at=now if collected_status == InvoiceStatus.PAID else None,
    )
    invoice.refresh_from_db()
    return invoice


def stripe_invoice_facts(stripe_invoice: dict[str, Any]) -> dict[str, Any]:
    """What we keep of a Stripe invoice besides its status: where the customer pays it, and when it is due."""
    due = stripe_invoice.get("due_date")
    return {
        "stripe_hosted_url": stripe_invoice.get("hosted_invoice_url") or "",
        "due_at": dt.datetime.fromtimestamp(int(due), tz=dt.UTC) if due else None,
    }


def invoice_fetch_status(*, invoice: Invoice) -> str:
    """Stripe's current status of the invoice (for resync); read-only, no idempotency needed."""
    return str(client().v1.invoices.retrieve(invoice.stripe_invoice_id).status)


def event_verify(*, payload: bytes, signature_header: str) -> dict[str, Any]:
    """The event as Stripe sent it (parsed JSON), if its Stripe-Signature verifies; else ValueError."""
    try:
        # Only the signature: the SDK's construct_event also builds an object, and fails (500) on
        # a signed body that is JSON but not an object; the endpoint checks the event's shape itself.
        stripe.WebhookSignature.verify_header(
            payload, signature_header, settings.STRIPE_WEBHOOK_SECRET, stripe.Webhook.DEFAULT_TOLERANCE
        )
    except stripe.SignatureVerificationError as exc:
        raise ValueError(str(exc)) from exc
    # Keep the raw JSON, not the SDK's object: that one holds Decimals and is not what Stripe sent.
    event: dict[str, Any] = json.loads(payload)
    return event

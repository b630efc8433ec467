"""Settling an invoice through Stripe: customer, draft, lines, finalize, collect (resumable).

Each call is a settlement step (client.step_run), so a retry or crash resumes without duplicates.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import stripe
from django.utils import timezone

from contracts.models import CollectionMethod, Customer
from settlement.models import Invoice, InvoiceLine, InvoiceStatus, SettlementStep
from settlement.stripe_gateway.client import (
    client,
    idempotency_key,
    step_run,
)

logger = logging.getLogger(__name__)
MAX_STRIPE_LINES = 250


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
    stripe_id = step_run(
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
    stripe_invoice_id = step_run(
        invoice,
        "invoice",
        idempotency_key("invoice", invoice.pk, "create"),
        lambda key: api.v1.invoices.create(params=params, options={"idempotency_key": key}),  # type: ignore[arg-type]
    )
    Invoice.objects.filter(pk=invoice.pk).update(
        stripe_invoice_id=stripe_invoice_id, stripe_customer_id=customer_id
    )
    for line in stripe_lines(invoice):
        step_run(
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

    step_run(invoice, "finalize", idempotency_key("invoice", invoice.pk, "finalize"), finalize)
    if finalized:  # a resumed settlement learns these from Stripe's webhooks instead
        Invoice.objects.filter(pk=invoice.pk).update(**stripe_invoice_facts(finalized[0]))
    collected_status = InvoiceStatus.OPEN
    try:
        if send:
            step_run(
                invoice,
                "send",
                idempotency_key("invoice", invoice.pk, "send"),
                lambda key: api.v1.invoices.send_invoice(stripe_invoice_id, options={"idempotency_key": key}),
            )
        else:
            step_run(
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

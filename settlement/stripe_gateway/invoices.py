"""Settling an invoice through Stripe: customer, draft, lines, finalize, first collection attempt.

Four calls per invoice whatever its line count (plus the customer, once per customer): create the
Stripe invoice (Verity's number as Stripe's number, Verity ids in metadata, the period in the
contract's own dates), add every line in one `add_lines` call (each with its service `period`),
finalize, then `pay` (charge automatically) or `send` (the hosted invoice page and Stripe's email).
Charged invoices are finalized with `auto_advance=true`, so after a failed first attempt Stripe's
own retry schedule keeps collecting (https://docs.stripe.com/invoicing/automatic-collection); what
happens next reaches Verity through Stripe's signed webhooks (settlement.services.stripe_events).

Progress is Verity's own (`Invoice.settlement_status`, the steps): no webhook moves it, so an
interrupted settlement is always found and resumed by the periodic job.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import stripe
from django.utils import timezone

from contracts.billing_details import customer_stripe_details
from contracts.models import CollectionMethod, Customer
from contracts.periods import local_days
from settlement.models import Invoice, InvoiceLine, InvoiceStatus, SettlementStatus, StripeConnection
from settlement.money import stripe_amount
from settlement.services.payment_status import invoice_status_advance, stripe_invoice_facts
from settlement.stripe_gateway.client import (
    Params,
    SettlementBlocked,
    StepCall,
    StripeObject,
    every,
    idempotency_key,
    metadata_of,
    options,
    outage_is_unavailable,
    step_run,
    vendor_client,
)
from settlement.stripe_gateway.customers import customer_params, made_customer

NO_TAX_FOOTER = "No tax is applied to this invoice."
MAX_STRIPE_LINES = 250  # https://docs.stripe.com/changelog/2016-02-22/no-more-than-250-invoice-items


@dataclass(frozen=True)
class StripeLine:
    description: str
    amount_minor: int
    key: str
    kind: str
    outcome_type_key: str
    version_id: int | None


def stripe_lines(invoice: Invoice) -> list[StripeLine]:
    """What Stripe sees: every line of ours (zero-amount lines too: free units stay visible), merged per
    kind and outcome type only when there are more than Stripe takes. Per-outcome traceability stays
    in Verity."""
    lines = list(invoice.lines.order_by("position"))
    if len(lines) <= MAX_STRIPE_LINES:
        return [
            StripeLine(
                line.description,
                line.amount_minor,
                f"line{line.position}",
                line.kind,
                line.outcome_type_key,
                line.version_id,
            )
            for line in lines
        ]
    merged: dict[tuple[str, str], list[InvoiceLine]] = {}
    for line in lines:
        merged.setdefault((line.kind, line.outcome_type_key), []).append(line)
    return [
        StripeLine(
            f"{group[0].get_kind_display()}{' ' + type_key if type_key else ''} ({len(group)} lines)",
            sum(line.amount_minor for line in group),
            f"group-{kind}-{type_key or 'none'}",
            kind,
            type_key,
            None,
        )
        for (kind, type_key), group in merged.items()
    ]


def local_dates(invoice: Invoice) -> tuple[dt.date, dt.date]:
    """The period as the customer reads it: first and last day (inclusive) in the contract's zone."""
    return local_days(invoice.period_start, invoice.period_end, invoice.contract.timezone)


def stripe_number(invoice: Invoice) -> str:
    """Verity's gapless number as Stripe's invoice number (unique in the account: the vendor's slug
    keeps vendors sharing one account apart)."""
    return f"{invoice.vendor.slug.upper()[:20]}-{invoice.number:06d}"


def _metadata(invoice: Invoice, **extra: Any) -> dict[str, str]:
    return {
        "verity_invoice_id": str(invoice.pk),
        "verity_invoice_number": str(invoice.number),
        "verity_contract_id": str(invoice.contract_id),
        "verity_period_start": invoice.period_start.isoformat(),
        **{key: str(value) for key, value in extra.items()},
    }


def _invoice_params(invoice: Invoice, customer_id: str, *, tax: bool) -> Params:
    contract = invoice.contract
    first, last = local_dates(invoice)
    period_text = f"{first:%d %b %Y} to {last:%d %b %Y}"
    params: Params = {
        "customer": customer_id,
        "auto_advance": False,  # nothing happens on Stripe until we finalize
        "collection_method": contract.collection_method,
        "pending_invoice_items_behavior": "exclude",
        "currency": invoice.currency.lower(),
        "number": stripe_number(invoice),
        "description": f"{contract.reference}: outcomes from {period_text}",
        "custom_fields": [
            {"name": "Verity invoice", "value": f"#{invoice.number}"},
            {"name": "Service period", "value": period_text},
        ],
        "metadata": _metadata(invoice),
    }
    if contract.collection_method == CollectionMethod.SEND_INVOICE:
        params["days_until_due"] = contract.days_until_due
    if tax:
        # Stripe Tax computes tax from the customer's address (https://docs.stripe.com/tax/invoicing).
        params["automatic_tax"] = {"enabled": True}
    else:
        params["footer"] = NO_TAX_FOOTER
    return params


def _lines_params(invoice: Invoice) -> Params:
    start = int(invoice.period_start.timestamp())
    end = int(invoice.period_end.timestamp()) - 1  # inclusive: the period's last second
    return {
        "lines": [
            {
                "amount": stripe_amount(line.amount_minor, invoice.currency),
                "description": line.description[:500],
                "period": {"start": start, "end": end},
                "metadata": _metadata(
                    invoice,
                    verity_line=line.key,
                    verity_kind=line.kind,
                    verity_outcome_type=line.outcome_type_key,
                    verity_version_id=line.version_id or "",
                ),
            }
            for line in stripe_lines(invoice)
        ]
    }


def _find_invoice(api: stripe.StripeClient, params: Params) -> str | None:
    listing = api.v1.invoices.list(params={"customer": params["customer"], "limit": 100})
    wanted = params["metadata"]["verity_invoice_id"]
    for candidate in every(listing):
        if metadata_of(candidate).get("verity_invoice_id") == wanted:
            return str(candidate.id)
    return None


def _find_lines(api: stripe.StripeClient, stripe_invoice_id: str, invoice: Invoice) -> str | None:
    """add_lines is one atomic call: any line of ours on the Stripe invoice means it was made."""
    listing = api.v1.invoices.line_items.list(stripe_invoice_id, params={"limit": 100})
    for line in every(listing):
        if metadata_of(line).get("verity_invoice_id") == str(invoice.pk):
            return stripe_invoice_id
    return None


def _past_status(api: stripe.StripeClient, stripe_invoice_id: str, statuses: set[str]) -> str | None:
    with outage_is_unavailable(f"reading invoice {stripe_invoice_id}"):
        remote = api.v1.invoices.retrieve(stripe_invoice_id)
    return stripe_invoice_id if remote.status in statuses else None


def ensure_customer(api: stripe.StripeClient, invoice: Invoice, customer: Customer) -> str:
    """The customer's Stripe id: linked, or made once (a step of the first invoice that needs it, with
    the parameters and key the card-setup path uses too, so either makes the one Stripe customer)."""
    if customer.stripe_customer_id:
        return customer.stripe_customer_id
    step = step_run(
        invoice,
        StepCall(
            name="customer",
            key=idempotency_key("customer", customer.pk),
            params=lambda: customer_params(customer),
            send=lambda params, key: api.v1.customers.create(params=params, options=options(key)),  # type: ignore[arg-type]
            find=lambda params: made_customer(api, params),
        ),
    )
    Customer.objects.filter(pk=customer.pk, stripe_customer_id="").update(stripe_customer_id=step.stripe_id)
    customer.refresh_from_db()
    return customer.stripe_customer_id


def _payment_refused(api: stripe.StripeClient, stripe_invoice_id: str) -> Any:
    """A refused `pay` is a collection outcome, not a blocked settlement: a declined card, a card that
    needs the customer's authentication, no payment method on file. The invoice stays open on Stripe,
    whose automatic collection retries it (or the customer pays on the hosted page)."""

    def refused(exc: stripe.StripeError) -> str | None:
        with outage_is_unavailable(f"reading invoice {stripe_invoice_id}"):
            remote = api.v1.invoices.retrieve(stripe_invoice_id)
        if remote.status == "paid":
            return ""  # an earlier attempt (or Stripe's own collection) paid it: done
        if remote.status != "open":
            return None  # void or uncollectible meanwhile: a person should look
        return f"{getattr(exc, 'code', None) or type(exc).__name__}: {exc.user_message or exc}"

    return refused


def invoice_push(*, invoice_id: int) -> Invoice:
    """Settle a finalized invoice through Stripe: customer, draft, lines, finalize, collect. Resumable:
    acts on any invoice whose settlement is pending, whatever its status says meanwhile."""
    invoice = Invoice.objects.select_related("contract__customer", "vendor").get(pk=invoice_id)
    if invoice.number is None or invoice.settlement_status != SettlementStatus.PENDING:
        return invoice  # a draft is not ready; anything else was settled (or waits for a person)
    if invoice.total_minor <= 0:
        # Nothing to collect (a zero invoice): never sent to Stripe.
        Invoice.objects.filter(pk=invoice.pk, settlement_status=SettlementStatus.PENDING).update(
            settlement_status=SettlementStatus.NOT_REQUIRED, stripe_status="not_required"
        )
        invoice_status_advance(invoice_id=invoice.pk, status=InvoiceStatus.PAID, paid_at=timezone.now())
        invoice.refresh_from_db()
        return invoice
    try:
        _settle(invoice)
    except SettlementBlocked:
        Invoice.objects.filter(pk=invoice.pk, settlement_status=SettlementStatus.PENDING).update(
            settlement_status=SettlementStatus.BLOCKED
        )
        raise
    invoice.refresh_from_db()
    return invoice


def _settle(invoice: Invoice) -> None:
    api = vendor_client(invoice.vendor_id)
    customer = invoice.contract.customer
    customer_id = ensure_customer(api, invoice, customer)
    tax = StripeConnection.objects.filter(vendor_id=invoice.vendor_id, tax_enabled=True).exists()
    if tax:
        _customer_details_update(api, invoice, customer, customer_id)
    send = invoice.contract.collection_method == CollectionMethod.SEND_INVOICE
    created = step_run(
        invoice,
        StepCall(
            name="invoice",
            key=idempotency_key("invoice", invoice.pk, "create"),
            params=lambda: _invoice_params(invoice, customer_id, tax=tax),
            send=lambda params, key: api.v1.invoices.create(params=params, options=options(key)),  # type: ignore[arg-type]
            find=lambda params: _find_invoice(api, params),
        ),
    )
    stripe_invoice_id = created.stripe_id
    Invoice.objects.filter(pk=invoice.pk).update(
        stripe_invoice_id=stripe_invoice_id, stripe_customer_id=customer_id
    )
    step_run(
        invoice,
        StepCall(
            name="lines",
            key=idempotency_key("invoice", invoice.pk, "lines"),
            params=lambda: _lines_params(invoice),
            send=lambda params, key: api.v1.invoices.add_lines(
                stripe_invoice_id,
                params=params,  # type: ignore[arg-type]
                options=options(key),
            ),
            find=lambda params: _find_lines(api, stripe_invoice_id, invoice),
        ),
    )
    _finalize(api, invoice, stripe_invoice_id, send=send)
    status, paid_at, note = _collect(api, invoice, stripe_invoice_id, send=send)
    Invoice.objects.filter(pk=invoice.pk, settlement_status=SettlementStatus.PENDING).update(
        settlement_status=SettlementStatus.DONE, stripe_error=""
    )
    extra: dict[str, Any] = {"payment_error": note} if note else {}
    invoice_status_advance(invoice_id=invoice.pk, status=status, paid_at=paid_at, **extra)


def _customer_details_update(
    api: stripe.StripeClient, invoice: Invoice, customer: Customer, customer_id: str
) -> None:
    """Stripe Tax reads the Stripe customer's location: bring it up to date with Verity's first."""
    step_run(
        invoice,
        StepCall(
            name="customer_details",
            key=idempotency_key("invoice", invoice.pk, "customer_details"),
            params=lambda: customer_stripe_details(customer),
            send=lambda params, key: api.v1.customers.update(
                customer_id,
                params=params,  # type: ignore[arg-type]
                options=options(key),
            ),
            find=lambda params: None,  # an update sent again changes nothing more
        ),
    )


def _finalize(api: stripe.StripeClient, invoice: Invoice, stripe_invoice_id: str, *, send: bool) -> None:
    """Finalize the Stripe invoice, keeping what Stripe then says of it (a resumed settlement learns it
    from Stripe's webhooks instead)."""
    finalize = StepCall(
        name="finalize",
        key=idempotency_key("invoice", invoice.pk, "finalize"),
        # Charged invoices: Stripe's automatic collection retries after a failed attempt.
        params=lambda: {"auto_advance": not send},
        send=lambda params, key: api.v1.invoices.finalize_invoice(
            stripe_invoice_id,
            params=params,  # type: ignore[arg-type]
            options=options(key),
        ),
        find=lambda params: _past_status(api, stripe_invoice_id, {"open", "paid", "uncollectible", "void"}),
    )
    step_run(invoice, finalize)
    facts = stripe_invoice_facts(finalize.results[0].to_dict()) if finalize.results else {}
    if facts:
        Invoice.objects.filter(pk=invoice.pk).update(**facts)


def _collect(
    api: stripe.StripeClient, invoice: Invoice, stripe_invoice_id: str, *, send: bool
) -> tuple[str, dt.datetime | None, str]:
    """The first collection step: send (the customer pays on the hosted page) or one payment attempt."""
    if send:
        step_run(
            invoice,
            StepCall(
                name="send",
                key=idempotency_key("invoice", invoice.pk, "send"),
                params=dict,
                send=lambda params, key: api.v1.invoices.send_invoice(
                    stripe_invoice_id, options=options(key)
                ),
                find=lambda params: None,  # sending again only repeats the email
            ),
        )
        return InvoiceStatus.OPEN, None, ""
    pay = step_run(
        invoice,
        StepCall(
            name="pay",
            key=idempotency_key("invoice", invoice.pk, "pay"),
            params=dict,
            send=lambda params, key: api.v1.invoices.pay(stripe_invoice_id, options=options(key)),
            find=lambda params: _past_status(api, stripe_invoice_id, {"paid"}),
            refused=_payment_refused(api, stripe_invoice_id),
        ),
    )
    if pay.error:
        return InvoiceStatus.PAYMENT_FAILED, None, pay.error
    return InvoiceStatus.PAID, pay.done_at or timezone.now(), ""


def invoice_retrieve(*, invoice: Invoice) -> dict[str, Any]:
    """Stripe's current invoice (for resync); read-only, no idempotency needed."""
    with outage_is_unavailable(f"reading invoice {invoice.stripe_invoice_id}"):
        remote: StripeObject = vendor_client(invoice.vendor_id).v1.invoices.retrieve(
            invoice.stripe_invoice_id
        )
    result: dict[str, Any] = remote.to_dict()
    return result

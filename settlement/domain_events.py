"""The events settlement publishes (core.events): an invoice's life from draft to paid or overdue, credit
notes, and a contract's spending crossing its budget thresholds. Each type's data says what changed
(`previous_status` → `status`) and carries what a receiver needs without calling back: the period, the
amounts in minor units with their currency, the due date and Stripe's hosted page when known.

The builders are called by the services inside the transaction of the change; the catalogue below is
read by `notifications` (its documentation, its checks, the customer audience's stripping).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from core.currencies import minor_units_help
from core.events import CUSTOMER, VENDOR, DomainEvent, EventType
from settlement.models import CreditNote, Invoice, InvoiceStatus

DRAFT_CREATED = "invoice.draft_created"
AWAITING_APPROVAL = "invoice.awaiting_approval"
CONTESTED = "invoice.contested"
FINALIZED = "invoice.finalized"
PAID = "invoice.paid"
PAYMENT_FAILED = "invoice.payment_failed"
OVERDUE = "invoice.overdue"
CREDIT_NOTE_CREATED = "credit_note.created"
BUDGET_THRESHOLD_REACHED = "budget.threshold_reached"

BOTH = frozenset({VENDOR, CUSTOMER})

_STATUS = {"type": "string", "enum": list(InvoiceStatus.values)}
_INSTANT = {"type": "string", "format": "date-time"}


def _minor(text: str = "", **more: Any) -> dict[str, Any]:
    """An amount in integer minor units of `currency`, said as the API says every amount."""
    return {"type": "integer", "description": minor_units_help(text), **more}


_CURRENCY = {"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217 code."}

INVOICE_PROPERTIES: dict[str, Any] = {
    "number": {
        "type": ["integer", "null"],
        "description": "The vendor's invoice number, gapless; null while the invoice is a draft.",
    },
    "status": {**_STATUS, "description": "The invoice's status now."},
    "period_start": {**_INSTANT, "description": "The billing period's start (included)."},
    "period_end": {**_INSTANT, "description": "The billing period's end (excluded)."},
    "period": {
        "type": "string",
        "description": "The period as the contract's parties read it: local dates in the contract's "
        "time zone, the end included.",
    },
    "total_minor": _minor("The invoice's total before tax."),
    "currency": _CURRENCY,
    "due_at": {
        "type": ["string", "null"],
        "format": "date-time",
        "description": "When payment is due (invoices sent to the customer to pay); null otherwise.",
    },
    "hosted_invoice_url": {
        "type": ["string", "null"],
        "format": "uri",
        "description": "Stripe's page where the customer sees and pays the invoice, once it exists.",
    },
}
INVOICE_REQUIRED = list(INVOICE_PROPERTIES)
_PREVIOUS_STATUS = {**_STATUS, "description": "The invoice's status before this change."}


def _schema(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


def _invoice_schema(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return _schema({**INVOICE_PROPERTIES, **(extra or {})})


_INVOICE_EXAMPLE: dict[str, Any] = {
    "number": 42,
    "status": "finalized",
    "period_start": "2026-10-01T04:00:00+00:00",
    "period_end": "2026-11-01T04:00:00+00:00",
    "period": "1\N{EN DASH}31 October 2026",
    "total_minor": 1_254_050,
    "currency": "USD",
    "due_at": None,
    "hosted_invoice_url": None,
}

EVENT_TYPES: tuple[EventType, ...] = (
    EventType(
        name=DRAFT_CREATED,
        summary="A period closed: its draft invoice was built. It stays open for late events and review "
        "until its grace period ends (rebuilds of the draft send no further event).",
        object="invoice",
        audiences=BOTH,
        data_schema=_invoice_schema(
            {"finalize_after": {**_INSTANT, "description": "When the draft is to be finalized."}}
        ),
        example={
            **_INVOICE_EXAMPLE,
            "number": None,
            "status": "draft",
            "finalize_after": "2026-11-04T04:00:00+00:00",
        },
    ),
    EventType(
        name=AWAITING_APPROVAL,
        summary="A draft's total is above the contract's approval threshold: it waits for the customer's "
        "approval of this total (sent again when a rebuild changes the total while it waits).",
        object="invoice",
        audiences=BOTH,
        data_schema=_invoice_schema(
            {
                "approval_threshold_minor": _minor(
                    "Drafts above this total wait for the customer's approval."
                ),
                "approve_by": {
                    **_INSTANT,
                    "description": "The end of the grace period: approved by then, the invoice is "
                    "finalized on time; approved later, it is finalized at the approval.",
                },
            }
        ),
        example={
            **_INVOICE_EXAMPLE,
            "number": None,
            "status": "draft",
            "approval_threshold_minor": 1_000_000,
            "approve_by": "2026-11-04T04:00:00+00:00",
        },
    ),
    # The customer's own words, for the vendor to act on; the customer's systems hear of it too (one of
    # its people contested, or its key did), nothing of the vendor's in it.
    EventType(
        name=CONTESTED,
        summary="The customer contested a draft waiting for its approval, with a reason: the draft keeps "
        "waiting (it is never finalized without an approval); the vendor may rebuild it, or the customer "
        "approve it after all. Sent again when the customer contests again (the latest reason replaces "
        "the earlier one).",
        object="invoice",
        audiences=BOTH,
        data_schema=_invoice_schema(
            {
                "reason": {"type": "string", "description": "Why the customer contests, in its words."},
                "contested_at": _INSTANT,
                "contested_by": {
                    "type": "string",
                    "description": "Who contested: `customer_user:<email>` (the customer portal) or "
                    "`api_key:<prefix>` (a customer key).",
                },
                "approve_by": {
                    **_INSTANT,
                    "description": "The end of the grace period the approval was asked by (the draft "
                    "still waits past it).",
                },
            }
        ),
        example={
            **_INVOICE_EXAMPLE,
            "number": None,
            "status": "draft",
            "reason": "Tickets T-1042 to T-1050 were reopened the next day; they should not count.",
            "contested_at": "2026-11-02T09:30:12+00:00",
            "contested_by": "customer_user:ap@contoso.example",
            "approve_by": "2026-11-04T04:00:00+00:00",
        },
    ),
    EventType(
        name=FINALIZED,
        summary="A draft was finalized: numbered, its outcomes billed; it is now collected through Stripe.",
        object="invoice",
        audiences=BOTH,
        data_schema=_invoice_schema({"previous_status": _PREVIOUS_STATUS, "finalized_at": _INSTANT}),
        example={**_INVOICE_EXAMPLE, "previous_status": "draft", "finalized_at": "2026-11-04T04:00:12+00:00"},
    ),
    EventType(
        name=PAID,
        summary="The invoice was paid (or had nothing to collect).",
        object="invoice",
        audiences=BOTH,
        data_schema=_invoice_schema({"previous_status": _PREVIOUS_STATUS, "paid_at": _INSTANT}),
        example={
            **_INVOICE_EXAMPLE,
            "status": "paid",
            "previous_status": "open",
            "paid_at": "2026-11-04T04:01:30+00:00",
            "hosted_invoice_url": "https://invoice.stripe.com/i/acct_1Nv0/test_YWNjdF8x",
        },
    ),
    EventType(
        name=PAYMENT_FAILED,
        summary="A payment attempt failed (once per attempt); Stripe's automatic collection may try again.",
        object="invoice",
        audiences=BOTH,
        data_schema=_invoice_schema(
            {
                "previous_status": _PREVIOUS_STATUS,
                "attempt": {"type": "integer", "minimum": 1, "description": "Which attempt failed."},
                "reason": {"type": "string", "description": "Why it failed, in Stripe's words."},
                "next_payment_attempt_at": {
                    "type": ["string", "null"],
                    "format": "date-time",
                    "description": "When Stripe tries again; null if it will not.",
                },
            }
        ),
        example={
            **_INVOICE_EXAMPLE,
            "status": "payment_failed",
            "previous_status": "open",
            "attempt": 1,
            "reason": "card_declined: Your card was declined.",
            "next_payment_attempt_at": "2026-11-07T04:01:30+00:00",
        },
    ),
    EventType(
        name=OVERDUE,
        summary="The invoice is past its due date and not paid (sent once per invoice).",
        object="invoice",
        audiences=BOTH,
        data_schema=_invoice_schema(),
        example={
            **_INVOICE_EXAMPLE,
            "status": "open",
            "due_at": "2026-12-04T04:01:30+00:00",
            "hosted_invoice_url": "https://invoice.stripe.com/i/acct_1Nv0/test_YWNjdF8x",
        },
    ),
    EventType(
        name=CREDIT_NOTE_CREATED,
        summary="Outcomes billed on a finalized invoice were reversed since: a credit note takes the "
        "difference off (an amount of 0 records that the period's charges do not change).",
        object="credit_note",
        audiences=BOTH,
        data_schema=_schema(
            {
                "invoice_id": {"type": "string", "description": "The invoice credited."},
                "invoice_number": {"type": ["integer", "null"]},
                "amount_minor": _minor("What the credit note takes off.", minimum=0),
                "currency": _CURRENCY,
                "status": {
                    "type": "string",
                    "enum": ["pending", "issued", "not_required", "void", "withheld"],
                    "description": "`withheld`: it waits, the customer having an overdue invoice; it is "
                    "issued once that is paid.",
                },
                "reason": {"type": "string"},
                "outcomes": {"type": "integer", "minimum": 1, "description": "Reversed outcomes it credits."},
            }
        ),
        example={
            "invoice_id": "1234",
            "invoice_number": 42,
            "amount_minor": 2_500,
            "currency": "USD",
            "status": "pending",
            "reason": "3 outcomes reversed after billing",
            "outcomes": 3,
        },
    ),
    EventType(
        name=BUDGET_THRESHOLD_REACHED,
        summary="What the current period bills so far reached one of the contract's budget alert "
        "thresholds (a percent of its cap): once per period and threshold.",
        object="contract",
        audiences=BOTH,
        data_schema=_schema(
            {
                "percent": {"type": "integer", "minimum": 1, "maximum": 100},
                "threshold_minor": _minor("`percent` of the cap, rounded up."),
                "amount_minor": _minor(
                    "What the period's outcomes bill so far (the invoice's usage lines if it closed now, "
                    "within the caps)."
                ),
                "cap_amount_minor": _minor("The most the contract bills per period."),
                "currency": _CURRENCY,
                "period_start": _INSTANT,
                "period_end": _INSTANT,
            }
        ),
        example={
            "percent": 80,
            "threshold_minor": 800_000,
            "amount_minor": 812_345,
            "cap_amount_minor": 1_000_000,
            "currency": "USD",
            "period_start": "2026-11-01T04:00:00+00:00",
            "period_end": "2026-12-01T05:00:00+00:00",
        },
    ),
)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def invoice_data(invoice: Invoice) -> dict[str, Any]:
    """The invoice's part every invoice event carries (its contract selected: the period label reads its zone)."""
    return {
        "number": invoice.number,
        "status": str(invoice.status),
        "period_start": invoice.period_start.isoformat(),
        "period_end": invoice.period_end.isoformat(),
        "period": invoice.period_label,
        "total_minor": invoice.total_minor,
        "currency": invoice.currency,
        "due_at": _iso(invoice.due_at),
        "hosted_invoice_url": invoice.stripe_hosted_url or None,
    }


def invoice_event(
    name: str,
    invoice: Invoice,
    *,
    occurred_at: dt.datetime,
    dedup_key: str | None = None,
    **extra: Any,
) -> DomainEvent:
    """An event about `invoice`: its common data, then `extra` (what this type adds)."""
    return DomainEvent(
        type=name,
        vendor_id=invoice.vendor_id,
        customer_id=invoice.contract.customer_id,
        contract_id=invoice.contract_id,
        object_id=str(invoice.pk),
        data={**invoice_data(invoice), **extra},
        occurred_at=occurred_at,
        dedup_key=dedup_key,
    )


def draft_created(invoice: Invoice, *, now: dt.datetime) -> DomainEvent:
    # Keyed by the invoice: two closes racing to create the same draft record one event.
    return invoice_event(
        DRAFT_CREATED,
        invoice,
        occurred_at=now,
        dedup_key=f"{DRAFT_CREATED}:{invoice.pk}",
        finalize_after=invoice.finalize_after.isoformat(),
    )


def awaiting_approval(invoice: Invoice, *, now: dt.datetime) -> DomainEvent:
    threshold = invoice.contract.approval_threshold_minor
    assert threshold is not None  # only a contract with a threshold has drafts waiting
    return invoice_event(
        AWAITING_APPROVAL,
        invoice,
        occurred_at=now,
        approval_threshold_minor=threshold,
        approve_by=invoice.finalize_after.isoformat(),
    )


def contested(invoice: Invoice, *, now: dt.datetime) -> DomainEvent:
    """The customer's contest of a draft awaiting approval (its contract selected), as just recorded."""
    return invoice_event(
        CONTESTED,
        invoice,
        occurred_at=now,
        reason=invoice.contest_reason,
        contested_at=now.isoformat(),
        contested_by=invoice.contested_by,
        approve_by=invoice.finalize_after.isoformat(),
    )


def finalized(invoice: Invoice, *, now: dt.datetime) -> DomainEvent:
    return invoice_event(
        FINALIZED,
        invoice,
        occurred_at=now,
        previous_status=InvoiceStatus.DRAFT.value,
        finalized_at=now.isoformat(),
    )


def paid(invoice: Invoice, *, previous_status: str, now: dt.datetime) -> DomainEvent:
    return invoice_event(
        PAID,
        invoice,
        occurred_at=now,
        previous_status=previous_status,
        paid_at=(invoice.paid_at or now).isoformat(),
    )


def payment_failed(invoice: Invoice, *, previous_status: str, attempt: int, now: dt.datetime) -> DomainEvent:
    # One per failed attempt: the gateway's first attempt and Stripe's webhook about it are one event.
    return invoice_event(
        PAYMENT_FAILED,
        invoice,
        occurred_at=now,
        dedup_key=f"{PAYMENT_FAILED}:{invoice.pk}:{attempt}",
        previous_status=previous_status,
        attempt=attempt,
        reason=invoice.payment_error,
        next_payment_attempt_at=_iso(invoice.next_payment_attempt_at),
    )


def overdue(invoice: Invoice, *, now: dt.datetime) -> DomainEvent:
    return invoice_event(OVERDUE, invoice, occurred_at=now, dedup_key=f"{OVERDUE}:{invoice.pk}")


def credit_note_created(note: CreditNote, *, outcomes: int) -> DomainEvent:
    invoice = note.invoice
    return DomainEvent(
        type=CREDIT_NOTE_CREATED,
        vendor_id=invoice.vendor_id,
        customer_id=invoice.contract.customer_id,
        contract_id=invoice.contract_id,
        object_id=str(note.pk),
        data={
            "invoice_id": str(invoice.pk),
            "invoice_number": invoice.number,
            "amount_minor": note.amount_minor,
            "currency": invoice.currency,
            "status": str(note.status),
            "reason": note.reason,
            "outcomes": outcomes,
        },
        occurred_at=note.created_at,
    )


def budget_threshold_reached(
    *,
    vendor_id: Any,
    customer_id: Any,
    contract_id: Any,
    percent: int,
    threshold_minor: int,
    amount_minor: int,
    cap_amount_minor: int,
    currency: str,
    period_start: dt.datetime,
    period_end: dt.datetime,
    now: dt.datetime,
) -> DomainEvent:
    return DomainEvent(
        type=BUDGET_THRESHOLD_REACHED,
        vendor_id=vendor_id,
        customer_id=customer_id,
        contract_id=contract_id,
        object_id=str(contract_id),
        data={
            "percent": percent,
            "threshold_minor": threshold_minor,
            "amount_minor": amount_minor,
            "cap_amount_minor": cap_amount_minor,
            "currency": currency,
            "period_start": period_start.isoformat(),
            "period_end": period_end.isoformat(),
        },
        occurred_at=now,
        dedup_key=f"{BUDGET_THRESHOLD_REACHED}:{contract_id}:{period_start.isoformat()}:{percent}",
    )

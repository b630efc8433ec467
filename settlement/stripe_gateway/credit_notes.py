"""Issuing Verity's credit notes on Stripe, against the original Stripe invoice.

How a credit note acts depends on the Stripe invoice when it is issued
(https://docs.stripe.com/invoicing/dashboard/credit-notes, https://docs.stripe.com/api/credit_notes/create):
it first lowers what the invoice still has due; what is left (all of it on a paid invoice) goes to
the customer's Stripe balance, which Stripe takes off the customer's next invoice, or, on a paid
invoice, is refunded (the contract's `credit_after_payment`, and always once the contract has ended:
a balance nobody will invoice again would never come back). A void invoice owes nothing, so nothing
is credited. The choice is frozen with the step's parameters. A credit that would leave (the invoice is
paid) while the customer has an overdue invoice is withheld instead (settlement.services.credit_withholding).
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from contracts.models import CreditAfterPayment
from settlement.models import CreditNote, CreditNoteStatus, Invoice, SettlementStep
from settlement.money import stripe_amount
from settlement.services.credit_withholding import credit_note_withhold, credit_withholding_reason
from settlement.stripe_gateway.client import (
    Params,
    StepCall,
    every,
    idempotency_key,
    metadata_of,
    options,
    outage_is_unavailable,
    step_run,
    vendor_client,
)


def _refunds(note: CreditNote) -> bool:
    contract = note.invoice.contract
    ended = contract.ends_at is not None and contract.ends_at <= timezone.now()
    return ended or contract.credit_after_payment == CreditAfterPayment.REFUND


def _params(note: CreditNote, remote: Any) -> Params:
    invoice = note.invoice
    amount = stripe_amount(note.amount_minor, invoice.currency)
    params: Params = {
        "invoice": invoice.stripe_invoice_id,
        "lines": [
            {
                "type": "custom_line_item",
                "description": note.reason[:500],
                "quantity": 1,
                "unit_amount": amount,
            }
        ],
        "memo": f"Verity credit note {note.pk} for invoice #{invoice.number}: {note.reason}"[:500],
        "metadata": {
            "verity_credit_note_id": str(note.pk),
            "verity_invoice_id": str(invoice.pk),
            "verity_contract_id": str(invoice.contract_id),
        },
    }
    # Stripe takes a credit note off what is still due first; the rest (all of it once the invoice is
    # paid) must be allocated: to the customer's balance, or refunded.
    rest = amount - min(amount, int(remote.amount_remaining or 0))
    if rest:
        params["refund_amount" if remote.status == "paid" and _refunds(note) else "credit_amount"] = rest
    return params


def _method(params: Params) -> str:
    if "refund_amount" in params:
        return CreditNote.Method.REFUND
    if "credit_amount" in params:
        return CreditNote.Method.CUSTOMER_BALANCE
    return CreditNote.Method.PRE_PAYMENT


def credit_note_push(*, credit_note_id: int) -> CreditNote:
    """Issue a pending credit note on Stripe once its invoice is finalized there. Resumable."""
    note = CreditNote.objects.select_related("invoice__contract").get(pk=credit_note_id)
    if note.status != CreditNoteStatus.PENDING:
        return note
    invoice: Invoice = note.invoice
    finalized = SettlementStep.objects.filter(
        invoice=invoice, step="finalize", status=SettlementStep.Status.DONE
    ).exists()
    if not finalized:
        return note  # the invoice is not on Stripe yet: the periodic job comes back
    api = vendor_client(invoice.vendor_id)
    with outage_is_unavailable(f"reading invoice {invoice.stripe_invoice_id}"):
        remote = api.v1.invoices.retrieve(invoice.stripe_invoice_id)
    if remote.status == "void":
        CreditNote.objects.filter(pk=note.pk, status=CreditNoteStatus.PENDING).update(
            status=CreditNoteStatus.NOT_REQUIRED,
            reason=f"{note.reason} (the Stripe invoice is void: nothing owed)",
        )
        note.refresh_from_db()
        return note
    if remote.status == "paid":
        # What is left of the credit would be refunded or put on the customer's balance: not while the
        # customer has an overdue invoice (a credit note whose call has begun is finished instead).
        reason = credit_withholding_reason(invoice=invoice, paid=True, now=timezone.now())
        if reason and credit_note_withhold(credit_note_id=note.pk, reason=reason):
            note.refresh_from_db()
            return note

    def find(params: Params) -> str | None:
        listing = api.v1.credit_notes.list(params={"invoice": params["invoice"], "limit": 100})
        for candidate in every(listing):
            if metadata_of(candidate).get("verity_credit_note_id") == str(note.pk):
                return str(candidate.id)
        return None

    step = step_run(
        invoice,
        StepCall(
            name=f"credit_note:{note.pk}",
            key=idempotency_key("credit_note", note.pk, "create"),
            params=lambda: _params(note, remote),
            send=lambda params, key: api.v1.credit_notes.create(params=params, options=options(key)),  # type: ignore[arg-type]
            find=find,
        ),
    )
    CreditNote.objects.filter(pk=note.pk, status=CreditNoteStatus.PENDING).update(
        status=CreditNoteStatus.ISSUED,
        stripe_credit_note_id=step.stripe_id,
        method=_method(step.params),
        issued_at=step.done_at,
    )
    note.refresh_from_db()
    return note

"""Which invoices Stripe cannot collect by itself, and why, told to the vendor before they are finalized.

An invoice charged automatically is paid by the customer's default payment method in Stripe; without one,
Stripe's payment attempt fails and the invoice waits unpaid. Verity knows the default from Stripe
(Customer.stripe_default_payment_method), so it can say so while the invoice is a draft, or finalized and not
yet handed to Stripe.
"""

from __future__ import annotations

from contracts.models import CollectionMethod
from settlement.models import Invoice, InvoiceStatus

NO_CARD_ON_FILE = "no card on file: send the setup link, or switch the contract to sending invoices"
BEFORE_STRIPE = (InvoiceStatus.DRAFT, InvoiceStatus.FINALIZED)


def invoice_collection_warning(*, invoice: Invoice) -> str:
    """Why Stripe could not collect this invoice automatically, or "" (reads the invoice's contract and
    customer: load them with it, e.g. select_related("contract__customer"), for a list)."""
    if invoice.status not in BEFORE_STRIPE:
        return ""
    contract = invoice.contract
    if contract.collection_method != CollectionMethod.CHARGE_AUTOMATICALLY:
        return ""
    return "" if contract.customer.can_be_charged_automatically else NO_CARD_ON_FILE

"""A customer's side of Stripe: link an existing Stripe customer (checked in Stripe), unlink it, send a link
where they save a card, and keep `stripe_default_payment_method` as Stripe has it.

Every Stripe call happens before the transaction that records its result. A customer can be charged
automatically once its Stripe customer has a default payment method for invoices; Verity reads that from
Stripe when a customer is linked, when their setup session completes, and when Stripe says the customer
changed (settlement.services.stripe_customers).
"""

from __future__ import annotations

from typing import Annotated

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from contracts.audit import audit_record
from contracts.models import Customer
from contracts.terms import Terms
from core.errors import Conflict, ValidationFailed
from settlement.services.stripe_errors import stripe_unavailable
from settlement.stripe_gateway import StripeUnavailable
from settlement.stripe_gateway.customers import (
    StripeRefused,
    customer_setup_session_create,
    default_payment_method_of,
    setup_intent_retrieve,
    stripe_customer_default_payment_method_set,
    stripe_customer_ensure,
    stripe_customer_retrieve,
    stripe_test_card_attach,
    verity_customer_id_of,
)

STRIPE_ACTOR = "stripe"  # the audit actor of what Stripe tells Verity (a card saved or removed)


def _web_url(value: str) -> str:
    try:
        URLValidator(schemes=["http", "https"])(value)
    except DjangoValidationError:
        raise PydanticCustomError("invalid_url", "Enter a full http(s) URL.") from None
    return value


WebUrl = Annotated[str, Field(max_length=2000), AfterValidator(_web_url)]


class StripeLinkIn(Terms):
    stripe_customer_id: Annotated[
        str,
        Field(
            max_length=100,
            pattern=r"^cus_[A-Za-z0-9]+$",
            description="An existing customer of Verity's Stripe account, e.g. cus_NffrFeUfNV2Hib.",
        ),
    ]


class SetupLinkIn(Terms):
    success_url: WebUrl | None = Field(
        default=None,
        description="Where Stripe sends the customer once the card is saved (default: a Verity page).",
    )
    cancel_url: WebUrl | None = Field(
        default=None, description="Where the page's back link goes (default: none)."
    )


def _linked_elsewhere(stripe_customer_id: str) -> ValidationFailed:
    return ValidationFailed.on_field(
        "stripe_customer_id",
        "stripe_customer_linked_elsewhere",
        f"Stripe customer {stripe_customer_id} already pays for another customer.",
    )


def customer_stripe_link(*, customer: Customer, link: StripeLinkIn, actor: str) -> Customer:
    """Link the customer to an existing Stripe customer, once Stripe confirms it exists; record whether it
    has a card for invoices. One that pays for another Verity customer (linked, or made by Verity for it) is
    refused: its card would pay this customer's invoices."""
    stripe_customer_id = link.stripe_customer_id
    try:
        remote = stripe_customer_retrieve(vendor_id=customer.vendor_id, stripe_customer_id=stripe_customer_id)
    except StripeUnavailable:
        raise stripe_unavailable() from None
    if remote is None:
        raise ValidationFailed.on_field(
            "stripe_customer_id",
            "stripe_customer_not_found",
            f"Stripe has no customer {stripe_customer_id}.",
        )
    if verity_customer_id_of(remote) not in ("", str(customer.pk)):
        raise _linked_elsewhere(stripe_customer_id)
    payment_method = default_payment_method_of(remote)
    now = timezone.now()
    try:
        with transaction.atomic():
            # Locked: a concurrent link or unlink of this customer applies before or after, and the audit
            # entry names the link this one replaced.
            current = Customer.objects.select_for_update().select_related("vendor").get(pk=customer.pk)
            if (current.stripe_customer_id, current.stripe_default_payment_method) != (
                stripe_customer_id,
                payment_method,
            ):
                Customer.objects.filter(pk=customer.pk).update(
                    stripe_customer_id=stripe_customer_id,
                    stripe_default_payment_method=payment_method,
                    updated_at=now,
                )
                audit_record(
                    vendor=current.vendor,
                    actor=actor,
                    action="customer.stripe_linked",
                    target=current,
                    at=now,
                    details={
                        "stripe_customer_id": stripe_customer_id,
                        "previous_stripe_customer_id": current.stripe_customer_id,
                        "default_payment_method": payment_method,
                    },
                )
    except IntegrityError:  # customer_stripe_customer_id_unique: another customer has it
        raise _linked_elsewhere(stripe_customer_id) from None
    customer.refresh_from_db()
    return customer


def customer_stripe_unlink(*, customer: Customer, actor: str) -> Customer:
    """Forget the customer's Stripe customer (Stripe keeps it, and the invoices already sent to it)."""
    now = timezone.now()
    with transaction.atomic():
        current = Customer.objects.select_for_update().select_related("vendor").get(pk=customer.pk)
        if current.stripe_customer_id:
            Customer.objects.filter(pk=customer.pk).update(
                stripe_customer_id="", stripe_default_payment_method="", updated_at=now
            )
            audit_record(
                vendor=current.vendor,
                actor=actor,
                action="customer.stripe_unlinked",
                target=current,
                at=now,
                details={"stripe_customer_id": current.stripe_customer_id},
            )
    customer.refresh_from_db()
    return customer


def customer_setup_link_create(
    *, customer: Customer, setup: SetupLinkIn, default_success_url: str, actor: str
) -> str:
    """A Stripe page where the customer saves a card (a Checkout Session in setup mode), its URL to send
    them; their Stripe customer is made first if they have none. The card becomes the default for invoices
    when the session completes (customer_setup_complete)."""
    try:
        url = customer_setup_session_create(
            customer=customer,
            success_url=setup.success_url or default_success_url,
            cancel_url=setup.cancel_url or "",
        )
    except StripeUnavailable:
        raise stripe_unavailable() from None
    except StripeRefused as exc:
        raise Conflict(f"Stripe refused the setup session: {exc}", code="stripe_refused") from None
    now = timezone.now()
    with transaction.atomic():
        audit_record(
            vendor=customer.vendor,
            actor=actor,
            action="customer.setup_link_created",
            target=customer,
            at=now,
            details={"stripe_customer_id": customer.stripe_customer_id},
        )
    return url


def _payment_method_record(*, stripe_customer_id: str, payment_method: str) -> Customer | None:
    """Record what Stripe charges the customer with; the Verity customer, None if none is linked to it."""
    now = timezone.now()
    with transaction.atomic():
        customer = (
            Customer.objects.select_for_update()
            .select_related("vendor")
            .filter(stripe_customer_id=stripe_customer_id)
            .first()
        )
        if customer is None or customer.stripe_default_payment_method == payment_method:
            return customer
        Customer.objects.filter(pk=customer.pk).update(
            stripe_default_payment_method=payment_method, updated_at=now
        )
        audit_record(
            vendor=customer.vendor,
            actor=STRIPE_ACTOR,
            action="customer.payment_method_changed",
            target=customer,
            at=now,
            details={"stripe_customer_id": stripe_customer_id, "default_payment_method": payment_method},
        )
    customer.refresh_from_db()
    return customer


def customer_payment_method_refresh(*, stripe_customer_id: str) -> str:
    """Read the Stripe customer's default payment method and record it ("" if it has none, or Stripe no
    longer knows the customer). Reading rather than trusting an event's copy: events can arrive out of order
    (https://docs.stripe.com/webhooks#event-ordering), the customer as Stripe has it now cannot. Read in the
    account of the vendor whose customer it is linked to (one Verity customer per Stripe customer)."""
    linked = Customer.objects.filter(stripe_customer_id=stripe_customer_id).first()
    if linked is None:
        return ""
    remote = stripe_customer_retrieve(vendor_id=linked.vendor_id, stripe_customer_id=stripe_customer_id)
    payment_method = default_payment_method_of(remote) if remote is not None else ""
    _payment_method_record(stripe_customer_id=stripe_customer_id, payment_method=payment_method)
    return payment_method


def customer_setup_complete(*, setup_intent_id: str, stripe_customer_id: str) -> str:
    """A setup session completed: make the card its SetupIntent saved the customer's default for invoices
    (Checkout does not) and record it. Only for a Stripe customer linked to a Verity customer (in its
    vendor's account); "" if nothing was set."""
    linked = Customer.objects.filter(stripe_customer_id=stripe_customer_id).first()
    if linked is None:
        return ""
    intent = setup_intent_retrieve(vendor_id=linked.vendor_id, setup_intent_id=setup_intent_id)
    if intent is None or intent.get("status") != "succeeded":
        return ""
    payment_method = intent.get("payment_method")
    if intent.get("customer") != stripe_customer_id or not payment_method:
        return ""
    updated = stripe_customer_default_payment_method_set(
        vendor_id=linked.vendor_id,
        stripe_customer_id=stripe_customer_id,
        payment_method_id=str(payment_method),
        setup_intent_id=setup_intent_id,
    )
    recorded = default_payment_method_of(updated)
    _payment_method_record(stripe_customer_id=stripe_customer_id, payment_method=recorded)
    return recorded


def customer_test_card_attach(*, customer: Customer, payment_method: str = "pm_card_visa") -> str:
    """Test mode (the demo): give the customer a Stripe test card as its default for invoices, making its
    Stripe customer first if it has none, and record it; the payment method's id."""
    stripe_customer_id = stripe_customer_ensure(customer=customer)
    updated = stripe_test_card_attach(
        vendor_id=customer.vendor_id, stripe_customer_id=stripe_customer_id, payment_method=payment_method
    )
    recorded = default_payment_method_of(updated)
    _payment_method_record(stripe_customer_id=stripe_customer_id, payment_method=recorded)
    return recorded

"""Stripe's customer events: a setup session completed (a card saved), a customer changed (its default
payment method set or removed). Each enqueues, once the event's transaction commits, a task that reads
Stripe and records the result (settlement.services.customer_billing): no Stripe call in the transaction."""

from __future__ import annotations

from django.db import transaction

from contracts.models import Customer
from settlement.models import StripeEvent
from settlement.selectors.stripe_accounts import stripe_account_vendors
from settlement.tasks import complete_customer_setup, refresh_customer_payment_method

STRIPE_CUSTOMER_EVENTS = ("checkout.session.completed", "customer.updated")


def _object_id(value: object) -> str:
    """An id Stripe sends as a string, or inside the object when expanded."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else ""


def _linked_in_account(stripe_customer_id: str, account: str) -> bool:
    """Whether a customer of a vendor settling in `account` is linked to this Stripe customer: an event of
    one account never touches another vendor's customer, whatever ids the accounts share."""
    return Customer.objects.filter(
        stripe_customer_id=stripe_customer_id, vendor__in=stripe_account_vendors(account=account)
    ).exists()


def stripe_customer_event(event: StripeEvent) -> None:
    """Handle one of STRIPE_CUSTOMER_EVENTS (inside the event's transaction, the event row locked)."""
    obj = (event.payload.get("data") or {}).get("object") or {}
    if event.type == "checkout.session.completed":
        # Only Verity's own setup sessions (their metadata names the customer), and only once complete.
        made_by_verity = bool((obj.get("metadata") or {}).get("verity_customer_id"))
        setup_intent_id = _object_id(obj.get("setup_intent"))
        stripe_customer_id = _object_id(obj.get("customer"))
        if (
            obj.get("mode") == "setup"
            and obj.get("status") == "complete"
            and made_by_verity
            and setup_intent_id
            and stripe_customer_id
            and _linked_in_account(stripe_customer_id, event.account)
        ):
            transaction.on_commit(lambda: complete_customer_setup.delay(setup_intent_id, stripe_customer_id))
    elif event.type == "customer.updated":
        stripe_customer_id = _object_id(obj.get("id"))
        if stripe_customer_id and _linked_in_account(stripe_customer_id, event.account):
            transaction.on_commit(lambda: refresh_customer_payment_method.delay(stripe_customer_id))

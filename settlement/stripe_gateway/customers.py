"""Stripe customers: checking one a vendor links, making Verity's own, and saving a card through Checkout.

A customer Stripe can charge automatically has a default payment method for invoices. Checkout in setup mode
saves a card on the customer but does not make it the default: that is the integration's job, done when the
session completes (https://docs.stripe.com/payments/checkout/subscriptions/update-payment-details).
A Stripe outage (network, 429, 5xx after the SDK's own retries) raises StripeUnavailable; nothing here runs
inside a database transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import stripe

from contracts.billing_details import customer_stripe_details, customer_stripe_tax_ids
from contracts.models import Customer
from settlement.stripe_gateway.client import (
    client,
    every,
    idempotency_key,
    metadata_of,
    options,
    outage_is_unavailable,
    vendor_account,
    vendor_client,
)

JSON = dict[str, Any]


class StripeRefused(Exception):
    """Stripe refused a call (a 4xx other than a missing object): its message says why."""


def _missing(exc: stripe.InvalidRequestError) -> bool:
    return exc.http_status == 404 and exc.code == "resource_missing"


def _retrieved(what: str, retrieve: Callable[[], Any]) -> JSON | None:
    """An object as Stripe has it, None when Stripe does not know it (404 resource_missing)."""
    with outage_is_unavailable(f"retrieving {what}"):
        try:
            remote = retrieve()
        except stripe.InvalidRequestError as exc:
            if _missing(exc):
                return None
            raise
    found: JSON = remote.to_dict()
    return found


def stripe_customer_retrieve(*, vendor_id: Any, stripe_customer_id: str) -> JSON | None:
    """The Stripe customer, or None when Stripe does not know it (404 resource_missing) or it was deleted.

    A deleted customer is still retrievable, as "a subset of the customer's information ... including a
    deleted property" (https://docs.stripe.com/api/customers/retrieve): for Verity it is gone.
    """
    found = _retrieved(
        f"customer {stripe_customer_id}",
        lambda: vendor_client(vendor_id).v1.customers.retrieve(stripe_customer_id),
    )
    return None if found is None or found.get("deleted") else found


def default_payment_method_of(stripe_customer: JSON) -> str:
    """What Stripe charges the customer's invoices with when they name none, "" if nothing: the invoice
    settings' default payment method, else a legacy default source (Stripe's order of priority,
    https://docs.stripe.com/billing/subscriptions/payment-methods-setting#payment-method-priority)."""
    settings = stripe_customer.get("invoice_settings") or {}
    for found in (settings.get("default_payment_method"), stripe_customer.get("default_source")):
        if isinstance(found, dict):  # expanded
            found = found.get("id")
        if found:
            return str(found)
    return ""


def verity_customer_id_of(stripe_customer: JSON) -> str:
    """The Verity customer a Stripe customer was made for ("" for one made outside Verity)."""
    return str((stripe_customer.get("metadata") or {}).get("verity_customer_id", ""))


def customer_params(customer: Customer) -> JSON:
    """What Verity makes a customer's Stripe customer with: the settlement step and the card-setup path
    alike, under the same key, so either makes the one Stripe customer."""
    params: JSON = {
        "name": customer.name,
        "email": customer.billing_email,
        "metadata": {"verity_customer_id": str(customer.pk), "external_ref": customer.external_ref},
        **customer_stripe_details(customer),  # the location and exemption Stripe Tax needs
    }
    tax_ids = customer_stripe_tax_ids(customer)
    if tax_ids:
        params["tax_id_data"] = tax_ids
    return params


def made_customer(api: stripe.StripeClient, params: JSON) -> str | None:
    """The Stripe customer an earlier attempt made with these parameters (found by the Verity id in its
    metadata, since Stripe forgets idempotency keys after a day), or None."""
    wanted = params["metadata"]["verity_customer_id"]
    for candidate in every(api.v1.customers.list(params={"email": params["email"], "limit": 100})):
        if metadata_of(candidate).get("verity_customer_id") == wanted:
            return str(candidate.id)
    return None


def stripe_customer_create(*, customer: Customer) -> str:
    """The id of Verity's Stripe customer for `customer`: one an earlier attempt made, else a new one under
    `verity:v1:customer:<id>`."""
    api = vendor_client(customer.vendor_id)
    params = customer_params(customer)
    with outage_is_unavailable(f"creating the Stripe customer of {customer.pk}"):
        found = made_customer(api, params)
        if found is not None:
            return found
        created = api.v1.customers.create(
            params=params,  # type: ignore[arg-type]
            options=options(idempotency_key("customer", customer.pk)),
        )
    return str(created.id)


def stripe_customer_ensure(*, customer: Customer) -> str:
    """The customer's Stripe id: the linked one, else Verity's own, made (or found) now and linked."""
    if not customer.stripe_customer_id:
        made = stripe_customer_create(customer=customer)
        Customer.objects.filter(pk=customer.pk, stripe_customer_id="").update(stripe_customer_id=made)
        customer.refresh_from_db(fields=["stripe_customer_id"])
    return customer.stripe_customer_id


def customer_setup_session_create(*, customer: Customer, success_url: str, cancel_url: str = "") -> str:
    """A Checkout Session in setup mode where the customer saves a card; its URL, to send them.

    Makes the Stripe customer first if Verity has none for them (and records it). A card is what
    charge_automatically collects with everywhere; dynamic payment methods would need a currency per session.
    """
    try:
        stripe_customer_ensure(customer=customer)
        return _setup_session_url(customer, success_url, cancel_url)
    except stripe.InvalidRequestError as exc:
        raise StripeRefused(exc.user_message or str(exc)) from exc


def _setup_session_url(customer: Customer, success_url: str, cancel_url: str) -> str:
    params: JSON = {
        "mode": "setup",
        "customer": customer.stripe_customer_id,
        "payment_method_types": ["card"],
        "success_url": success_url,
        "metadata": {"verity_customer_id": str(customer.pk)},
    }
    if cancel_url:
        params["cancel_url"] = cancel_url
    with outage_is_unavailable(f"creating a setup session for {customer.pk}"):
        session = vendor_client(customer.vendor_id).v1.checkout.sessions.create(params=params)  # type: ignore[arg-type]
    return str(session.url)


def setup_intent_retrieve(*, vendor_id: Any, setup_intent_id: str) -> JSON | None:
    """The SetupIntent a completed setup session made (None if Stripe does not know it)."""
    return _retrieved(
        f"SetupIntent {setup_intent_id}",
        lambda: vendor_client(vendor_id).v1.setup_intents.retrieve(setup_intent_id),
    )


def stripe_customer_default_payment_method_set(
    *, vendor_id: Any, stripe_customer_id: str, payment_method_id: str, setup_intent_id: str
) -> JSON:
    """Make the card a SetupIntent saved the customer's default for invoices; the customer as Stripe has it
    after. Keyed by the SetupIntent, so a retried webhook or task sets it once."""
    with outage_is_unavailable(f"setting the default payment method of {stripe_customer_id}"):
        updated = vendor_client(vendor_id).v1.customers.update(
            stripe_customer_id,
            params={"invoice_settings": {"default_payment_method": payment_method_id}},
            options=options(idempotency_key("setup_intent", setup_intent_id, "default")),
        )
    found: JSON = updated.to_dict()
    return found


def stripe_test_card_attach(
    *, vendor_id: Any, stripe_customer_id: str, payment_method: str = "pm_card_visa"
) -> JSON:
    """Test mode only: give the Stripe customer one of Stripe's test cards as its default for invoices, the
    way test mode does it (https://docs.stripe.com/testing#cards): the test token attached to the customer
    (Stripe makes a new PaymentMethod of it), then made the default. The customer as Stripe has it after."""
    account = vendor_account(vendor_id)
    if not account.api_key.startswith(("sk_test_", "rk_test_")):
        raise ValueError("Test cards exist only with a test-mode key (sk_test_…).")
    api = client(account)
    with outage_is_unavailable(f"attaching a test card to {stripe_customer_id}"):
        attached = api.v1.payment_methods.attach(payment_method, params={"customer": stripe_customer_id})
        updated = api.v1.customers.update(
            stripe_customer_id, params={"invoice_settings": {"default_payment_method": attached.id}}
        )
    found: JSON = updated.to_dict()
    return found

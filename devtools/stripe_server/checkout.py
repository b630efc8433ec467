"""Checkout Sessions in setup mode (how a customer saves a card) and the SetupIntents they complete.

A session's `url` is a small page on this server whose button completes it with `pm_card_visa`; tests complete it
through the admin API. Completion does what Stripe does: a succeeded SetupIntent whose new PaymentMethod is attached
to the session's customer, without making it the customer's default
(https://docs.stripe.com/payments/checkout/subscriptions/update-payment-details: setting it is your integration's
job). Payment and subscription mode need prices and PaymentIntents, which this server does not model.
"""

from __future__ import annotations

import copy
import html
from typing import TYPE_CHECKING

from .errors import invalid, no_such, validation
from .objects import JSON, RequestContext, from_shape, new_id
from .params import Params, merge_metadata

if TYPE_CHECKING:
    from .state import Store

SESSION_LIFETIME = 86_400  # Stripe's default expires_at: 24 hours after creation


class Checkout:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.sessions: dict[str, JSON] = {}
        self.setup_intents: dict[str, JSON] = {}

    # ------------------------------------------------------------------ sessions

    def create_session(self, params: Params, ctx: RequestContext, *, base_url: str) -> JSON:
        params.allow(
            "mode",
            "customer",
            "currency",
            "success_url",
            "cancel_url",
            "metadata",
            "payment_method_types",
            "client_reference_id",
        )
        mode = params.choice("mode", ("payment", "setup", "subscription"))
        if mode is None:
            raise validation("Missing required param: mode.", param="mode", code="parameter_missing")
        if mode != "setup":
            raise validation(
                f"mode={mode} is not implemented by the local Stripe server (it has no prices or PaymentIntents); "
                "only mode=setup is.",
                param="mode",
            )
        success_url = params.string("success_url", required=True)
        types = params.raw.get("payment_method_types")
        if types is not None and (not isinstance(types, list) or not all(isinstance(t, str) for t in types)):
            raise validation("Invalid array", param="payment_method_types")
        if types is not None and set(types) != {"card"}:
            raise validation(
                "Only payment_method_types[]=card is implemented by the local Stripe server.",
                param="payment_method_types",
            )
        currency = params.currency()
        if currency is None and types is None:
            # Dynamic payment methods (the default) need the currency in setup mode.
            raise validation(
                "Missing required param: currency. In setup mode, currency is required when "
                "payment_method_types is not set.",
                param="currency",
                code="parameter_missing",
            )
        customer_id = params.string("customer")
        if customer_id is not None and customer_id not in self.store.customers:
            raise no_such("customer", customer_id, param="customer", status=400)
        now = self.store.now()
        session_id = new_id("cs_test_", 58)
        session = from_shape(
            "checkout.session",
            {
                "after_expiration": None,
                "allow_promotion_codes": None,
                "amount_subtotal": None,
                "amount_total": None,
                "automatic_tax": {"enabled": False, "liability": None, "status": None, "provider": None},
                "billing_address_collection": None,
                "cancel_url": params.string("cancel_url"),
                "client_reference_id": params.string("client_reference_id", max_length=200),
                "client_secret": None,
                "consent": None,
                "consent_collection": None,
                "created": now,
                "currency": currency,
                "custom_fields": [],
                "custom_text": {
                    "after_submit": None,
                    "shipping_address": None,
                    "submit": None,
                    "terms_of_service_acceptance": None,
                },
                "customer": customer_id,
                "customer_creation": None,
                "customer_details": None,
                "customer_email": None,
                "expires_at": now + SESSION_LIFETIME,
                "id": session_id,
                "invoice": None,
                "invoice_creation": None,
                "livemode": False,
                "locale": None,
                "metadata": merge_metadata({}, params.metadata()),
                "mode": "setup",
                "object": "checkout.session",
                "payment_intent": None,
                "payment_link": None,
                "payment_method_collection": "always",
                "payment_method_configuration_details": None,
                "payment_method_options": {},
                "payment_method_types": ["card"],
                "payment_status": "no_payment_required",
                "phone_number_collection": {"enabled": False},
                "recovered_from": None,
                "saved_payment_method_options": None,
                "setup_intent": None,
                "shipping_address_collection": None,
                "shipping_cost": None,
                "shipping_options": [],
                "status": "open",
                "submit_type": None,
                "subscription": None,
                "success_url": success_url,
                "total_details": None,
                "ui_mode": "hosted",
                "url": f"{base_url}/__checkout/{session_id}",
                "adaptive_pricing": None,
                "discounts": [],
                "collected_information": None,
                "permissions": None,
                "wallet_options": None,
                "origin_context": None,
                "currency_conversion": None,
                "customer_account": None,
                "integration_identifier": None,
                "managed_payments": None,
            },
        )
        self.sessions[session_id] = session
        return self._render(session, params.expand())

    def get_session(self, session_id: str, params: Params) -> JSON:
        params.allow()
        return self._render(self._session(session_id), params.expand())

    def _session(self, session_id: str) -> JSON:
        session = self.sessions.get(session_id)
        if session is None:
            raise no_such("checkout.session", session_id, param="session")
        return session

    def _render(self, session: JSON, expand: list[str]) -> JSON:
        """The session with `expand[]=setup_intent` applied here; other paths go through the Store's expansion."""
        rendered = copy.deepcopy(session)
        if "setup_intent" in expand:
            if rendered["setup_intent"] is not None:
                rendered["setup_intent"] = copy.deepcopy(self.setup_intents[rendered["setup_intent"]])
            expand = [path for path in expand if path != "setup_intent"]
        return self.store.expand(rendered, expand)

    def complete(self, session_id: str, token: str, ctx: RequestContext) -> JSON:
        """The customer saved a card: a succeeded SetupIntent, its PaymentMethod attached to the customer."""
        session = self._session(session_id)
        if session["status"] != "open" or self.store.now() >= session["expires_at"]:
            raise invalid(f"This Checkout Session is no longer active (status: {session['status']}).")
        payment_method = self.store.wallet.prepare(token, param="payment_method")
        customer_id = session["customer"]
        intent_id = new_id("seti_")
        intent = from_shape(
            "setup_intent",
            {
                "application": None,
                "automatic_payment_methods": None,
                "cancellation_reason": None,
                "client_secret": f"{intent_id}_secret_{new_id('', 25)}",
                "created": self.store.now(),
                "customer": customer_id,
                "description": None,
                "flow_directions": None,
                "id": intent_id,
                "last_setup_error": None,
                "latest_attempt": None,
                "livemode": False,
                "mandate": None,
                "metadata": {},
                "next_action": None,
                "object": "setup_intent",
                "on_behalf_of": None,
                "payment_method": payment_method["id"],
                "payment_method_configuration_details": None,
                "payment_method_options": {},
                "payment_method_types": ["card"],
                "single_use_mandate": None,
                "status": "succeeded",
                "usage": "off_session",
                "excluded_payment_method_types": None,
            },
        )
        self.setup_intents[intent_id] = intent
        self.store.emit("setup_intent.created", intent, ctx)
        if customer_id is not None:
            self.store.wallet.attach(payment_method, customer_id, ctx)
        else:  # no customer: the PaymentMethod is saved unattached
            self.store.wallet.payment_methods[payment_method["id"]] = payment_method
        self.store.emit("setup_intent.succeeded", intent, ctx)
        customer = self.store.customers.get(customer_id) if customer_id else None
        session.update(
            status="complete",
            setup_intent=intent_id,
            customer_details={
                "address": None,
                "email": customer["email"] if customer else None,
                "name": customer["name"] if customer else None,
                "phone": None,
                "tax_exempt": "none",
                "tax_ids": [],
                "business_name": None,
                "individual_name": None,
            },
        )
        self.store.emit("checkout.session.completed", session, ctx)
        return copy.deepcopy(session)

    # ------------------------------------------------------------------ setup intents

    def get_setup_intent(self, intent_id: str, params: Params) -> JSON:
        params.allow()
        intent = self.setup_intents.get(intent_id)
        if intent is None:
            raise no_such("setupintent", intent_id, param="intent")
        return self.store.expand(copy.deepcopy(intent), params.expand())

    # ------------------------------------------------------------------ the hosted page

    def page(self, session_id: str) -> str:
        """The hosted page a person clicks through in the demo; its form posts back to complete the session."""
        session = self.sessions.get(session_id)
        if session is None:
            return _page("Checkout", "<p>No such Checkout Session.</p>")
        if session["status"] != "open":
            return _page("Checkout", f"<p>This session is {html.escape(session['status'])}.</p>")
        customer = self.store.customers.get(session["customer"] or "")
        who = html.escape(customer["email"] or customer["id"]) if customer else "a new customer"
        cancel = session["cancel_url"]
        cancel_link = f'<p><a href="{html.escape(cancel)}">Cancel</a></p>' if cancel else ""
        body = (
            f"<p>Save a card for {who} (local Stripe test server).</p>"
            f'<form method="post" action="/__checkout/{html.escape(session_id)}">'
            '<button type="submit">Save card (4242 4242 4242 4242)</button></form>'
            f"{cancel_link}"
        )
        return _page("Save a card", body)

    def success_url(self, session_id: str) -> str:
        session = self._session(session_id)
        url: str = session["success_url"]
        return url.replace("{CHECKOUT_SESSION_ID}", session_id)  # Stripe's template variable


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )

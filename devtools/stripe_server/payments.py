"""PaymentMethods: Stripe's test card tokens, attaching them to customers, and which card pays an invoice.

In test mode a token such as `pm_card_visa` is not an object: every use (attach, `customers.create(payment_method=)`,
completing Checkout) creates a new `pm_…` PaymentMethod with that card's behaviour. Stripe checks a card when it is
attached, so the declining test cards cannot be attached at all; `pm_card_chargeCustomerFail` attaches and then
declines every charge (https://docs.stripe.com/testing).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import CARD_ERROR, ApiError, invalid, no_such
from .objects import JSON, RequestContext, from_shape, new_id, paginate
from .params import Params, merge_metadata
from .taxes import address_param

if TYPE_CHECKING:
    from .state import Store


@dataclass(frozen=True)
class Decline:
    """A card error: `code` (card_declined, expired_card), `decline_code`, and Stripe's message."""

    code: str
    decline_code: str
    message: str

    def error(self) -> ApiError:
        return ApiError(402, CARD_ERROR, self.message, code=self.code, decline_code=self.decline_code)


@dataclass(frozen=True)
class TestCard:
    brand: str
    last4: str
    funding: str = "credit"
    decline_on_attach: Decline | None = None  # Stripe validates the card when it is attached
    decline_on_charge: Decline | None = None
    requires_authentication: bool = False  # 3D Secure on every payment, on or off session


_DECLINED = Decline("card_declined", "generic_decline", "Your card was declined.")
_INSUFFICIENT = Decline("card_declined", "insufficient_funds", "Your card has insufficient funds.")
_EXPIRED = Decline("expired_card", "expired_card", "Your card has expired.")

TEST_CARDS: dict[str, TestCard] = {
    "pm_card_visa": TestCard("visa", "4242"),
    "pm_card_mastercard": TestCard("mastercard", "4444"),
    "pm_card_amex": TestCard("amex", "0005"),
    "pm_card_chargeDeclined": TestCard("visa", "0002", decline_on_attach=_DECLINED),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard("visa", "9995", decline_on_attach=_INSUFFICIENT),
    "pm_card_chargeDeclinedExpiredCard": TestCard("visa", "0069", decline_on_attach=_EXPIRED),
    "pm_card_chargeCustomerFail": TestCard("visa", "0341", decline_on_charge=_DECLINED),
    "pm_card_authenticationRequired": TestCard("visa", "3184", requires_authentication=True),
}

NO_PAYMENT_METHOD = (
    "This customer has no attached payment source or default payment method. Please consider adding a default "
    "payment method. For more information, visit "
    "https://stripe.com/docs/billing/subscriptions/payment-methods-setting#payment-method-priority."
)


def not_attached(payment_method_id: str, *, param: str) -> ApiError:
    return invalid(
        f"The customer does not have a payment method with the ID {payment_method_id}. The payment method must be "
        "attached to the customer.",
        param=param,
        code="resource_missing",
    )


class Wallet:
    """Every PaymentMethod of the account (attached or detached) and the test card behind each."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.payment_methods: dict[str, JSON] = {}
        self.cards: dict[str, TestCard] = {}  # pm id -> the test card it was made from

    # ------------------------------------------------------------------ building and attaching

    def prepare(self, token_or_id: str, *, param: str) -> JSON:
        """The PaymentMethod to attach: a new one for a test token, else an existing, never-attached one.

        Raises Stripe's errors first (unknown id, card declined at validation, already attached, detached).
        """
        card = TEST_CARDS.get(token_or_id)
        if card is not None:
            if card.decline_on_attach is not None:
                raise card.decline_on_attach.error()
            return self._new(token_or_id, card)
        existing = self.payment_methods.get(token_or_id)
        if existing is None:
            raise no_such("PaymentMethod", token_or_id, param=param, status=400)
        if existing["customer"] is not None:
            raise invalid(
                "The payment method you provided has already been attached to a customer.", param=param
            )
        raise invalid(
            "This PaymentMethod was previously used without being attached to a Customer or was detached from a "
            "Customer, and may not be used again.",
            param=param,
        )

    def _new(self, token: str, card: TestCard) -> JSON:
        payment_method_id = new_id("pm_")
        self.cards[payment_method_id] = card
        return from_shape(
            "payment_method",
            {
                "allow_redisplay": "unspecified",
                "billing_details": {
                    "address": {
                        "city": None,
                        "country": None,
                        "line1": None,
                        "line2": None,
                        "postal_code": None,
                        "state": None,
                    },
                    "email": None,
                    "name": None,
                    "phone": None,
                    "tax_id": None,
                },
                "card": {
                    "brand": card.brand,
                    "checks": {
                        "address_line1_check": None,
                        "address_postal_code_check": None,
                        "cvc_check": "unchecked",
                    },
                    "country": "US",
                    "display_brand": card.brand,
                    "exp_month": 12,
                    "exp_year": 2034,
                    "fingerprint": new_id("", 16),
                    "funding": card.funding,
                    "generated_from": None,
                    "last4": card.last4,
                    "networks": {"available": [card.brand], "preferred": None},
                    "three_d_secure_usage": {"supported": True},
                    "wallet": None,
                    "regulated_status": "unregulated",
                },
                "created": self.store.now(),
                "customer": None,
                "id": payment_method_id,
                "livemode": False,
                "metadata": {},
                "object": "payment_method",
                "type": "card",
                "customer_account": None,
            },
        )

    def attach(self, payment_method: JSON, customer_id: str, ctx: RequestContext) -> JSON:
        payment_method["customer"] = customer_id
        self.payment_methods[payment_method["id"]] = payment_method
        self.store.emit("payment_method.attached", payment_method, ctx)
        return payment_method

    # ------------------------------------------------------------------ endpoints

    def attach_endpoint(self, token_or_id: str, params: Params, ctx: RequestContext) -> JSON:
        params.allow("customer")
        customer = self.store._customer_param(params)
        existing = self.payment_methods.get(token_or_id)
        if existing is not None and existing["customer"] == customer["id"]:
            return copy.deepcopy(existing)  # attaching to the same customer again changes nothing
        payment_method = self.prepare(token_or_id, param="payment_method")
        return copy.deepcopy(self.attach(payment_method, customer["id"], ctx))

    def detach(self, payment_method_id: str, params: Params, ctx: RequestContext) -> JSON:
        params.allow()
        payment_method = self._get(payment_method_id)
        customer_id = payment_method["customer"]
        if customer_id is None:
            raise invalid(
                "The payment method you provided is not attached to a customer so detachment is impossible."
            )
        payment_method["customer"] = None
        settings = self.store.customers[customer_id]["invoice_settings"]
        if settings["default_payment_method"] == payment_method_id:
            settings["default_payment_method"] = None  # Stripe clears a default that is detached
        self.store.emit("payment_method.detached", payment_method, ctx)
        return copy.deepcopy(payment_method)

    def get(self, payment_method_id: str, params: Params) -> JSON:
        params.allow()
        return copy.deepcopy(self._get(payment_method_id))

    def _get(self, payment_method_id: str) -> JSON:
        payment_method = self.payment_methods.get(payment_method_id)
        if payment_method is None:
            raise no_such("PaymentMethod", payment_method_id, param="payment_method")
        return payment_method

    def list_for_customer(self, customer_id: str, params: Params) -> JSON:
        params.allow("type", "limit", "starting_after", "ending_before")
        if customer_id not in self.store.customers:
            raise no_such("customer", customer_id, param="customer")
        kind = params.string("type")
        ids = [
            pm_id
            for pm_id, pm in self.payment_methods.items()
            if pm["customer"] == customer_id and kind in (None, pm["type"])
        ]
        ids.reverse()  # newest first
        page, has_more = paginate(ids, params)
        return {
            "data": [copy.deepcopy(self.payment_methods[pm_id]) for pm_id in page],
            "has_more": has_more,
            "object": "list",
            "url": f"/v1/customers/{customer_id}/payment_methods",
        }

    # ------------------------------------------------------------------ customers' payment settings

    def owned(self, payment_method_id: str, customer_id: str, *, param: str) -> str:
        """`payment_method_id` if it is attached to the customer, else Stripe's error (test tokens included)."""
        payment_method = self.payment_methods.get(payment_method_id)
        if payment_method is None or payment_method["customer"] != customer_id:
            raise not_attached(payment_method_id, param=param)
        return payment_method_id

    def update_customer(self, customer_id: str, params: Params, ctx: RequestContext) -> JSON:
        """POST /v1/customers/{id}: contact fields, address, tax_exempt, metadata (merged), default payment method."""
        params.allow(
            "email", "name", "description", "phone", "metadata", "invoice_settings", "address", "tax_exempt"
        )
        customer = self.store.customers.get(customer_id)
        if customer is None:
            raise no_such("customer", customer_id, param="id")
        address = address_param(params, current=customer["address"])
        tax_exempt = params.choice("tax_exempt", ("none", "exempt", "reverse"))
        settings = params.mapping("invoice_settings", allowed=("default_payment_method",)) or {}
        default = settings.get("default_payment_method")
        if default:
            self.owned(default, customer_id, param="invoice_settings[default_payment_method]")
        fields = {
            "email": params.string("email", max_length=512),
            "name": params.string("name", max_length=256),
            "description": params.string("description"),
            "phone": params.string("phone", max_length=20),
        }
        metadata = params.metadata()
        for name, value in fields.items():
            if value is not None:
                customer[name] = value or None  # an empty string unsets the field
        if default is not None:
            customer["invoice_settings"]["default_payment_method"] = default or None
        customer["address"] = address
        if tax_exempt is not None:
            customer["tax_exempt"] = tax_exempt
        customer["metadata"] = merge_metadata(customer["metadata"], metadata)
        self.store.emit("customer.updated", customer, ctx)
        return self.store.expand(copy.deepcopy(customer), params.expand())

    def list_customers(self, params: Params) -> JSON:
        params.allow("email", "limit", "starting_after", "ending_before")
        email = params.string("email", max_length=512)
        ids = [
            customer_id
            for customer_id, customer in self.store.customers.items()
            if email is None or customer["email"] == email  # Stripe's filter is exact and case-sensitive
        ]
        ids.reverse()
        page, has_more = paginate(ids, params)
        return {
            "data": [copy.deepcopy(self.store.customers[customer_id]) for customer_id in page],
            "has_more": has_more,
            "object": "list",
            "url": "/v1/customers",
        }

    # ------------------------------------------------------------------ paying

    def for_invoice(self, invoice: JSON, payment_method_id: str | None) -> str | None:
        """Stripe's order: the `payment_method` passed to pay, the invoice's default, the customer's default."""
        customer = self.store.customers[invoice["customer"]]
        return (
            payment_method_id
            or invoice["default_payment_method"]
            or customer["invoice_settings"]["default_payment_method"]
        )

    def card_of(self, payment_method_id: str) -> TestCard:
        return self.cards[payment_method_id]

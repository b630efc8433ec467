"""factory_boy factories for the domain; terms payloads valid by default, overridable per test."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import factory

from contracts.api import urls as contracts_api_urls
from contracts.models import (
    ApiKey,
    AuditEntry,
    Contract,
    ContractVersion,
    Customer,
    OutcomeType,
    Vendor,
    WebhookSecret,
    WebhookSource,
)
from contracts.services.contracts import contract_create, contract_create_parse
from contracts.services.credentials import webhook_source_create


class VendorFactory(factory.django.DjangoModelFactory[Vendor]):
    class Meta:
        model = Vendor

    name = factory.Sequence(lambda n: f"Vendor {n}")
    slug = factory.Sequence(lambda n: f"vendor-{n}")


class CustomerFactory(factory.django.DjangoModelFactory[Customer]):
    class Meta:
        model = Customer

    vendor = factory.SubFactory(VendorFactory)
    name = factory.Sequence(lambda n: f"Customer {n}")
    external_ref = factory.Sequence(lambda n: f"cust-{n}")
    billing_email = factory.Sequence(lambda n: f"billing{n}@example.com")


def outcome_type_terms(**overrides: Any) -> dict[str, Any]:
    """One valid outcome type: ticket.resolved at 0.90 per verified resolution."""
    return {
        "key": "ticket.resolved",
        "description": "A support ticket resolved by the agent",
        "natural_key_field": "ticket_id",
        "billing_basis": "per_outcome",
        "pricing": {"model": "per_unit", "unit_price": "0.90"},
        **overrides,
    }


def version_terms(**overrides: Any) -> dict[str, Any]:
    return {"platform_fee_minor": 50_000, "outcome_types": [outcome_type_terms()], **overrides}


def contract_payload(customer: Customer, **overrides: Any) -> dict[str, Any]:
    """A valid body for POST /api/v1/contracts and for services.contracts.contract_create_parse."""
    return {
        "customer_id": str(customer.pk),
        "reference": f"CTR-{customer.external_ref}",
        "currency": "USD",
        "timezone": "America/New_York",
        "anchor_day": 1,
        "starts_at": dt.date(2026, 1, 1).isoformat(),
        "terms": version_terms(),
        **overrides,
    }


def contract_create_for(
    customer: Customer | None = None, *, actor: str = "system", **overrides: Any
) -> Contract:
    """A draft contract made through services.contracts.contract_create (first version included)."""
    customer = customer if customer is not None else CustomerFactory.create()
    return contract_create(
        vendor=customer.vendor, **new_contract(contract_payload(customer, **overrides)), actor=actor
    )


def new_contract(data: dict[str, Any]) -> dict[str, Any]:
    """contract_create's typed arguments (header, terms) from a body, parsed as the API parses it."""
    header, terms = contract_create_parse(data)
    return {"header": header, "terms": terms}


def amendment_payload(effective_from: str | None = None, **term_overrides: Any) -> dict[str, Any]:
    """A valid body of an amendment (parse(Amendment, ...) for contract_amend); effective now when
    effective_from is None."""
    payload: dict[str, Any] = {"terms": version_terms(**term_overrides)}
    if effective_from is not None:
        payload["effective_from"] = effective_from
    return payload


def webhook_source_create_for(
    customer: Customer,
    *,
    kind: str = WebhookSource.Kind.CUSTOMER_SYSTEM,
    name: str = "Helpdesk",
    approved: bool = True,
) -> tuple[WebhookSource, str]:
    """A source with its first signing secret, made through services.credentials; returns (source, secret).

    A customer system is `approved` by default, as if the customer had created it with its own key;
    approved=False: the vendor created it, and it awaits the customer's approval."""
    by_customer = approved and kind == WebhookSource.Kind.CUSTOMER_SYSTEM
    source, secret = webhook_source_create(
        vendor=customer.vendor,
        customer=customer,
        name=name,
        kind=kind,
        actor="system",
        by_customer=by_customer,
    )
    return (approved_long_ago(source) if by_customer else source), secret


# Tests travel back to instants before the real one a source is created at: a source the customer created
# speaks for every event they send, so its approval is dated before any of them.
APPROVED_LONG_AGO = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def approved_long_ago(source: WebhookSource) -> WebhookSource:
    """The customer-created `source`, approved since APPROVED_LONG_AGO."""
    WebhookSource.objects.filter(pk=source.pk).update(approved_at=APPROVED_LONG_AGO)
    source.approved_at = APPROVED_LONG_AGO
    return source


def field_error_codes(body: dict[str, Any]) -> dict[str, list[str]]:
    """An API error body's field errors as path -> codes: exact assertions that ignore the wording."""
    return {path: [item["code"] for item in items] for path, items in body["field_errors"].items()}


def vendor_api_operations(*, customer: bool = False) -> list[tuple[str, str]]:
    """Every (METHOD, path template) routed by contracts.api.urls, e.g. ("POST", "/api/v1/contracts/{contract_id}/activate"),
    for a vendor's key; customer=True: those under /api/v1/customer/, for a customer's key."""
    operations = []
    for pattern in contracts_api_urls.urlpatterns:
        if str(pattern.pattern).startswith("customer/") != customer:
            continue
        view_class = pattern.callback.view_class  # type: ignore[attr-defined]
        route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))
        operations += [
            (method.upper(), f"/api/v1/{route}")
            for method in ("get", "post", "put", "patch", "delete")
            if hasattr(view_class, method)
        ]
    return operations


VENDOR_OF = {
    Customer: "vendor",
    Contract: "vendor",
    ContractVersion: "contract__vendor",
    OutcomeType: "version__contract__vendor",
    WebhookSource: "vendor",
    WebhookSecret: "source__vendor",
    ApiKey: "vendor",
    AuditEntry: "vendor",
}


def vendor_rows(vendor: Vendor) -> dict[str, Any]:
    """Every row the vendor owns, and each table's size: equal before and after a request that must change nothing."""
    return {
        model.__name__: {
            "rows": list(model._default_manager.filter(**{lookup: vendor}).order_by("pk").values()),
            "table_size": model._default_manager.count(),
        }
        for model, lookup in VENDOR_OF.items()
    }

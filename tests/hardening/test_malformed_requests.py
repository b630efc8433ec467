"""A catalogue of malformed requests against every endpoint: each is a 4xx in the error shape, never a 5xx,
and the database is exactly as it was (every table's rows, by checksum).

Endpoints: the vendor and customer API (/api/v1/), the signed webhook (/webhooks/v1/sources/<id>/events)
and Stripe's webhook (/webhooks/stripe). Kinds of bad input: wrong types, huge numbers, deep nesting,
unicode edge cases (NUL, lone surrogates, right-to-left overrides, very long strings), SQL and template
injection, negative, NaN and infinite amounts, enormous batches and bodies, wrong methods and media types.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.conf import settings

from tests.support.estate import Estate, db_fingerprint, plain_client, stripe_headers, webhook_headers
from tests.support.ingest import event

pytestmark = pytest.mark.django_db

Ids = dict[str, str]
Body = bytes | Callable[[Ids], Any] | Any

SQL = "' OR 1=1; DROP TABLE contracts_customer; --"
TEMPLATE = "{{ settings.SECRET_KEY }}{% debug %}${7*7}"
RTL = "\u202eDSU"  # a right-to-left override: "USD" to the eye
LONG = "x" * 100_000


def deep(depth: int, inner: bytes = b"1") -> bytes:
    return b"[" * depth + inner + b"]" * depth


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str  # may name {customer_id}, {contract_id}, {source_id}, {api_key_id}, {outcome_id}
    body: Body
    status: int
    code: str
    auth: str = "vendor"  # vendor, readonly, customer, none, signed (webhook), stripe, or "header:<value>"
    content_type: str = "application/json"
    extra: dict[str, str] = field(default_factory=dict)


def encode(body: Body, ids: Ids) -> bytes:
    if callable(body):
        body = body(ids)
    if isinstance(body, bytes):
        return body
    return json.dumps(body).encode()  # emits NaN and Infinity as written, and escapes surrogates


def customer(**overrides: Any) -> dict[str, Any]:
    return {"name": "Acme", "external_ref": "acme-hardening", "billing_email": "ap@acme.test", **overrides}


def contract(**overrides: Any) -> Callable[[Ids], dict[str, Any]]:
    def body(ids: Ids) -> dict[str, Any]:
        return {
            "customer_id": ids["customer_id"],
            "reference": "CTR-hardening",
            "currency": "USD",
            "timezone": "America/New_York",
            "anchor_day": 1,
            "starts_at": "2026-01-01",
            "terms": {
                "platform_fee_minor": 50_000,
                "outcome_types": [
                    {
                        "key": "ticket.resolved",
                        "description": "A ticket resolved",
                        "natural_key_field": "ticket_id",
                        "billing_basis": "per_outcome",
                        "pricing": {"model": "per_unit", "unit_price": "0.90"},
                    }
                ],
            },
        } | overrides

    return body


def priced(**pricing: Any) -> Callable[[Ids], dict[str, Any]]:
    """A contract whose one outcome type has this pricing."""

    def body(ids: Ids) -> dict[str, Any]:
        data = contract()(ids)
        data["terms"]["outcome_types"][0]["pricing"] = {"model": "per_unit", **pricing}
        return data

    return body


def termed(**terms: Any) -> Callable[[Ids], dict[str, Any]]:
    def body(ids: Ids) -> dict[str, Any]:
        data = contract()(ids)
        data["terms"] |= terms
        return data

    return body


def source(**overrides: Any) -> Callable[[Ids], dict[str, Any]]:
    return lambda ids: (
        {"name": "crm", "kind": "customer_system", "customer_id": ids["customer_id"]} | overrides
    )


def signed_event(**overrides: Any) -> Callable[[Ids], bytes]:
    return lambda ids: json.dumps(event(**overrides)).encode()


def signed_raw(text: str) -> Callable[[Ids], bytes]:
    """A webhook body that is valid JSON but for `text` spliced into an event's evidence."""
    return lambda ids: (
        json.dumps(event()).encode().replace(b'"evidence": {', b'"evidence": {' + text.encode())
    )


def stripe_event(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "evt_hardening",
        "object": "event",
        "type": "invoice.paid",
        "created": 1_800_000_000,
        "data": {"object": {"id": "in_unknown", "object": "invoice"}},
    } | overrides


CUSTOMERS = "/api/v1/customers"
CONTRACTS = "/api/v1/contracts"
WEBHOOK = "/webhooks/v1/sources/{source_id}/events"
STRIPE = "/webhooks/stripe"
V400 = (400, "validation_error")
M400 = (400, "malformed_json")


def api(id: str, method: str, path: str, body: Body, expected: tuple[int, str], **kw: Any) -> Case:
    return Case(id, method, path, body, *expected, **kw)


def hook(id: str, body: Body, expected: tuple[int, str], **kw: Any) -> Case:
    return Case(id, "POST", WEBHOOK, body, *expected, auth=kw.pop("auth", "signed"), **kw)


def stripe(id: str, body: Body, expected: tuple[int, str], **kw: Any) -> Case:
    return Case(id, "POST", STRIPE, body, *expected, auth=kw.pop("auth", "stripe"), **kw)


BAD_EVENT = (400, "invalid_event")
STRIPE_BAD = (400, "invalid_event")

CATALOGUE: list[Case] = [
    # --- the API: bodies that are not JSON, or JSON the database could not hold ---
    api("api-truncated-json", "POST", CUSTOMERS, b'{"name": "Acme",', M400),
    api("api-nan", "POST", CUSTOMERS, b'{"name": NaN}', M400),
    api("api-infinity", "POST", CUSTOMERS, b'{"name": Infinity}', M400),
    api("api-minus-infinity", "POST", CUSTOMERS, b'{"name": -Infinity}', M400),
    api("api-deep-array", "POST", CUSTOMERS, deep(100_000), M400),
    api("api-deep-in-field", "POST", CUSTOMERS, b'{"name": ' + deep(5_000) + b"}", M400),
    api("api-invalid-utf8", "POST", CUSTOMERS, b'{"name": "\xff\xfe"}', M400),
    api("api-5000-digit-number", "POST", CUSTOMERS, b'{"name": 1' + b"0" * 5000 + b"}", M400),
    api("api-nul-in-name", "POST", CUSTOMERS, customer(name="Ac\u0000me"), M400),
    api("api-lone-surrogate", "POST", CUSTOMERS, b'{"name": "Ac\\ud800me"}', M400),
    api("api-nul-in-metadata-key", "POST", CUSTOMERS, customer(metadata={"\u0000": 1}), M400),
    api("api-empty-body", "POST", CUSTOMERS, b"", V400),
    api("api-json-array", "POST", CUSTOMERS, [customer()], (400, "invalid_body")),
    api("api-json-string", "POST", CUSTOMERS, "Acme", (400, "invalid_body")),
    api("api-json-null", "POST", CUSTOMERS, None, (400, "invalid_body")),
    api(
        "api-text-plain",
        "POST",
        CUSTOMERS,
        b"name=Acme",
        (415, "unsupported_media_type"),
        content_type="text/plain",
    ),
    api(
        "api-form",
        "POST",
        CUSTOMERS,
        b"name=Acme",
        (415, "unsupported_media_type"),
        content_type="application/x-www-form-urlencoded",
    ),
    api("api-body-over-limit", "POST", CUSTOMERS, b" " * (3 * 1024 * 1024), (413, "body_too_large")),
    # --- the API: wrong types and values in customers ---
    api("customer-name-int", "POST", CUSTOMERS, customer(name=42), V400),
    api("customer-name-list", "POST", CUSTOMERS, customer(name=["Acme"]), V400),
    api("customer-name-object", "POST", CUSTOMERS, customer(name={"a": 1}), V400),
    api("customer-name-bool", "POST", CUSTOMERS, customer(name=True), V400),
    api("customer-name-null", "POST", CUSTOMERS, customer(name=None), V400),
    api("customer-name-100k", "POST", CUSTOMERS, customer(name=LONG), V400),
    api("customer-email-sql", "POST", CUSTOMERS, customer(billing_email=SQL), V400),
    api("customer-email-template", "POST", CUSTOMERS, customer(billing_email=TEMPLATE), V400),
    api("customer-ref-blank", "POST", CUSTOMERS, customer(external_ref=" "), V400),
    api("customer-unknown-field", "POST", CUSTOMERS, customer(is_admin=True), V400),
    api("customer-patch-name-int", "PATCH", CUSTOMERS + "/{customer_id}", {"name": 7}, V400),
    api("customer-path-sql", "GET", CUSTOMERS + "/" + "1' OR '1'='1", None, (404, "not_found")),
    api("customer-path-template", "GET", CUSTOMERS + "/{{7*7}}", None, (404, "not_found")),
    api("customer-path-long", "GET", CUSTOMERS + "/" + "9" * 5000, None, (404, "not_found")),
    api("customer-path-nul", "GET", CUSTOMERS + "/%00", None, (404, "not_found")),
    api("customer-path-surrogate", "GET", CUSTOMERS + "/%ED%A0%80", None, (404, "not_found")),
    api("customer-put-collection", "PUT", CUSTOMERS, customer(), (405, "method_not_allowed")),
    api(
        "customers-bad-cursor",
        "GET",
        CUSTOMERS + "?cursor=%ff%27%20OR%201%3D1",
        None,
        (400, "invalid_cursor"),
    ),
    # --- the API: contracts, their money and their dates ---
    api("contract-currency-long", "POST", CONTRACTS, contract(currency="usdollars"), V400),
    api("contract-currency-unknown", "POST", CONTRACTS, contract(currency="XYZ"), V400),
    api("contract-currency-rtl", "POST", CONTRACTS, contract(currency=RTL), V400),
    api("contract-currency-int", "POST", CONTRACTS, contract(currency=840), V400),
    api("contract-timezone-bogus", "POST", CONTRACTS, contract(timezone="Mars/Olympus_Mons"), V400),
    api("contract-timezone-traversal", "POST", CONTRACTS, contract(timezone="../../etc/passwd"), V400),
    api("contract-starts-feb-30", "POST", CONTRACTS, contract(starts_at="2026-02-30"), V400),
    api("contract-starts-year-0", "POST", CONTRACTS, contract(starts_at="0000-01-01"), V400),
    api("contract-starts-list", "POST", CONTRACTS, contract(starts_at=[2026, 1, 1]), V400),
    api("contract-anchor-day-99", "POST", CONTRACTS, contract(anchor_day=99), V400),
    api("contract-anchor-day-float", "POST", CONTRACTS, contract(anchor_day=1.5), V400),
    api("contract-customer-sql", "POST", CONTRACTS, contract(customer_id=SQL), V400),
    api("contract-customer-unknown", "POST", CONTRACTS, contract(customer_id=str(uuid.uuid4())), V400),
    api("contract-terms-list", "POST", CONTRACTS, contract(terms=[]), V400),
    api("contract-terms-string", "POST", CONTRACTS, contract(terms="cheap"), V400),
    api("contract-no-outcome-types", "POST", CONTRACTS, termed(outcome_types=[]), V400),
    api(
        "contract-10000-outcome-types",
        "POST",
        CONTRACTS,
        termed(outcome_types=[{"key": f"k{i}"} for i in range(10_000)]),
        V400,
    ),
    api("contract-fee-negative", "POST", CONTRACTS, termed(platform_fee_minor=-1), V400),
    api("contract-fee-huge", "POST", CONTRACTS, termed(platform_fee_minor=10**30), V400),
    api("contract-fee-float", "POST", CONTRACTS, termed(platform_fee_minor=1.5), V400),
    api("contract-fee-string", "POST", CONTRACTS, termed(platform_fee_minor="lots"), V400),
    api(
        "contract-fee-1e400",
        "POST",
        CONTRACTS,
        lambda ids: (
            json.dumps(termed()(ids))
            .replace('"platform_fee_minor": 50000', '"platform_fee_minor": 1e400')
            .encode()
        ),
        V400,
    ),
    api("contract-price-negative", "POST", CONTRACTS, priced(unit_price="-0.90"), V400),
    api("contract-price-nan-string", "POST", CONTRACTS, priced(unit_price="NaN"), V400),
    api("contract-price-infinity-string", "POST", CONTRACTS, priced(unit_price="Infinity"), V400),
    api("contract-price-huge", "POST", CONTRACTS, priced(unit_price="1" + "0" * 40), V400),
    api("contract-price-sql", "POST", CONTRACTS, priced(unit_price=SQL), V400),
    api("contract-price-template", "POST", CONTRACTS, priced(unit_price=TEMPLATE), V400),
    api("contract-pricing-model-bogus", "POST", CONTRACTS, priced(model="free_lunch"), V400),
    api("contract-reference-nul", "POST", CONTRACTS, contract(reference="CTR\u0000"), M400),
    api("contract-reference-100k", "POST", CONTRACTS, contract(reference=LONG), V400),
    api(
        "contract-amend-terms-string",
        "POST",
        CONTRACTS + "/{contract_id}/versions",
        {"terms": "cheap"},
        V400,
    ),
    api(
        "contract-version-number-huge",
        "GET",
        CONTRACTS + "/{contract_id}/versions/" + "9" * 30,
        None,
        (404, "not_found"),
    ),
    api("contract-delete", "DELETE", CONTRACTS + "/{contract_id}", None, (405, "method_not_allowed")),
    # --- the API: credentials ---
    api("api-key-scope-bogus", "POST", "/api/v1/api-keys", {"name": "k", "scope": "root"}, V400),
    api("api-key-name-long", "POST", "/api/v1/api-keys", {"name": LONG}, V400),
    api("api-key-name-missing", "POST", "/api/v1/api-keys", {}, V400),
    api("source-kind-bogus", "POST", "/api/v1/webhook-sources", source(kind="admin"), V400),
    api("source-kind-rtl", "POST", "/api/v1/webhook-sources", source(kind="\u202emetsys_remotsuc"), V400),
    api("source-customer-sql", "POST", "/api/v1/webhook-sources", source(customer_id=SQL), V400),
    api(
        "rotate-overlap-negative",
        "POST",
        "/api/v1/webhook-sources/{source_id}/rotate-secret",
        {"overlap_seconds": -1},
        V400,
    ),
    api(
        "rotate-overlap-huge",
        "POST",
        "/api/v1/webhook-sources/{source_id}/rotate-secret",
        {"overlap_seconds": 10**20},
        V400,
    ),
    api(
        "rotate-overlap-nan",
        "POST",
        "/api/v1/webhook-sources/{source_id}/rotate-secret",
        b'{"overlap_seconds": NaN}',
        M400,
    ),
    api(
        "rotate-overlap-string",
        "POST",
        "/api/v1/webhook-sources/{source_id}/rotate-secret",
        {"overlap_seconds": "a day"},
        V400,
    ),
    api(
        "customer-key-scope-bogus",
        "POST",
        CUSTOMERS + "/{customer_id}/api-keys",
        {"name": "k", "scope": "*"},
        V400,
    ),
    # --- the API: outcomes, reviews, disputes ---
    api(
        "review-verdict-bogus",
        "POST",
        "/api/v1/outcomes/{outcome_id}/review",
        {"flag_reason": "x", "verdict": "maybe"},
        V400,
    ),
    api(
        "review-evidence-list",
        "POST",
        "/api/v1/outcomes/{outcome_id}/review",
        {"flag_reason": "x", "verdict": "approve", "evidence": []},
        V400,
    ),
    api(
        "review-evidence-nul",
        "POST",
        "/api/v1/outcomes/{outcome_id}/review",
        {"flag_reason": "x", "verdict": "approve", "evidence": {"a": "\u0000"}},
        M400,
    ),
    api(
        "review-evidence-surrogate",
        "POST",
        "/api/v1/outcomes/{outcome_id}/review",
        b'{"flag_reason": "x", "verdict": "approve", "evidence": {"a": "\\udfff"}}',
        M400,
    ),
    api(
        "dispute-respond-unknown",
        "POST",
        f"/api/v1/disputes/{uuid.uuid4()}/respond",
        {"accept": True, "response": "ok"},
        (404, "not_found"),
    ),
    api(
        "dispute-respond-accept-string",
        "POST",
        f"/api/v1/disputes/{uuid.uuid4()}/respond",
        {"accept": "sure", "response": "ok"},
        (404, "not_found"),  # the dispute is looked up first
    ),
    api(
        "outcome-path-sql",
        "GET",
        "/api/v1/outcomes/" + "1;DROP TABLE outcomes_outcome",
        None,
        (404, "not_found"),
    ),
    api("outcomes-bad-cursor", "GET", "/api/v1/outcomes?cursor=%00%ff", None, (400, "invalid_cursor")),
    api("invoice-path-template", "GET", "/api/v1/invoices/{{7*7}}", None, (404, "not_found")),
    api(
        "invoice-line-huge-position",
        "GET",
        f"/api/v1/invoices/{uuid.uuid4()}/lines/{'9' * 40}/outcomes",
        None,
        (404, "not_found"),
    ),
    api(
        "delivery-path-sql",
        "GET",
        "/api/v1/webhook-sources/{source_id}/deliveries/" + SQL,
        None,
        (404, "not_found"),
    ),
    api(
        "customer-dispute-reason-long",
        "POST",
        "/api/v1/customer/outcomes/{outcome_id}/dispute",
        {"reason": LONG},
        V400,
        auth="customer",
    ),
    api(
        "customer-attest-string",
        "POST",
        "/api/v1/customer/outcomes/{outcome_id}/attest",
        {"attested": "yes please"},
        (404, "not_sampled"),  # the outcome must be sampled first
        auth="customer",
    ),
    api(
        "customer-dispute-nul-reason",
        "POST",
        "/api/v1/customer/outcomes/{outcome_id}/dispute",
        {"reason": "\u0000"},
        M400,
        auth="customer",
    ),
    # --- the API: authentication and authorization ---
    api("auth-missing", "POST", CUSTOMERS, customer(), (401, "not_authenticated"), auth="none"),
    api(
        "auth-basic",
        "GET",
        CUSTOMERS,
        None,
        (401, "authentication_failed"),
        auth="header:Basic YWRtaW46YWRtaW4=",
    ),
    api("auth-bearer-empty", "GET", CUSTOMERS, None, (401, "authentication_failed"), auth="header:Bearer "),
    api(
        "auth-bearer-sql",
        "GET",
        CUSTOMERS,
        None,
        (401, "authentication_failed"),
        auth=f"header:Bearer vrt_{SQL}",
    ),
    api(
        "auth-bearer-nul",
        "GET",
        CUSTOMERS,
        None,
        (401, "authentication_failed"),
        auth="header:Bearer vrt_\x00\x00_x",
    ),
    api(
        "auth-bearer-huge",
        "GET",
        CUSTOMERS,
        None,
        (401, "authentication_failed"),
        auth="header:Bearer vrt_" + "a" * 10_000,
    ),
    api(
        "auth-bearer-wrong-secret",
        "GET",
        CUSTOMERS,
        None,
        (401, "authentication_failed"),
        auth="header:Bearer vrt_0123456789ab_wrong",
    ),
    api("auth-read-only-writes", "POST", CUSTOMERS, customer(), (403, "permission_denied"), auth="readonly"),
    api(
        "auth-customer-key-on-vendor-api", "GET", CUSTOMERS, None, (403, "permission_denied"), auth="customer"
    ),
    api(
        "auth-vendor-key-on-customer-api",
        "GET",
        "/api/v1/customer/outcomes",
        None,
        (403, "permission_denied"),
    ),
    # --- the signed webhook: authenticity ---
    hook("hook-unsigned", signed_event(), (401, "missing_signature_headers"), auth="none"),
    hook("hook-wrong-secret", signed_event(), (401, "invalid_signature"), auth="wrong-secret"),
    hook(
        "hook-signature-garbage",
        signed_event(),
        (401, "invalid_signature"),
        extra={"HTTP_WEBHOOK_SIGNATURE": "v1,!!!" + SQL},
    ),
    hook("hook-timestamp-old", signed_event(), (401, "timestamp_too_old"), auth="signed-old"),
    hook("hook-timestamp-future", signed_event(), (401, "timestamp_too_new"), auth="signed-future"),
    hook("hook-timestamp-text", signed_event(), (401, "invalid_timestamp"), auth="signed-text-timestamp"),
    hook(
        "hook-source-not-uuid",
        signed_event(),
        (404, "unknown_source"),
        extra={"path": "/webhooks/v1/sources/" + SQL.replace(" ", "%20") + "/events"},
    ),
    hook(
        "hook-source-unknown",
        signed_event(),
        (404, "unknown_source"),
        extra={"path": f"/webhooks/v1/sources/{uuid.uuid4()}/events"},
    ),
    hook(
        "hook-source-template",
        signed_event(),
        (404, "unknown_source"),
        extra={"path": "/webhooks/v1/sources/{{7*7}}/events"},
    ),
    Case("hook-get", "GET", WEBHOOK, b"", 405, "method_not_allowed", auth="signed"),
    # --- the signed webhook: bodies ---
    hook("hook-truncated-json", b'{"id": "e1", ', M400),
    hook("hook-nan", b'{"id": NaN}', M400),
    hook("hook-infinity-amount", signed_raw('"v": Infinity, '), M400),
    hook(
        "hook-1e400-amount",
        lambda ids: (
            json.dumps(event(value={"amount_minor": 1, "currency": "USD"}))
            .replace('"amount_minor": 1', '"amount_minor": 1e400')
            .encode()
        ),
        M400,
    ),
    hook("hook-deep", deep(2_000), M400),
    hook("hook-deep-evidence", signed_raw('"deep": ' + deep(600).decode() + ", "), BAD_EVENT),
    hook("hook-lone-surrogate", signed_raw('"s": "\\ud800", '), M400),
    # Signed over its raw bytes, so authentic: the body itself is what is wrong.
    hook("hook-invalid-utf8", b'{"id": "\xff\xfe"}', M400),
    # The test client sends no content-type with an empty body.
    hook("hook-empty", b"", (415, "unsupported_media_type")),
    hook("hook-array", b"[]", (400, "invalid_body")),
    hook("hook-string", b'"event"', (400, "invalid_body")),
    hook("hook-null", b"null", (400, "invalid_body")),
    hook("hook-batch-empty", {"events": []}, (400, "invalid_batch")),
    hook("hook-batch-object", {"events": {"0": {}}}, (400, "invalid_batch")),
    hook("hook-batch-extra-key", lambda ids: {"events": [event()], "admin": True}, (400, "invalid_batch")),
    hook(
        "hook-batch-1001",
        lambda ids: {"events": [event() for _ in range(settings.WEBHOOK_MAX_BATCH_EVENTS + 1)]},
        (413, "too_many_events"),
    ),
    hook(
        "hook-batch-all-rejected",
        lambda ids: {"events": [event(kind="bogus"), event(contract=SQL)]},
        (422, "all_events_rejected"),
    ),
    hook(
        "hook-body-over-limit",
        lambda ids: json.dumps(event(evidence={"blob": "x" * settings.WEBHOOK_MAX_BODY_BYTES})).encode(),
        (413, "body_too_large"),
    ),
    hook("hook-body-over-django-limit", lambda ids: b" " * (3 * 1024 * 1024), (413, "body_too_large")),
    # --- the signed webhook: one event's fields ---
    hook("event-id-missing", lambda ids: {k: v for k, v in event().items() if k != "id"}, BAD_EVENT),
    hook("event-id-int", signed_event(id=42), BAD_EVENT),
    hook("event-id-201", signed_event(id="e" * 201), BAD_EVENT),
    hook("event-id-nul", signed_event(id="evt\u0000"), BAD_EVENT),
    hook("event-kind-bogus", signed_event(kind="outcome.invented"), BAD_EVENT),
    hook("event-kind-rtl", signed_event(kind="\u202edemialc.emoctuo"), BAD_EVENT),
    hook("event-contract-sql", signed_event(contract=SQL), (422, "unknown_contract")),
    hook("event-contract-template", signed_event(contract=TEMPLATE), (422, "unknown_contract")),
    hook("event-contract-long", signed_event(contract=LONG), BAD_EVENT),
    hook(
        "event-outcome-type-unknown",
        signed_event(outcome_type="ticket.invented"),
        (422, "unknown_outcome_type"),
    ),
    hook("event-outcome-type-list", signed_event(outcome_type=["ticket.resolved"]), BAD_EVENT),
    hook("event-natural-key-nul", signed_event(natural_key="T\u0000"), BAD_EVENT),
    hook("event-natural-key-100k", signed_event(natural_key=LONG), BAD_EVENT),
    hook("event-natural-key-empty", signed_event(natural_key=""), BAD_EVENT),
    hook("event-occurred-feb-30", signed_event(occurred_at="2026-02-30T00:00:00Z"), BAD_EVENT),
    hook("event-occurred-naive", signed_event(occurred_at="2026-01-01T00:00:00"), BAD_EVENT),
    hook("event-occurred-year-1-overflow", signed_event(occurred_at="0001-01-01T00:00:00+23:59"), BAD_EVENT),
    hook("event-occurred-1969", signed_event(occurred_at="1969-12-31T23:59:59Z"), BAD_EVENT),
    hook(
        "event-occurred-far-future",
        signed_event(occurred_at="9999-12-31T23:59:59-23:59"),
        (422, "occurred_in_future"),
    ),
    hook("event-occurred-int", signed_event(occurred_at=1_700_000_000), BAD_EVENT),
    hook("event-amount-negative", signed_event(value={"amount_minor": -1, "currency": "USD"}), BAD_EVENT),
    hook("event-amount-float", signed_event(value={"amount_minor": 1.5, "currency": "USD"}), BAD_EVENT),
    hook("event-amount-huge", signed_event(value={"amount_minor": 10**30, "currency": "USD"}), BAD_EVENT),
    hook("event-amount-2-63", signed_event(value={"amount_minor": 2**63, "currency": "USD"}), BAD_EVENT),
    hook("event-amount-string", signed_event(value={"amount_minor": "100", "currency": "USD"}), BAD_EVENT),
    hook("event-amount-bool", signed_event(value={"amount_minor": True, "currency": "USD"}), BAD_EVENT),
    hook(
        "event-amount-nan",
        lambda ids: (
            json.dumps(event(value={"amount_minor": 1, "currency": "USD"}))
            .replace('"amount_minor": 1', '"amount_minor": NaN')
            .encode()
        ),
        M400,
    ),
    hook("event-currency-lower", signed_event(value={"amount_minor": 1, "currency": "usd"}), BAD_EVENT),
    hook("event-currency-rtl", signed_event(value={"amount_minor": 1, "currency": RTL}), BAD_EVENT),
    hook(
        "event-currency-other",
        signed_event(value={"amount_minor": 1, "currency": "EUR"}),
        (422, "currency_mismatch"),
    ),
    hook("event-evidence-list", signed_event(evidence=[1, 2]), BAD_EVENT),
    hook("event-evidence-101-keys", signed_event(evidence={f"k{i}": i for i in range(101)}), BAD_EVENT),
    hook("event-evidence-nul-value", signed_event(evidence={"status": "solved\u0000"}), BAD_EVENT),
    hook("event-evidence-nul-key", signed_event(evidence={"\u0000": "solved"}), BAD_EVENT),
    hook("event-unknown-field", signed_event(is_billable=True), BAD_EVENT),
    hook("event-parent-key-int", signed_event(parent_key=7), BAD_EVENT),
    # --- Stripe's webhook ---
    stripe("stripe-unsigned", stripe_event(), (400, "invalid_signature"), auth="none"),
    stripe("stripe-wrong-secret", stripe_event(), (400, "invalid_signature"), auth="stripe-wrong-secret"),
    stripe(
        "stripe-signature-garbage",
        stripe_event(),
        (400, "invalid_signature"),
        auth=f"stripe-header:t=1,v1={SQL}",
    ),
    stripe("stripe-not-json", b"{{ not json", (400, "invalid_signature")),
    stripe("stripe-array", [stripe_event()], STRIPE_BAD),
    stripe("stripe-string", "evt", STRIPE_BAD),
    stripe("stripe-empty-object", {}, STRIPE_BAD),
    stripe("stripe-id-int", stripe_event(id=123), STRIPE_BAD),
    stripe("stripe-id-long", stripe_event(id="evt_" + "x" * 300), STRIPE_BAD),
    stripe("stripe-id-nul", stripe_event(id="evt_\u0000"), STRIPE_BAD),
    stripe("stripe-type-object", stripe_event(type={"a": 1}), STRIPE_BAD),
    stripe("stripe-created-string", stripe_event(created="yesterday"), STRIPE_BAD),
    stripe("stripe-created-negative", stripe_event(created=-1), STRIPE_BAD),
    stripe("stripe-created-huge", stripe_event(created=10**20), STRIPE_BAD),
    stripe("stripe-created-float", stripe_event(created=1.5e9), STRIPE_BAD),
    stripe(
        "stripe-created-infinity",
        lambda ids: json.dumps(stripe_event()).replace("1800000000", "1e400").encode(),
        STRIPE_BAD,
    ),
    stripe("stripe-data-list", stripe_event(data=[]), STRIPE_BAD),
    stripe("stripe-object-list", stripe_event(data={"object": []}), STRIPE_BAD),
    stripe("stripe-object-id-object", stripe_event(data={"object": {"id": {"$ne": None}}}), STRIPE_BAD),
    stripe(
        "stripe-nul-in-payload", stripe_event(data={"object": {"id": "in_1", "memo": "\u0000"}}), STRIPE_BAD
    ),
    stripe("stripe-body-over-limit", b" " * (3 * 1024 * 1024), (413, "body_too_large")),
    Case("stripe-get", "GET", STRIPE, b"", 405, "method_not_allowed", auth="stripe"),
]


def send(case: Case, estate: Estate) -> Any:
    ids = estate.ids
    body = encode(case.body, ids)
    path = case.extra.get("path", case.path.format(**ids) if "{{" not in case.path else case.path)
    headers = {k: v for k, v in case.extra.items() if k != "path"}
    ingest = estate.ingest
    msg_id = f"msg_{uuid.uuid4().hex}"
    signing = {
        "signed": lambda: webhook_headers(ingest.secret, body, msg_id=msg_id),
        "wrong-secret": lambda: webhook_headers(ingest.agent_secret, body, msg_id=msg_id),
        "signed-old": lambda: webhook_headers(ingest.secret, body, msg_id=msg_id, at=1_000_000_000),
        "signed-future": lambda: webhook_headers(ingest.secret, body, msg_id=msg_id, at=4_000_000_000),
        "signed-text-timestamp": lambda: (
            webhook_headers(ingest.secret, body, msg_id=msg_id) | {"HTTP_WEBHOOK_TIMESTAMP": "yesterday"}
        ),
        "stripe": lambda: stripe_headers(body),
        "stripe-wrong-secret": lambda: stripe_headers(body, "whsec_someone_else"),
        "vendor": lambda: {"HTTP_AUTHORIZATION": f"Bearer {ingest.api.raw_key}"},
        "readonly": lambda: {"HTTP_AUTHORIZATION": f"Bearer {estate.readonly.raw_key}"},
        "customer": lambda: {"HTTP_AUTHORIZATION": estate.customer_client._credentials["HTTP_AUTHORIZATION"]},  # type: ignore[attr-defined]
        "none": dict,
    }
    if case.auth.startswith("header:"):
        auth = {"HTTP_AUTHORIZATION": case.auth.removeprefix("header:")}
    elif case.auth.startswith("stripe-header:"):
        auth = {"HTTP_STRIPE_SIGNATURE": case.auth.removeprefix("stripe-header:")}
    else:
        auth = signing[case.auth]()
    meta: dict[str, Any] = auth | headers
    return plain_client().generic(case.method, path, body, content_type=case.content_type, **meta)


def test_the_catalogue_holds_at_least_100_requests_with_unique_names() -> None:
    assert len(CATALOGUE) >= 100
    assert len({case.id for case in CATALOGUE}) == len(CATALOGUE)


@pytest.mark.parametrize("case", CATALOGUE, ids=lambda case: case.id)
def test_a_malformed_request_is_a_4xx_in_the_error_shape_and_changes_nothing(
    case: Case, estate: Estate
) -> None:
    before = db_fingerprint()

    response = send(case, estate)

    assert response.status_code < 500
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert {"status", "code", "message", "field_errors"} <= set(body), body
    assert (response.status_code, body["status"], body["code"]) == (case.status, case.status, case.code), body
    assert isinstance(body["message"], str)
    assert body["message"]
    assert db_fingerprint() == before

"""The contracts endpoints: drafts, their terms and versions, amendments, the lifecycle and the version in force."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine

from contracts.models import AuditEntry, Contract, ContractStatus, ContractVersion, Customer, OutcomeType
from contracts.services.contracts import (
    contract_activate,
    contract_amend,
    contract_suspend,
    contract_terminate,
)
from contracts.terms import Amendment, parse
from outcomes.rules.policy import VerificationPolicy
from tests.factories import (
    CustomerFactory,
    amendment_payload,
    contract_create_for,
    contract_payload,
    field_error_codes,
    outcome_type_terms,
    version_terms,
)
from tests.support.vendors import VendorApi

pytestmark = pytest.mark.django_db

NOW = "2026-03-10T12:00:00Z"


def contract_in(status: str, customer: Customer, **overrides: Any) -> Contract:
    """A contract of `customer` brought to `status` through the services, at the current (frozen) time."""
    contract = contract_create_for(customer, **overrides)
    if status != ContractStatus.DRAFT:
        contract_activate(contract=contract, actor="system")
    if status == ContractStatus.SUSPENDED:
        contract_suspend(contract=contract, actor="system")
    if status == ContractStatus.TERMINATED:
        contract_terminate(contract=contract, actor="system")
    contract.refresh_from_db()
    return contract


def with_pricing(pricing: dict[str, Any], **outcome_type: Any) -> dict[str, Any]:
    return version_terms(outcome_types=[outcome_type_terms(pricing=pricing, **outcome_type)])


@pytest.fixture
def customer(vendor_api: VendorApi) -> Customer:
    return CustomerFactory.create(vendor=vendor_api.vendor, external_ref="acme")


# --- create ---------------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_create_returns_a_draft_with_its_first_version(vendor_api: VendorApi, customer: Customer) -> None:
    response = vendor_api.client.post("/api/v1/contracts", contract_payload(customer), format="json")

    assert response.status_code == 201
    contract = Contract.objects.get()
    assert response.json() == {
        "id": str(contract.pk),
        "reference": "CTR-acme",
        "customer_id": str(customer.pk),
        "status": "draft",
        "currency": "USD",
        "timezone": "America/New_York",
        "period_unit": "month",
        "period_count": 1,
        "anchor_day": 1,
        "starts_at": "2026-01-01T05:00:00Z",
        "ends_at": None,
        "collection_method": "charge_automatically",
        "days_until_due": None,
        "credit_after_payment": "customer_balance",
        "withhold_credits_while_overdue": True,
        "grace_period_hours": 72,
        "approval_threshold_minor": None,
        "activated_at": None,
        "terminated_at": None,
        "created_at": "2026-03-10T12:00:00Z",
        "updated_at": "2026-03-10T12:00:00Z",
        "versions": [
            {
                "number": 1,
                "effective_from": "2026-01-01T05:00:00Z",
                "locked": False,
                "platform_fee_minor": 50_000,
                "minimum_commitment_minor": 0,
                "cap_amount_minor": None,
                "budget_alert_percents": [80, 95],
                "notes": "",
                "outcome_types": [
                    {
                        "key": "ticket.resolved",
                        "description": "A support ticket resolved by the agent",
                        "natural_key_field": "ticket_id",
                        "billing_basis": "per_outcome",
                        "pricing": {"model": "per_unit", "unit_price": "0.9"},
                        "free_units": 0,
                        "cap_units": None,
                        "cap_amount_minor": None,
                        "verification_policy": VerificationPolicy().model_dump(mode="json"),
                    }
                ],
                "created_at": "2026-03-10T12:00:00Z",
            }
        ],
    }
    assert contract.vendor == vendor_api.vendor
    assert AuditEntry.objects.filter(action="contract.created", object_id=str(contract.pk)).count() == 1


def test_create_upper_cases_the_currency(vendor_api: VendorApi, customer: Customer) -> None:
    response = vendor_api.client.post(
        "/api/v1/contracts", contract_payload(customer, currency="eur"), format="json"
    )

    assert response.status_code == 201
    assert response.json()["currency"] == "EUR"
    assert Contract.objects.get().currency == "EUR"


@pytest.mark.parametrize(
    ("timezone", "starts_at", "ends_at", "expected_start", "expected_end"),
    [
        ("America/New_York", "2026-01-01", "2026-07-01", "2026-01-01T05:00:00Z", "2026-07-01T04:00:00Z"),
        ("Europe/Berlin", "2026-07-01", "2027-01-01", "2026-06-30T22:00:00Z", "2026-12-31T23:00:00Z"),
        ("Asia/Kolkata", "2026-04-01", None, "2026-03-31T18:30:00Z", None),
        ("Europe/Berlin", "2026-04-01T00:00:00+09:00", None, "2026-03-31T15:00:00Z", None),
    ],
    ids=["new-york-dst-end", "berlin-summer-start", "kolkata-half-hour", "explicit-offset-wins"],
)
def test_a_date_means_local_midnight_in_the_contract_time_zone(
    vendor_api: VendorApi,
    customer: Customer,
    timezone: str,
    starts_at: str,
    ends_at: str | None,
    expected_start: str,
    expected_end: str | None,
) -> None:
    payload = contract_payload(customer, timezone=timezone, starts_at=starts_at, ends_at=ends_at)

    response = vendor_api.client.post("/api/v1/contracts", payload, format="json")

    assert response.status_code == 201
    assert (response.json()["starts_at"], response.json()["ends_at"]) == (expected_start, expected_end)
    assert response.json()["versions"][0]["effective_from"] == expected_start


def test_send_invoice_with_days_until_due_is_accepted(vendor_api: VendorApi, customer: Customer) -> None:
    payload = contract_payload(customer, collection_method="send_invoice", days_until_due=30)

    response = vendor_api.client.post("/api/v1/contracts", payload, format="json")

    assert response.status_code == 201
    assert (response.json()["collection_method"], response.json()["days_until_due"]) == ("send_invoice", 30)


TIERS_OVERLAPPING = [
    {"up_to": 100, "unit_price": "1.00"},
    {"up_to": 50, "unit_price": "0.50"},
    {"up_to": None, "unit_price": "0.10"},
]
TIERS_REPEATED = [
    {"up_to": 100, "unit_price": "1.00"},
    {"up_to": 100, "unit_price": "0.50"},
    {"up_to": None, "unit_price": "0.10"},
]


@pytest.mark.parametrize(
    ("overrides", "expected_field_errors"),
    [
        (
            {"terms": with_pricing({"model": "graduated", "tiers": TIERS_OVERLAPPING})},
            {"terms.outcome_types[0].pricing.tiers": ["tiers_not_increasing"]},
        ),
        (
            {"terms": with_pricing({"model": "volume", "tiers": TIERS_REPEATED})},
            {"terms.outcome_types[0].pricing.tiers": ["tiers_not_increasing"]},
        ),
        (
            {"terms": with_pricing({"model": "per_unit", "unit_price": "-0.01"})},
            {"terms.outcome_types[0].pricing.unit_price": ["greater_than_equal"]},
        ),
        (
            {"terms": with_pricing({"model": "per_unit", "unit_price": 0.9})},
            {"terms.outcome_types[0].pricing.unit_price": ["decimal_as_string"]},
        ),
        (
            {"terms": with_pricing({"model": "percentage", "percent": "100.5"})},
            {"terms.outcome_types[0].pricing.percent": ["less_than_equal"]},
        ),
        (
            {"terms": with_pricing({"model": "percentage", "percent": "0"})},
            {"terms.outcome_types[0].pricing.percent": ["greater_than"]},
        ),
        (
            {"terms": with_pricing({"model": "percentage", "percent": "-5"})},
            {"terms.outcome_types[0].pricing.percent": ["greater_than"]},
        ),
        ({"terms": {"outcome_types": []}}, {"terms.outcome_types": ["too_short"]}),
        ({"terms": None}, {"terms": ["required"]}),
        ({"currency": "XYZ"}, {"currency": ["unknown_currency"]}),
        ({"currency": "IQD"}, {"currency": ["currency_not_supported"]}),
        ({"timezone": "Mars/Olympus"}, {"timezone": ["unknown_timezone"]}),
        ({"starts_at": "2026-01-01T00:00:00"}, {"starts_at": ["naive_datetime"]}),
        ({"starts_at": "2026-02-30"}, {"starts_at": ["date_parsing"]}),
        ({"ends_at": "2025-12-31"}, {"non_field_errors": ["end_before_start"]}),
        ({"ends_at": "2026-01-01"}, {"non_field_errors": ["end_before_start"]}),
        ({"collection_method": "send_invoice"}, {"non_field_errors": ["days_until_due_required"]}),
        ({"days_until_due": 30}, {"non_field_errors": ["days_until_due_not_allowed"]}),
        ({"period_count": 13}, {"period_count": ["less_than_equal"]}),
        ({"reference": ""}, {"reference": ["string_too_short"]}),
        ({"starts_at": "0001-01-01", "timezone": "Asia/Tokyo"}, {"starts_at": ["instant_out_of_range"]}),
        ({"starts_at": "0001-01-01T00:00:00+05:00"}, {"starts_at": ["instant_out_of_range"]}),
        ({"ends_at": "9999-12-31T23:00:00-05:00"}, {"ends_at": ["instant_out_of_range"]}),
        ({"starts_at": "9999-12-31"}, {"starts_at": ["date_out_of_range"]}),
        ({"starts_at": "1999-12-31"}, {"starts_at": ["date_out_of_range"]}),
        ({"ends_at": "2100-01-01T00:00:00Z"}, {"ends_at": ["date_out_of_range"]}),
        (
            {"terms": with_pricing({"model": "per_unit", "unit_price": "1E2"})},
            {"terms.outcome_types[0].pricing.unit_price": ["invalid_decimal"]},
        ),
        (
            {"terms": with_pricing({"model": "per_unit", "unit_price": " 1"})},
            {"terms.outcome_types[0].pricing.unit_price": ["invalid_decimal"]},
        ),
        (
            {"terms": with_pricing({"model": "package", "package_size": 10, "package_price": "1e+2"})},
            {"terms.outcome_types[0].pricing.package_price": ["invalid_decimal"]},
        ),
        (
            {
                "terms": with_pricing(
                    {"model": "volume", "tiers": [{"up_to": None, "unit_price": "1", "flat_fee": "2E1"}]}
                )
            },
            {"terms.outcome_types[0].pricing.tiers[0].flat_fee": ["invalid_decimal"]},
        ),
    ],
    ids=[
        "tiers-overlapping",
        "tiers-repeated-bound",
        "negative-price",
        "float-price",
        "percent-above-100",
        "percent-zero",
        "percent-negative",
        "no-outcome-types",
        "terms-missing",
        "unknown-currency",
        "currency-stripe-cannot-charge",
        "unknown-timezone",
        "naive-start",
        "impossible-date",
        "end-before-start",
        "end-equals-start",
        "send-invoice-without-days",
        "days-without-send-invoice",
        "period-count-too-large",
        "empty-reference",
        "date-whose-midnight-precedes-year-1-in-utc",
        "instant-before-year-1-in-utc",
        "instant-after-year-9999-in-utc",
        "start-in-year-9999",
        "start-before-2000",
        "end-after-2099",
        "price-with-exponent",
        "price-with-leading-space",
        "package-price-with-exponent",
        "flat-fee-with-exponent",
    ],
)
def test_create_with_invalid_input_is_400_on_the_faulty_field_and_creates_nothing(
    vendor_api: VendorApi,
    customer: Customer,
    overrides: dict[str, Any],
    expected_field_errors: dict[str, list[str]],
) -> None:
    response = vendor_api.client.post(
        "/api/v1/contracts", contract_payload(customer, **overrides), format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field_error_codes(response.json()) == expected_field_errors
    assert not Contract.objects.exists()
    assert not ContractVersion.objects.exists()
    assert not AuditEntry.objects.filter(action="contract.created").exists()


def test_create_reports_header_and_terms_errors_in_one_answer(
    vendor_api: VendorApi, customer: Customer
) -> None:
    payload = contract_payload(
        customer, currency="XYZ", terms=with_pricing({"model": "per_unit", "unit_price": "a lot"})
    )
    del payload["timezone"]

    response = vendor_api.client.post("/api/v1/contracts", payload, format="json")

    assert response.status_code == 400
    assert response.json()["message"] == "The request has 3 invalid fields."
    assert field_error_codes(response.json()) == {
        "currency": ["unknown_currency"],
        "timezone": ["missing"],
        "terms.outcome_types[0].pricing.unit_price": ["decimal_parsing"],
    }


def test_create_for_an_unknown_customer_is_400_on_customer_id(vendor_api: VendorApi) -> None:
    stranger = CustomerFactory.build(vendor=vendor_api.vendor)

    response = vendor_api.client.post("/api/v1/contracts", contract_payload(stranger), format="json")

    assert response.status_code == 400
    assert response.json() == {
        "status": 400,
        "code": "validation_error",
        "message": "No such customer.",
        "field_errors": {"customer_id": [{"code": "not_found", "message": "No such customer."}]},
    }
    assert not Contract.objects.exists()


def test_create_with_a_reference_already_used_is_409(vendor_api: VendorApi, customer: Customer) -> None:
    contract_create_for(customer, reference="MSA-1")

    response = vendor_api.client.post(
        "/api/v1/contracts", contract_payload(customer, reference="MSA-1"), format="json"
    )

    assert response.status_code == 409
    assert response.json() == {
        "status": 409,
        "code": "duplicate_reference",
        "message": "A contract with reference 'MSA-1' already exists.",
        "field_errors": {
            "reference": [{"code": "duplicate", "message": "Already used by another contract."}]
        },
    }
    assert Contract.objects.count() == 1
    assert ContractVersion.objects.count() == 1


# --- list and read --------------------------------------------------------------------------


@pytest.fixture
def portfolio(vendor_api: VendorApi) -> dict[str, Customer]:
    """Five contracts of one vendor, in different states, currencies and time windows."""
    acme = CustomerFactory.create(vendor=vendor_api.vendor, external_ref="acme")
    globex = CustomerFactory.create(vendor=vendor_api.vendor, external_ref="globex")
    with time_machine.travel(NOW, tick=False):
        contract_in(ContractStatus.DRAFT, acme, reference="DRAFT")
        contract_in(ContractStatus.ACTIVE, acme, reference="ACTIVE")
        contract_in(ContractStatus.SUSPENDED, acme, reference="SUSPENDED", currency="GBP")
        contract_in(
            ContractStatus.ACTIVE,
            globex,
            reference="EUR-JANUARY",
            currency="EUR",
            timezone="Europe/Berlin",
            ends_at="2026-02-01",
        )
        contract_in(ContractStatus.ACTIVE, globex, reference="FROM-JUNE", starts_at="2026-06-01")
    return {"acme": acme, "globex": globex}


LIST_FILTERS: list[tuple[dict[str, str], set[str]]] = [
    ({}, {"DRAFT", "ACTIVE", "SUSPENDED", "EUR-JANUARY", "FROM-JUNE"}),
    ({"status": "active"}, {"ACTIVE", "EUR-JANUARY", "FROM-JUNE"}),
    ({"status": "suspended"}, {"SUSPENDED"}),
    ({"status": "terminated"}, set()),
    ({"customer_id": "globex"}, {"EUR-JANUARY", "FROM-JUNE"}),
    ({"currency": "eur"}, {"EUR-JANUARY"}),
    ({"currency": "GBP"}, {"SUSPENDED"}),
    ({"reference": "ACTIVE"}, {"ACTIVE"}),
    ({"in_force_at": "2025-12-31T00:00:00Z"}, set()),
    ({"in_force_at": "2026-01-15T00:00:00Z"}, {"ACTIVE", "SUSPENDED", "EUR-JANUARY"}),
    ({"in_force_at": "2026-01-31T22:59:59Z"}, {"ACTIVE", "SUSPENDED", "EUR-JANUARY"}),
    ({"in_force_at": "2026-01-31T23:00:00Z"}, {"ACTIVE", "SUSPENDED"}),  # EUR-JANUARY ended: Berlin midnight
    ({"in_force_at": "2026-06-01T04:00:00Z"}, {"ACTIVE", "SUSPENDED", "FROM-JUNE"}),  # New York midnight
    ({"status": "active", "customer_id": "acme"}, {"ACTIVE"}),
]


def test_list_filters(vendor_api: VendorApi, portfolio: dict[str, Customer]) -> None:
    answers: dict[str, set[str]] = {}
    for filters, _ in LIST_FILTERS:
        query = {**filters}
        if "customer_id" in query:
            query["customer_id"] = str(portfolio[query["customer_id"]].pk)
        response = vendor_api.client.get("/api/v1/contracts", query)
        assert response.status_code == 200, filters
        answers[repr(filters)] = {c["reference"] for c in response.json()["results"]}

    assert answers == {repr(filters): expected for filters, expected in LIST_FILTERS}


@pytest.mark.parametrize(
    ("filters", "expected_field_errors"),
    [
        ({"status": "expired"}, {"status": ["invalid_choice"]}),
        ({"customer_id": "acme"}, {"customer_id": ["invalid"]}),
        ({"currency": "EURO"}, {"currency": ["max_length"]}),
        ({"in_force_at": "yesterday"}, {"in_force_at": ["invalid"]}),
    ],
)
def test_list_with_a_bad_filter_value_is_400(
    vendor_api: VendorApi, filters: dict[str, str], expected_field_errors: dict[str, list[str]]
) -> None:
    response = vendor_api.client.get("/api/v1/contracts", filters)

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field_error_codes(response.json()) == expected_field_errors


def test_retrieve_returns_the_contract_with_its_versions(vendor_api: VendorApi, customer: Customer) -> None:
    contract = contract_create_for(customer)
    contract_amend(
        contract=contract, amendment=parse(Amendment, amendment_payload("2026-02-01")), actor="system"
    )

    response = vendor_api.client.get(f"/api/v1/contracts/{contract.pk}")

    assert response.status_code == 200
    assert response.json()["id"] == str(contract.pk)
    assert [v["number"] for v in response.json()["versions"]] == [1, 2]


def test_retrieve_an_unknown_contract_is_404(vendor_api: VendorApi) -> None:
    response = vendor_api.client.get("/api/v1/contracts/not-a-uuid")

    assert response.status_code == 404
    assert response.json() == {
        "status": 404,
        "code": "not_found",
        "message": "No such contract.",
        "field_errors": {},
    }


# --- update a draft -------------------------------------------------------------------------


def test_patch_a_draft_changes_its_fields_and_moves_the_first_version(
    vendor_api: VendorApi, customer: Customer
) -> None:
    contract = contract_create_for(customer)

    with time_machine.travel(NOW, tick=False):
        response = vendor_api.client.patch(
            f"/api/v1/contracts/{contract.pk}",
            {"reference": "MSA-2026", "timezone": "Europe/Berlin", "starts_at": "2026-02-01"},
            format="json",
        )

    assert response.status_code == 200
    body = response.json()
    assert (body["reference"], body["timezone"], body["starts_at"]) == (
        "MSA-2026",
        "Europe/Berlin",
        "2026-01-31T23:00:00Z",
    )
    assert body["updated_at"] == "2026-03-10T12:00:00Z"
    assert body["versions"][0]["effective_from"] == "2026-01-31T23:00:00Z"
    audit = AuditEntry.objects.get(action="contract.updated")
    assert audit.details == {"fields": ["reference", "starts_at", "timezone"]}


def test_patch_an_active_contract_is_409_contract_not_draft(
    vendor_api: VendorApi, customer: Customer
) -> None:
    contract = contract_in(ContractStatus.ACTIVE, customer)

    response = vendor_api.client.patch(
        f"/api/v1/contracts/{contract.pk}", {"reference": "RENAMED"}, format="json"
    )

    assert response.status_code == 409
    assert response.json() == {
        "status": 409,
        "code": "contract_not_draft",
        "message": "Only a draft contract can be edited; amend an active one with a new version.",
        "field_errors": {},
    }
    contract.refresh_from_db()
    assert contract.reference == "CTR-acme"
    assert not AuditEntry.objects.filter(action="contract.updated").exists()


@pytest.mark.parametrize(
    ("body", "expected_field_errors"),
    [
        ({"terms": version_terms()}, {"terms": ["extra_forbidden"]}),
        ({"status": "active"}, {"status": ["extra_forbidden"]}),
        ({"currency": "XYZ"}, {"currency": ["unknown_currency"]}),
        ({"currency": "IQD"}, {"currency": ["currency_not_supported"]}),
        ({"ends_at": "2025-06-01"}, {"non_field_errors": ["end_before_start"]}),
    ],
)
def test_patch_a_draft_with_invalid_fields_is_400_and_changes_nothing(
    vendor_api: VendorApi,
    customer: Customer,
    body: dict[str, Any],
    expected_field_errors: dict[str, list[str]],
) -> None:
    contract = contract_create_for(customer)
    before = Contract.objects.filter(pk=contract.pk).values().get()

    response = vendor_api.client.patch(f"/api/v1/contracts/{contract.pk}", body, format="json")

    assert response.status_code == 400
    assert field_error_codes(response.json()) == expected_field_errors
    assert Contract.objects.filter(pk=contract.pk).values().get() == before


def test_patch_to_a_reference_already_used_is_409(vendor_api: VendorApi, customer: Customer) -> None:
    contract_create_for(customer, reference="TAKEN")
    contract = contract_create_for(customer, reference="MINE")

    response = vendor_api.client.patch(
        f"/api/v1/contracts/{contract.pk}", {"reference": "TAKEN"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_reference"
    contract.refresh_from_db()
    assert contract.reference == "MINE"


# --- versions: read and replace -------------------------------------------------------------


def test_versions_list_and_retrieve(vendor_api: VendorApi, customer: Customer) -> None:
    contract = contract_create_for(customer)
    contract_amend(
        contract=contract,
        amendment=parse(Amendment, amendment_payload("2026-02-01", platform_fee_minor=0)),
        actor="system",
    )

    listed = vendor_api.client.get(f"/api/v1/contracts/{contract.pk}/versions")
    second = vendor_api.client.get(f"/api/v1/contracts/{contract.pk}/versions/2")
    missing = vendor_api.client.get(f"/api/v1/contracts/{contract.pk}/versions/3")

    assert listed.status_code == 200
    assert [(v["number"], v["effective_from"]) for v in listed.json()] == [
        (1, "2026-01-01T05:00:00Z"),
        (2, "2026-02-01T05:00:00Z"),
    ]
    assert second.status_code == 200
    assert (second.json()["number"], second.json()["platform_fee_minor"]) == (2, 0)
    assert missing.status_code == 404
    assert missing.json()["message"] == "Contract CTR-acme has no version 3."


def test_put_replaces_the_terms_of_a_draft_version(vendor_api: VendorApi, customer: Customer) -> None:
    contract = contract_create_for(customer)
    graduated = {
        "model": "graduated",
        "tiers": [{"up_to": 1000, "unit_price": "1.20"}, {"up_to": None, "unit_price": "0.80"}],
    }
    terms = version_terms(
        platform_fee_minor=0,
        outcome_types=[
            outcome_type_terms(key="lead.qualified", natural_key_field="lead_id", pricing=graduated)
        ],
    )

    response = vendor_api.client.put(f"/api/v1/contracts/{contract.pk}/versions/1", terms, format="json")

    assert response.status_code == 200
    assert response.json()["platform_fee_minor"] == 0
    assert [(o["key"], o["pricing"]) for o in response.json()["outcome_types"]] == [
        (
            "lead.qualified",
            {
                "model": "graduated",
                "tiers": [
                    {"up_to": 1000, "unit_price": "1.2", "flat_fee": "0"},
                    {"up_to": None, "unit_price": "0.8", "flat_fee": "0"},
                ],
            },
        )
    ]
    assert list(OutcomeType.objects.values_list("key", flat=True)) == ["lead.qualified"]
    assert AuditEntry.objects.get(action="contract.version_replaced").details == {"version": 1}


def test_prices_are_stored_and_returned_as_plain_digits(vendor_api: VendorApi, customer: Customer) -> None:
    # given a contract whose prices would read "1E+2" and "1E-7" once normalized
    terms = with_pricing({"model": "per_unit", "unit_price": "100.00"})
    terms["outcome_types"].append(
        outcome_type_terms(
            key="lead.qualified",
            pricing={
                "model": "graduated",
                "tiers": [{"up_to": None, "unit_price": "0.0000001", "flat_fee": "50"}],
            },
        )
    )

    # when it is created and read back
    created = vendor_api.client.post(
        "/api/v1/contracts", contract_payload(customer, terms=terms), format="json"
    )
    contract = Contract.objects.get()
    shown = vendor_api.client.get(f"/api/v1/contracts/{contract.pk}/versions/1")

    # then the stored JSON and both answers hold plain digits, never scientific notation
    assert created.status_code == 201
    expected = {
        "ticket.resolved": {"model": "per_unit", "unit_price": "100"},
        "lead.qualified": {
            "model": "graduated",
            "tiers": [{"up_to": None, "unit_price": "0.0000001", "flat_fee": "50"}],
        },
    }
    assert dict(OutcomeType.objects.values_list("key", "pricing")) == expected
    assert {o["key"]: o["pricing"] for o in shown.json()["outcome_types"]} == expected


def test_pricing_stored_in_scientific_notation_is_returned_as_plain_digits(
    vendor_api: VendorApi, customer: Customer
) -> None:
    # given pricing stored before prices were kept plain
    contract = contract_create_for(customer)
    OutcomeType.objects.update(pricing={"model": "per_unit", "unit_price": "1E+2"})

    # when the version is read
    response = vendor_api.client.get(f"/api/v1/contracts/{contract.pk}/versions/1")

    # then the price reads as plain digits, and the stored row is not rewritten by a read
    assert response.status_code == 200
    assert response.json()["outcome_types"][0]["pricing"] == {"model": "per_unit", "unit_price": "100"}
    assert OutcomeType.objects.get().pricing == {"model": "per_unit", "unit_price": "1E+2"}


def test_put_invalid_terms_is_400_with_paths_inside_the_terms(
    vendor_api: VendorApi, customer: Customer
) -> None:
    contract = contract_create_for(customer)

    response = vendor_api.client.put(
        f"/api/v1/contracts/{contract.pk}/versions/1",
        with_pricing({"model": "graduated", "tiers": TIERS_OVERLAPPING}),
        format="json",
    )

    assert response.status_code == 400
    assert field_error_codes(response.json()) == {"outcome_types[0].pricing.tiers": ["tiers_not_increasing"]}
    assert list(OutcomeType.objects.values_list("pricing", flat=True)) == [
        {"model": "per_unit", "unit_price": "0.9"}
    ]


def test_put_an_unknown_version_is_404(vendor_api: VendorApi, customer: Customer) -> None:
    contract = contract_create_for(customer)

    response = vendor_api.client.put(
        f"/api/v1/contracts/{contract.pk}/versions/2", version_terms(), format="json"
    )

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert ContractVersion.objects.count() == 1


@pytest.mark.parametrize(
    "status", [ContractStatus.ACTIVE, ContractStatus.SUSPENDED, ContractStatus.TERMINATED]
)
def test_put_after_activation_is_409_version_locked(
    vendor_api: VendorApi, customer: Customer, status: str
) -> None:
    contract = contract_in(status, customer)

    response = vendor_api.client.put(
        f"/api/v1/contracts/{contract.pk}/versions/1", version_terms(platform_fee_minor=1), format="json"
    )

    assert response.status_code == 409
    assert response.json() == {
        "status": 409,
        "code": "version_locked",
        "message": "This version is in force or locked and cannot change; add an amendment instead.",
        "field_errors": {},
    }
    assert ContractVersion.objects.get().platform_fee_minor == 50_000


# --- amendments -----------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_amend_an_active_contract_from_a_future_date(vendor_api: VendorApi, customer: Customer) -> None:
    contract = contract_in(ContractStatus.ACTIVE, customer)

    response = vendor_api.client.post(
        f"/api/v1/contracts/{contract.pk}/versions",
        amendment_payload("2026-04-01", platform_fee_minor=75_000),
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["number"], body["effective_from"], body["locked"], body["platform_fee_minor"]) == (
        2,
        "2026-04-01T04:00:00Z",  # local midnight, New York summer time
        True,
        75_000,
    )
    assert AuditEntry.objects.get(action="contract.amended").details == {
        "version": 2,
        "effective_from": "2026-04-01T04:00:00+00:00",
    }


@time_machine.travel(NOW, tick=False)
def test_amend_without_effective_from_takes_effect_now(vendor_api: VendorApi, customer: Customer) -> None:
    contract = contract_in(ContractStatus.ACTIVE, customer)

    response = vendor_api.client.post(
        f"/api/v1/contracts/{contract.pk}/versions", amendment_payload(), format="json"
    )

    assert response.status_code == 201
    assert (response.json()["number"], response.json()["effective_from"]) == (2, "2026-03-10T12:00:00Z")


@time_machine.travel(NOW, tick=False)
def test_amend_a_draft_may_take_effect_in_the_past_and_stays_editable(
    vendor_api: VendorApi, customer: Customer
) -> None:
    contract = contract_in(ContractStatus.DRAFT, customer)

    response = vendor_api.client.post(
        f"/api/v1/contracts/{contract.pk}/versions", amendment_payload("2026-02-01"), format="json"
    )

    assert response.status_code == 201
    assert (response.json()["effective_from"], response.json()["locked"]) == ("2026-02-01T05:00:00Z", False)


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(
    ("status", "effective_from", "code"),
    [
        (ContractStatus.ACTIVE, "2026-03-10T11:59:59Z", "in_past"),
        (ContractStatus.SUSPENDED, "2026-03-01", "in_past"),
        (ContractStatus.DRAFT, "2025-12-31", "before_start"),
        (ContractStatus.DRAFT, "2026-01-01T05:00:00Z", "not_after_latest_version"),
        (ContractStatus.ACTIVE, "2026-05-01", "not_after_latest_version"),
        (ContractStatus.ACTIVE, "2026-04-15", "not_after_latest_version"),
        (ContractStatus.ACTIVE, "2027-01-01", "after_end"),
    ],
    ids=[
        "active-in-past",
        "suspended-in-past",
        "draft-before-start",
        "draft-same-instant-as-v1",
        "same-instant-as-latest",
        "before-latest",
        "at-end",
    ],
)
def test_amend_at_a_refused_instant_is_400_on_effective_from(
    vendor_api: VendorApi, customer: Customer, status: str, effective_from: str, code: str
) -> None:
    contract = contract_in(status, customer, ends_at="2027-01-01")
    if code == "not_after_latest_version" and status == ContractStatus.ACTIVE:
        contract_amend(
            contract=contract, amendment=parse(Amendment, amendment_payload("2026-05-01")), actor="system"
        )
    versions_before = ContractVersion.objects.count()

    response = vendor_api.client.post(
        f"/api/v1/contracts/{contract.pk}/versions", amendment_payload(effective_from), format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field_error_codes(response.json()) == {"effective_from": [code]}
    assert ContractVersion.objects.count() == versions_before
    assert not AuditEntry.objects.filter(action="contract.amended", actor__startswith="api_key:").exists()


def test_amend_with_invalid_terms_is_400_with_paths_under_terms(
    vendor_api: VendorApi, customer: Customer
) -> None:
    contract = contract_in(ContractStatus.DRAFT, customer)

    response = vendor_api.client.post(
        f"/api/v1/contracts/{contract.pk}/versions",
        {"effective_from": "2026-02-01", "terms": with_pricing({"model": "per_unit", "unit_price": 1.5})},
        format="json",
    )

    assert response.status_code == 400
    assert field_error_codes(response.json()) == {
        "terms.outcome_types[0].pricing.unit_price": ["decimal_as_string"]
    }
    assert ContractVersion.objects.count() == 1


def test_amend_at_an_instant_beyond_year_9999_in_utc_is_400_not_500(
    vendor_api: VendorApi, customer: Customer
) -> None:
    contract = contract_in(ContractStatus.DRAFT, customer)

    response = vendor_api.client.post(
        f"/api/v1/contracts/{contract.pk}/versions",
        amendment_payload("9999-12-31T23:00:00-05:00"),
        format="json",
    )

    assert response.status_code == 400
    assert field_error_codes(response.json()) == {"effective_from": ["instant_out_of_range"]}
    assert ContractVersion.objects.count() == 1


def test_amend_effective_in_year_9999_is_400_date_out_of_range(
    vendor_api: VendorApi, customer: Customer
) -> None:
    contract = contract_in(ContractStatus.ACTIVE, customer)

    response = vendor_api.client.post(
        f"/api/v1/contracts/{contract.pk}/versions", amendment_payload("9999-12-31"), format="json"
    )

    assert response.status_code == 400
    assert field_error_codes(response.json()) == {"effective_from": ["date_out_of_range"]}
    assert ContractVersion.objects.count() == 1


def test_amend_a_terminated_contract_is_409(vendor_api: VendorApi, customer: Customer) -> None:
    contract = contract_in(ContractStatus.TERMINATED, customer)

    response = vendor_api.client.post(
        f"/api/v1/contracts/{contract.pk}/versions", amendment_payload("2030-01-01"), format="json"
    )

    assert response.status_code == 409
    assert response.json() == {
        "status": 409,
        "code": "contract_terminated",
        "message": "A terminated contract cannot be amended.",
        "field_errors": {},
    }
    assert ContractVersion.objects.count() == 1


# --- the version in force -------------------------------------------------------------------


@pytest.fixture
def amended_contract(customer: Customer) -> Contract:
    """Active since 2026-01-01 (New York), with version 2 from 2026-04-01 local midnight (04:00Z)."""
    with time_machine.travel(NOW, tick=False):
        contract = contract_in(ContractStatus.ACTIVE, customer)
        contract_amend(
            contract=contract, amendment=parse(Amendment, amendment_payload("2026-04-01")), actor="system"
        )
    return contract


@pytest.mark.parametrize(
    ("at", "number"),
    [
        ("2026-01-01T05:00:00Z", 1),
        ("2026-04-01T03:59:59.999999Z", 1),
        ("2026-04-01T04:00:00Z", 2),
        ("2026-04-01T00:00:00-04:00", 2),
        ("2030-01-01T00:00:00Z", 2),
    ],
)
def test_version_in_force_is_the_latest_effective_at_the_instant(
    vendor_api: VendorApi, amended_contract: Contract, at: str, number: int
) -> None:
    response = vendor_api.client.get(f"/api/v1/contracts/{amended_contract.pk}/version-in-force", {"at": at})

    assert response.status_code == 200
    assert response.json()["number"] == number


def test_version_in_force_before_the_start_is_404_not_in_force(
    vendor_api: VendorApi, amended_contract: Contract
) -> None:
    response = vendor_api.client.get(
        f"/api/v1/contracts/{amended_contract.pk}/version-in-force", {"at": "2026-01-01T04:59:59Z"}
    )

    assert response.status_code == 404
    assert response.json() == {
        "status": 404,
        "code": "not_in_force",
        "message": "No version of this contract was in force at that instant.",
        "field_errors": {},
    }


def test_version_in_force_of_a_draft_is_404_not_in_force(vendor_api: VendorApi, customer: Customer) -> None:
    contract = contract_in(ContractStatus.DRAFT, customer)

    response = vendor_api.client.get(
        f"/api/v1/contracts/{contract.pk}/version-in-force", {"at": "2026-02-01T00:00:00Z"}
    )

    assert response.status_code == 404
    assert response.json()["code"] == "not_in_force"


def test_version_in_force_after_termination_is_404_not_in_force(
    vendor_api: VendorApi, customer: Customer
) -> None:
    with time_machine.travel(NOW, tick=False):
        contract = contract_in(ContractStatus.TERMINATED, customer)

    just_before = vendor_api.client.get(
        f"/api/v1/contracts/{contract.pk}/version-in-force", {"at": "2026-03-10T11:59:59Z"}
    )
    at_end = vendor_api.client.get(f"/api/v1/contracts/{contract.pk}/version-in-force", {"at": NOW})

    assert (just_before.status_code, just_before.json()["number"]) == (200, 1)
    assert (at_end.status_code, at_end.json()["code"]) == (404, "not_in_force")


def test_version_in_force_needs_an_instant(vendor_api: VendorApi, amended_contract: Contract) -> None:
    missing = vendor_api.client.get(f"/api/v1/contracts/{amended_contract.pk}/version-in-force")
    malformed = vendor_api.client.get(
        f"/api/v1/contracts/{amended_contract.pk}/version-in-force", {"at": "April"}
    )

    assert (missing.status_code, field_error_codes(missing.json())) == (400, {"at": ["required"]})
    assert (malformed.status_code, field_error_codes(malformed.json())) == (400, {"at": ["invalid"]})


# --- lifecycle ------------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_activate_a_draft_locks_its_versions(vendor_api: VendorApi, customer: Customer) -> None:
    contract = contract_in(ContractStatus.DRAFT, customer)
    contract_amend(
        contract=contract, amendment=parse(Amendment, amendment_payload("2026-02-01")), actor="system"
    )

    response = vendor_api.client.post(f"/api/v1/contracts/{contract.pk}/activate")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["activated_at"]) == ("active", "2026-03-10T12:00:00Z")
    assert [v["locked"] for v in body["versions"]] == [True, True]
    audit = AuditEntry.objects.get(action="contract.active")
    assert (audit.actor, audit.details) == (
        f"api_key:{vendor_api.api_key.prefix}",
        {"from": "draft", "to": "active"},
    )


@time_machine.travel(NOW, tick=False)
def test_suspend_then_resume(vendor_api: VendorApi, customer: Customer) -> None:
    with time_machine.travel("2026-02-01T00:00:00Z", tick=False):
        contract = contract_in(ContractStatus.ACTIVE, customer)

    suspended = vendor_api.client.post(f"/api/v1/contracts/{contract.pk}/suspend")
    resumed = vendor_api.client.post(f"/api/v1/contracts/{contract.pk}/resume")

    assert (suspended.status_code, suspended.json()["status"]) == (200, "suspended")
    assert (resumed.status_code, resumed.json()["status"]) == (200, "active")
    assert resumed.json()["activated_at"] == "2026-02-01T00:00:00Z"
    assert list(
        AuditEntry.objects.filter(actor__startswith="api_key:")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["contract.suspended", "contract.active"]


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("status", [ContractStatus.ACTIVE, ContractStatus.SUSPENDED])
def test_terminate_ends_the_contract_now(vendor_api: VendorApi, customer: Customer, status: str) -> None:
    contract = contract_in(status, customer, ends_at="2027-01-01")

    response = vendor_api.client.post(f"/api/v1/contracts/{contract.pk}/terminate")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["terminated_at"], body["ends_at"]) == (
        "terminated",
        "2026-03-10T12:00:00Z",
        "2026-03-10T12:00:00Z",
    )


@time_machine.travel(NOW, tick=False)
def test_terminate_before_the_start_ends_it_just_after_it_starts(
    vendor_api: VendorApi, customer: Customer
) -> None:
    contract = contract_in(ContractStatus.ACTIVE, customer, starts_at="2026-06-01")

    response = vendor_api.client.post(f"/api/v1/contracts/{contract.pk}/terminate")

    assert response.status_code == 200
    assert (response.json()["starts_at"], response.json()["ends_at"]) == (
        "2026-06-01T04:00:00Z",
        "2026-06-01T04:00:00.000001Z",
    )


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (ContractStatus.ACTIVE, "activate"),
        (ContractStatus.ACTIVE, "resume"),
        (ContractStatus.SUSPENDED, "suspend"),
        (ContractStatus.TERMINATED, "terminate"),
    ],
)
def test_repeating_a_transition_answers_200_and_changes_nothing(
    vendor_api: VendorApi, customer: Customer, status: str, action: str
) -> None:
    contract = contract_in(status, customer)
    before = Contract.objects.filter(pk=contract.pk).values().get()
    audit_count = AuditEntry.objects.count()

    response = vendor_api.client.post(f"/api/v1/contracts/{contract.pk}/{action}")

    assert response.status_code == 200
    assert response.json()["status"] == status
    assert Contract.objects.filter(pk=contract.pk).values().get() == before
    assert AuditEntry.objects.count() == audit_count


@pytest.mark.parametrize(
    ("status", "action", "message"),
    [
        (ContractStatus.DRAFT, "suspend", "A draft contract cannot become suspended."),
        (ContractStatus.DRAFT, "resume", "A draft contract cannot be resumed."),
        (ContractStatus.DRAFT, "terminate", "A draft contract cannot become terminated."),
        (ContractStatus.TERMINATED, "activate", "A terminated contract cannot become active."),
        (ContractStatus.TERMINATED, "suspend", "A terminated contract cannot become suspended."),
        (ContractStatus.TERMINATED, "resume", "A terminated contract cannot be resumed."),
    ],
)
def test_an_invalid_transition_is_409_and_changes_nothing(
    vendor_api: VendorApi, customer: Customer, status: str, action: str, message: str
) -> None:
    contract = contract_in(status, customer)
    before = Contract.objects.filter(pk=contract.pk).values().get()
    audit_count = AuditEntry.objects.count()

    response = vendor_api.client.post(f"/api/v1/contracts/{contract.pk}/{action}")

    assert response.status_code == 409
    assert response.json() == {
        "status": 409,
        "code": "invalid_transition",
        "message": message,
        "field_errors": {},
    }
    assert Contract.objects.filter(pk=contract.pk).values().get() == before
    assert AuditEntry.objects.count() == audit_count

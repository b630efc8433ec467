"""Database constraints: the invariants hold even for writes that bypass the services."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from contracts.models import (
    CollectionMethod,
    Contract,
    ContractVersion,
    Customer,
    CustomerCap,
    OutcomeType,
    Vendor,
)
from tests.factories import CustomerFactory, VendorFactory

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def raw_contract(customer: Customer, **overrides: Any) -> Contract:
    fields: dict[str, Any] = {
        "vendor": customer.vendor,
        "customer": customer,
        "reference": "CTR-1",
        "currency": "USD",
        "timezone": "UTC",
        "starts_at": START,
        **overrides,
    }
    return Contract.objects.create(**fields)


def raw_version(contract: Contract, **overrides: Any) -> ContractVersion:
    fields: dict[str, Any] = {
        "contract": contract,
        "number": 1,
        "effective_from": contract.starts_at,
        **overrides,
    }
    return ContractVersion.objects.create(**fields)


def raw_outcome_type(version: ContractVersion, **overrides: Any) -> OutcomeType:
    fields: dict[str, Any] = {
        "version": version,
        "key": "ticket.resolved",
        "natural_key_field": "ticket_id",
        "billing_basis": "per_outcome",
        "pricing_model": "per_unit",
        "pricing": {"model": "per_unit", "unit_price": "0.9"},
        "verification_policy": {},
        **overrides,
    }
    return OutcomeType.objects.create(**fields)


def refused(create: Any, constraint: str) -> None:
    """The write fails inside its own savepoint, naming the constraint, and leaves nothing behind."""
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        create()


# --- customers ------------------------------------------------------------------------------


def test_customer_external_ref_is_unique_per_vendor() -> None:
    vendor = VendorFactory.create()
    CustomerFactory.create(vendor=vendor, external_ref="acme")

    refused(
        lambda: CustomerFactory.create(vendor=vendor, external_ref="acme"),
        "customer_external_ref_unique_per_vendor",
    )
    assert Customer.objects.filter(vendor=vendor, external_ref="acme").count() == 1


def test_same_customer_external_ref_is_fine_across_vendors() -> None:
    first, second = VendorFactory.create(), VendorFactory.create()
    CustomerFactory.create(vendor=first, external_ref="acme")
    CustomerFactory.create(vendor=second, external_ref="acme")
    assert Customer.objects.filter(external_ref="acme").count() == 2


# --- contracts ------------------------------------------------------------------------------


def test_contract_reference_is_unique_per_vendor() -> None:
    customer = CustomerFactory.create()
    raw_contract(customer, reference="CTR-1")

    refused(lambda: raw_contract(customer, reference="CTR-1"), "contract_reference_unique_per_vendor")
    assert Contract.objects.filter(vendor=customer.vendor).count() == 1


def test_same_contract_reference_is_fine_across_vendors() -> None:
    raw_contract(CustomerFactory.create(), reference="CTR-1")
    raw_contract(CustomerFactory.create(), reference="CTR-1")
    assert Contract.objects.filter(reference="CTR-1").count() == 2


@pytest.mark.parametrize("ends_at", [START, START - dt.timedelta(microseconds=1)])
def test_contract_must_end_after_it_starts(ends_at: dt.datetime) -> None:
    customer = CustomerFactory.create()
    refused(lambda: raw_contract(customer, ends_at=ends_at), "contract_ends_after_start")
    assert not Contract.objects.exists()


def test_contract_ending_one_microsecond_after_start_is_allowed() -> None:
    contract = raw_contract(CustomerFactory.create(), ends_at=START + dt.timedelta(microseconds=1))
    contract.refresh_from_db()
    assert contract.ends_at == START + dt.timedelta(microseconds=1)


def test_ending_a_contract_at_its_start_by_update_is_refused() -> None:
    contract = raw_contract(CustomerFactory.create())
    refused(
        lambda: Contract.objects.filter(pk=contract.pk).update(ends_at=START), "contract_ends_after_start"
    )
    contract.refresh_from_db()
    assert contract.ends_at is None


@pytest.mark.parametrize("anchor_day", [0, 32])
def test_anchor_day_outside_1_to_31_is_refused(anchor_day: int) -> None:
    customer = CustomerFactory.create()
    refused(lambda: raw_contract(customer, anchor_day=anchor_day), "contract_anchor_day_1_31")
    assert not Contract.objects.exists()


@pytest.mark.parametrize("anchor_day", [1, 31])
def test_anchor_day_at_1_and_31_is_allowed(anchor_day: int) -> None:
    contract = raw_contract(CustomerFactory.create(), anchor_day=anchor_day)
    assert Contract.objects.get(pk=contract.pk).anchor_day == anchor_day


@pytest.mark.parametrize("period_count", [0, 13])
def test_period_count_outside_1_to_12_is_refused(period_count: int) -> None:
    customer = CustomerFactory.create()
    refused(lambda: raw_contract(customer, period_count=period_count), "contract_period_count_1_12")


@pytest.mark.parametrize(
    ("collection_method", "days_until_due"),
    [(CollectionMethod.SEND_INVOICE, None), (CollectionMethod.CHARGE_AUTOMATICALLY, 30)],
)
def test_days_until_due_only_and_always_with_send_invoice(
    collection_method: str, days_until_due: int | None
) -> None:
    customer = CustomerFactory.create()
    refused(
        lambda: raw_contract(customer, collection_method=collection_method, days_until_due=days_until_due),
        "contract_days_until_due_iff_send_invoice",
    )
    assert not Contract.objects.exists()


@pytest.mark.parametrize(
    ("collection_method", "days_until_due"),
    [(CollectionMethod.SEND_INVOICE, 0), (CollectionMethod.CHARGE_AUTOMATICALLY, None)],
)
def test_consistent_collection_settings_are_allowed(
    collection_method: str, days_until_due: int | None
) -> None:
    contract = raw_contract(
        CustomerFactory.create(), collection_method=collection_method, days_until_due=days_until_due
    )
    assert Contract.objects.filter(pk=contract.pk).exists()


def test_unknown_status_is_refused() -> None:
    customer = CustomerFactory.create()
    refused(lambda: raw_contract(customer, status="paused"), "contract_status_valid")


# --- versions -------------------------------------------------------------------------------


def test_version_number_is_unique_per_contract() -> None:
    contract = raw_contract(CustomerFactory.create())
    raw_version(contract, number=1)

    refused(
        lambda: raw_version(contract, number=1, effective_from=START + dt.timedelta(days=1)),
        "version_number_unique",
    )
    assert list(contract.versions.values_list("number", flat=True)) == [1]


def test_version_effective_from_is_unique_per_contract() -> None:
    contract = raw_contract(CustomerFactory.create())
    raw_version(contract, number=1)

    refused(lambda: raw_version(contract, number=2, effective_from=START), "version_effective_from_unique")
    assert list(contract.versions.values_list("number", flat=True)) == [1]


def test_same_version_number_and_start_are_fine_across_contracts() -> None:
    customer = CustomerFactory.create()
    first = raw_contract(customer, reference="CTR-1")
    second = raw_contract(customer, reference="CTR-2")
    raw_version(first)
    raw_version(second)
    assert ContractVersion.objects.filter(number=1, effective_from=START).count() == 2


@pytest.mark.parametrize(
    ("field", "value", "constraint"),
    [
        ("platform_fee_minor", -1, "version_platform_fee_gte_0"),
        ("minimum_commitment_minor", -1, "version_minimum_commitment_gte_0"),
        ("cap_amount_minor", 0, "version_cap_amount_gt_0"),
        ("cap_amount_minor", -1, "version_cap_amount_gt_0"),
    ],
)
def test_negative_version_amounts_are_refused(field: str, value: int, constraint: str) -> None:
    contract = raw_contract(CustomerFactory.create())
    refused(lambda: raw_version(contract, **{field: value}), constraint)
    assert not contract.versions.exists()


def test_zero_fees_and_no_cap_are_allowed() -> None:
    version = raw_version(
        raw_contract(CustomerFactory.create()),
        platform_fee_minor=0,
        minimum_commitment_minor=0,
        cap_amount_minor=None,
    )
    assert ContractVersion.objects.filter(pk=version.pk).exists()


# --- outcome types --------------------------------------------------------------------------


def test_outcome_type_key_is_unique_per_version() -> None:
    contract = raw_contract(CustomerFactory.create())
    version = raw_version(contract)
    raw_outcome_type(version, key="ticket.resolved")

    refused(lambda: raw_outcome_type(version, key="ticket.resolved"), "outcome_type_key_unique_per_version")
    assert list(version.outcome_types.values_list("key", flat=True)) == ["ticket.resolved"]


def test_same_outcome_type_key_is_fine_in_another_version() -> None:
    contract = raw_contract(CustomerFactory.create())
    first = raw_version(contract, number=1)
    second = raw_version(contract, number=2, effective_from=START + dt.timedelta(days=30))
    raw_outcome_type(first)
    raw_outcome_type(second)
    assert OutcomeType.objects.filter(key="ticket.resolved").count() == 2


@pytest.mark.parametrize(
    ("field", "value", "constraint"),
    [
        ("cap_amount_minor", 0, "outcome_type_cap_amount_gt_0"),
        ("cap_amount_minor", -5, "outcome_type_cap_amount_gt_0"),
        ("cap_units", 0, "outcome_type_cap_units_gt_0"),
    ],
)
def test_outcome_type_caps_must_be_positive(field: str, value: int, constraint: str) -> None:
    version = raw_version(raw_contract(CustomerFactory.create()))
    refused(lambda: raw_outcome_type(version, **{field: value}), constraint)
    assert not version.outcome_types.exists()


def test_a_refused_write_leaves_the_surrounding_transaction_usable() -> None:
    # given a refused duplicate inside a savepoint
    vendor: Vendor = VendorFactory.create()
    CustomerFactory.create(vendor=vendor, external_ref="acme")
    refused(
        lambda: CustomerFactory.create(vendor=vendor, external_ref="acme"),
        "customer_external_ref_unique_per_vendor",
    )

    # then later writes in the same transaction still work
    CustomerFactory.create(vendor=vendor, external_ref="acme-2")
    assert sorted(Customer.objects.filter(vendor=vendor).values_list("external_ref", flat=True)) == [
        "acme",
        "acme-2",
    ]


# --- the customer's own caps --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limits", "constraint"),
    [
        ({"max_units": None, "max_amount_minor": None}, "customer_cap_units_or_amount"),
        ({"max_units": None, "max_amount_minor": -1}, "customer_cap_amount_gte_0"),
    ],
)
def test_a_customer_cap_limits_units_or_a_non_negative_amount(
    limits: dict[str, Any], constraint: str
) -> None:
    contract = raw_contract(CustomerFactory.create())
    refused(
        lambda: CustomerCap.objects.create(
            contract=contract, outcome_type_key="ticket.resolved", set_by="t", set_at=START, **limits
        ),
        constraint,
    )
    assert not CustomerCap.objects.exists()


def test_a_customer_cap_of_an_amount_alone_is_allowed() -> None:
    contract = raw_contract(CustomerFactory.create())
    cap = CustomerCap.objects.create(
        contract=contract, outcome_type_key="ticket.resolved", max_amount_minor=0, set_by="t", set_at=START
    )
    assert (cap.max_units, cap.max_amount_minor, cap.threshold_amount_minor(80)) == (None, 0, 0)

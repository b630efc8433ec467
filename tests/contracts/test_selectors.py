"""Selectors: which contract version is in force at an instant, and reads scoped to one vendor."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from contracts.models import Contract, ContractStatus, Vendor
from contracts.selectors import (
    api_key_get,
    contract_get,
    contract_version_in_force,
    customer_get,
    webhook_source_get,
)
from contracts.services.contracts import contract_activate, contract_amend, contract_terminate
from contracts.services.credentials import api_key_create, webhook_source_create
from contracts.terms import Amendment, parse
from core.errors import NotFound
from tests.factories import CustomerFactory, VendorFactory, amendment_payload, contract_create_for

pytestmark = pytest.mark.django_db

UTC = dt.UTC
SECOND = dt.timedelta(seconds=1)
MICROSECOND = dt.timedelta(microseconds=1)


def version_number_at(contract: Contract, at: dt.datetime) -> int | None:
    version = contract_version_in_force(contract=contract, at=at)
    return None if version is None else version.number


@pytest.fixture
def amended_contract() -> Contract:
    """Active, 2026-01-01 to 2027-01-01 in New York: v1 from the start, v2 from 2026-06-01 (local days)."""
    contract = contract_create_for(timezone="America/New_York", starts_at="2026-01-01", ends_at="2027-01-01")
    contract_amend(
        contract=contract,
        amendment=parse(Amendment, amendment_payload("2026-06-01", platform_fee_minor=1)),
        actor="system",
    )
    return contract_activate(contract=contract, actor="system")


NEW_YORK_2026_01_01 = dt.datetime(2026, 1, 1, 5, 0, tzinfo=UTC)
NEW_YORK_2026_06_01 = dt.datetime(2026, 6, 1, 4, 0, tzinfo=UTC)
NEW_YORK_2027_01_01 = dt.datetime(2027, 1, 1, 5, 0, tzinfo=UTC)


def test_version_in_force_exactly_at_effective_from_is_that_version(amended_contract: Contract) -> None:
    assert version_number_at(amended_contract, NEW_YORK_2026_01_01) == 1
    assert version_number_at(amended_contract, NEW_YORK_2026_06_01) == 2


@pytest.mark.parametrize("step", [MICROSECOND, SECOND])
def test_just_before_an_amendment_the_previous_version_is_in_force(
    amended_contract: Contract, step: dt.timedelta
) -> None:
    assert version_number_at(amended_contract, NEW_YORK_2026_06_01 - step) == 1


@pytest.mark.parametrize("step", [MICROSECOND, SECOND])
def test_before_the_contract_starts_no_version_is_in_force(
    amended_contract: Contract, step: dt.timedelta
) -> None:
    assert version_number_at(amended_contract, NEW_YORK_2026_01_01 - step) is None


def test_the_end_is_exclusive(amended_contract: Contract) -> None:
    assert version_number_at(amended_contract, NEW_YORK_2027_01_01 - MICROSECOND) == 2
    assert version_number_at(amended_contract, NEW_YORK_2027_01_01) is None
    assert version_number_at(amended_contract, NEW_YORK_2027_01_01 + SECOND) is None


def test_a_draft_has_no_version_in_force() -> None:
    # given a draft whose first version would cover the instant
    draft = contract_create_for(timezone="UTC", starts_at="2026-01-01")
    assert draft.status == ContractStatus.DRAFT

    # then nothing is in force until it is activated
    assert version_number_at(draft, dt.datetime(2026, 3, 1, tzinfo=UTC)) is None
    contract_activate(contract=draft, actor="system")
    assert version_number_at(draft, dt.datetime(2026, 3, 1, tzinfo=UTC)) == 1


def test_a_terminated_contract_stops_being_in_force_when_terminated(time_machine: Any) -> None:
    # given an open-ended active contract, terminated on 2026-05-10 12:00 UTC
    time_machine.move_to(dt.datetime(2026, 5, 10, 12, 0, tzinfo=UTC), tick=False)
    contract = contract_activate(
        contract=contract_create_for(timezone="UTC", starts_at="2026-01-01"), actor="system"
    )
    contract_terminate(contract=contract, actor="system")

    # then the version governed everything before termination and nothing from it on
    assert version_number_at(contract, dt.datetime(2026, 5, 10, 11, 59, 59, tzinfo=UTC)) == 1
    assert version_number_at(contract, dt.datetime(2026, 5, 10, 12, 0, tzinfo=UTC)) is None


def test_version_in_force_returns_the_version_with_its_outcome_types(amended_contract: Contract) -> None:
    version = contract_version_in_force(contract=amended_contract, at=NEW_YORK_2026_06_01)
    assert version is not None
    assert (version.number, version.platform_fee_minor) == (2, 1)
    assert [outcome_type.key for outcome_type in version.outcome_types.all()] == ["ticket.resolved"]


# Berlin's DST days: midnight of 2026-03-29 is still CET (+1), midnight of 2026-10-25 still CEST (+2).
BERLIN_SPRING_MIDNIGHT = dt.datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
BERLIN_AUTUMN_MIDNIGHT = dt.datetime(2026, 10, 24, 22, 0, tzinfo=UTC)


@pytest.fixture
def berlin_contract() -> Contract:
    """Active in Europe/Berlin from 2026-01-01, amended at local midnight of both 2026 DST switch days."""
    contract = contract_create_for(timezone="Europe/Berlin", starts_at="2026-01-01")
    contract_amend(
        contract=contract, amendment=parse(Amendment, amendment_payload("2026-03-29")), actor="system"
    )
    contract_amend(
        contract=contract, amendment=parse(Amendment, amendment_payload("2026-10-25")), actor="system"
    )
    return contract_activate(contract=contract, actor="system")


def test_amendments_on_dst_days_take_effect_at_local_midnight(berlin_contract: Contract) -> None:
    effective = list(berlin_contract.versions.order_by("number").values_list("effective_from", flat=True))
    assert effective == [
        dt.datetime(2025, 12, 31, 23, 0, tzinfo=UTC),
        BERLIN_SPRING_MIDNIGHT,
        BERLIN_AUTUMN_MIDNIGHT,
    ]


@pytest.mark.parametrize(
    ("at", "number"),
    [
        (BERLIN_SPRING_MIDNIGHT - SECOND, 1),
        (BERLIN_SPRING_MIDNIGHT, 2),
        (BERLIN_SPRING_MIDNIGHT + SECOND, 2),
        # the switch itself (02:00 CET becomes 03:00 CEST) changes nothing
        (dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC), 2),
        (BERLIN_AUTUMN_MIDNIGHT - SECOND, 2),
        (BERLIN_AUTUMN_MIDNIGHT, 3),
        (BERLIN_AUTUMN_MIDNIGHT + SECOND, 3),
        # the repeated hour (02:00-03:00 twice) stays in version 3
        (dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC), 3),
        (dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC), 3),
    ],
)
def test_version_in_force_across_dst(berlin_contract: Contract, at: dt.datetime, number: int) -> None:
    assert version_number_at(berlin_contract, at) == number


# --- scoped reads -------------------------------------------------------------------------------


def _customer(vendor: Vendor) -> Any:
    return CustomerFactory.create(vendor=vendor)


def _contract(vendor: Vendor) -> Any:
    return contract_create_for(CustomerFactory.create(vendor=vendor))


def _webhook_source(vendor: Vendor) -> Any:
    customer = CustomerFactory.create(vendor=vendor)
    return webhook_source_create(
        vendor=vendor, customer=customer, name="crm", kind="customer_system", actor="system"
    )[0]


def _api_key(vendor: Vendor) -> Any:
    return api_key_create(vendor=vendor, name="ci", actor="system")[0]


SCOPED_GETS: list[tuple[str, Callable[[Vendor], Any], Callable[[Vendor, Any], Any]]] = [
    ("customer", _customer, lambda vendor, pk: customer_get(vendor=vendor, customer_id=pk)),
    ("contract", _contract, lambda vendor, pk: contract_get(vendor=vendor, contract_id=pk)),
    ("webhook_source", _webhook_source, lambda vendor, pk: webhook_source_get(vendor=vendor, source_id=pk)),
    ("api_key", _api_key, lambda vendor, pk: api_key_get(vendor=vendor, api_key_id=pk)),
]


@pytest.mark.parametrize(("what", "make", "get"), SCOPED_GETS, ids=[case[0] for case in SCOPED_GETS])
def test_scoped_get_finds_the_vendors_own_object(
    what: str, make: Callable[[Vendor], Any], get: Callable[[Vendor, Any], Any]
) -> None:
    vendor = VendorFactory.create()
    own = make(vendor)
    assert get(vendor, own.pk) == own
    assert get(vendor, str(own.pk)) == own


@pytest.mark.parametrize(("what", "make", "get"), SCOPED_GETS, ids=[case[0] for case in SCOPED_GETS])
def test_scoped_get_of_another_vendors_object_is_not_found(
    what: str, make: Callable[[Vendor], Any], get: Callable[[Vendor, Any], Any]
) -> None:
    # given an object of vendor A
    owner, other = VendorFactory.create(), VendorFactory.create()
    foreign = make(owner)

    # when vendor B asks for it by its real id, then it does not exist for B
    with pytest.raises(NotFound) as caught:
        get(other, foreign.pk)
    assert caught.value.status == 404
    assert caught.value.code == "not_found"
    assert get(owner, foreign.pk) == foreign


@pytest.mark.parametrize(("what", "make", "get"), SCOPED_GETS, ids=[case[0] for case in SCOPED_GETS])
@pytest.mark.parametrize(
    "malformed", ["", "not-a-uuid", "123", "c9d1b1de-5f2a-4a8e-9a51", "' OR 1=1 --", None]
)
def test_scoped_get_with_a_malformed_id_is_not_found(
    what: str, make: Callable[[Vendor], Any], get: Callable[[Vendor, Any], Any], malformed: Any
) -> None:
    vendor = VendorFactory.create()
    make(vendor)
    with pytest.raises(NotFound):
        get(vendor, malformed)

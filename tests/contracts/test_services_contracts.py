"""Contract services: drafts, versions and amendments, the lifecycle, the audit trail, concurrent amendments."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.db import connection

from contracts.models import AuditEntry, Contract, ContractStatus, ContractVersion, OutcomeType
from contracts.services.contracts import (
    contract_activate,
    contract_amend,
    contract_create,
    contract_header_parse,
    contract_resume,
    contract_suspend,
    contract_terminate,
    contract_update_draft,
    contract_version_replace,
)
from contracts.terms import Amendment, VersionTerms, parse
from core.errors import Conflict, DomainError, InvalidTransition, NotFound, ValidationFailed
from tests.factories import (
    CustomerFactory,
    amendment_payload,
    contract_create_for,
    contract_payload,
    new_contract,
    outcome_type_terms,
    version_terms,
)

UTC = dt.UTC
NOW = dt.datetime(2026, 2, 10, 15, 30, tzinfo=UTC)
NEW_YORK_2026_01_01 = dt.datetime(2026, 1, 1, 5, 0, tzinfo=UTC)


def audit_actions(contract: Contract) -> list[tuple[str, str]]:
    """(actor, action) of every audit entry about a contract, oldest first."""
    entries = AuditEntry.objects.filter(object_type="contract", object_id=str(contract.pk)).order_by(
        "at", "id"
    )
    return [(entry.actor, entry.action) for entry in entries]


def draft_update(contract: Contract, body: dict[str, Any], *, actor: str) -> Contract:
    """contract_update_draft with a partial body parsed as the API parses it (its keys are the fields given)."""
    header = contract_header_parse(body, current=contract)
    return contract_update_draft(contract=contract, header=header, fields=list(body), actor=actor)


def active_contract(**overrides: Any) -> Contract:
    return contract_activate(contract=contract_create_for(**overrides), actor="system")


@pytest.fixture
def frozen() -> Any:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


# --- create -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_makes_a_draft_with_its_first_version(frozen: Any) -> None:
    # given a customer and valid terms
    customer = CustomerFactory.create()

    # when a draft is created
    contract = contract_create(
        vendor=customer.vendor, **new_contract(contract_payload(customer)), actor="user:ann@v.test"
    )

    # then it is a draft starting at New York midnight, with one unlocked version from that start
    contract.refresh_from_db()
    assert (contract.status, contract.starts_at, contract.ends_at) == (
        ContractStatus.DRAFT,
        NEW_YORK_2026_01_01,
        None,
    )
    assert (contract.activated_at, contract.terminated_at) == (None, None)
    version = contract.versions.get()
    assert (version.number, version.effective_from, version.locked_at) == (1, NEW_YORK_2026_01_01, None)
    assert (version.platform_fee_minor, version.budget_alert_percents) == (50_000, [80, 95])
    outcome_type = version.outcome_types.get()
    assert (outcome_type.key, outcome_type.pricing_model, outcome_type.pricing) == (
        "ticket.resolved",
        "per_unit",
        {"model": "per_unit", "unit_price": "0.9"},
    )
    assert outcome_type.verification_policy["confirmation"]["match_window_hours"] == 72
    entry = AuditEntry.objects.get(object_id=str(contract.pk))
    assert (entry.vendor_id, entry.actor, entry.action, entry.object_type, entry.at) == (
        customer.vendor.pk,
        "user:ann@v.test",
        "contract.created",
        "contract",
        NOW,
    )


@pytest.mark.django_db
def test_create_reports_header_and_terms_errors_together_and_writes_nothing() -> None:
    customer = CustomerFactory.create()
    data = contract_payload(
        customer,
        currency="ZZZ",
        terms=version_terms(
            outcome_types=[outcome_type_terms(pricing={"model": "per_unit", "unit_price": 1.5})]
        ),
    )

    with pytest.raises(ValidationFailed) as caught:
        contract_create(vendor=customer.vendor, **new_contract(data), actor="system")

    assert {path: [e["code"] for e in errors] for path, errors in caught.value.field_errors.items()} == {
        "currency": ["unknown_currency"],
        "terms.outcome_types[0].pricing.unit_price": ["decimal_as_string"],
    }
    assert not Contract.objects.exists()
    assert not AuditEntry.objects.filter(action="contract.created").exists()


@pytest.mark.django_db
def test_create_without_terms_is_refused_on_terms() -> None:
    customer = CustomerFactory.create()
    data = {k: v for k, v in contract_payload(customer).items() if k != "terms"}

    with pytest.raises(ValidationFailed) as caught:
        contract_create(vendor=customer.vendor, **new_contract(data), actor="system")

    assert list(caught.value.field_errors) == ["terms"]
    assert caught.value.field_errors["terms"][0]["code"] == "required"
    assert not Contract.objects.exists()


@pytest.mark.django_db
def test_create_for_another_vendors_customer_is_refused() -> None:
    # given a customer of another vendor
    foreign = CustomerFactory.create()
    vendor = CustomerFactory.create().vendor

    with pytest.raises(ValidationFailed) as caught:
        contract_create(vendor=vendor, **new_contract(contract_payload(foreign)), actor="system")

    assert caught.value.field_errors == {
        "customer_id": [{"code": "not_found", "message": "No such customer."}]
    }
    assert not Contract.objects.exists()


@pytest.mark.django_db
def test_create_with_a_used_reference_is_a_conflict_not_a_crash() -> None:
    customer = CustomerFactory.create()
    first = contract_create_for(customer, reference="CTR-9")

    with pytest.raises(Conflict) as caught:
        contract_create_for(customer, reference="CTR-9")

    assert caught.value.code == "duplicate_reference"
    assert list(caught.value.field_errors) == ["reference"]
    assert list(Contract.objects.values_list("pk", flat=True)) == [first.pk]
    assert AuditEntry.objects.filter(action="contract.created").count() == 1


# --- update a draft -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_update_draft_changes_the_header_and_moves_the_first_version(frozen: Any) -> None:
    contract = contract_create_for(timezone="America/New_York", starts_at="2026-01-01")

    updated = draft_update(
        contract,
        {"timezone": "Europe/Berlin", "starts_at": "2026-03-01", "reference": "CTR-NEW"},
        actor="user:ann@v.test",
    )

    berlin_march_first = dt.datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
    assert (updated.timezone, updated.starts_at, updated.reference) == (
        "Europe/Berlin",
        berlin_march_first,
        "CTR-NEW",
    )
    assert contract.versions.get(number=1).effective_from == berlin_march_first
    assert audit_actions(contract) == [
        ("system", "contract.created"),
        ("user:ann@v.test", "contract.updated"),
    ]
    assert AuditEntry.objects.get(action="contract.updated").details == {
        "fields": ["reference", "starts_at", "timezone"]
    }


@pytest.mark.django_db
def test_update_draft_refuses_unknown_fields_including_terms() -> None:
    contract = contract_create_for()

    with pytest.raises(ValidationFailed) as caught:
        draft_update(contract, {"terms": {}, "colour": "red"}, actor="system")

    assert sorted(caught.value.field_errors) == ["colour", "terms"]
    assert {e["code"] for errors in caught.value.field_errors.values() for e in errors} == {"extra_forbidden"}
    assert audit_actions(contract) == [("system", "contract.created")]


@pytest.mark.django_db
def test_update_of_an_active_contract_is_refused_and_changes_nothing() -> None:
    contract = active_contract(reference="CTR-1")

    with pytest.raises(Conflict) as caught:
        draft_update(contract, {"reference": "CTR-2"}, actor="system")

    assert caught.value.code == "contract_not_draft"
    contract.refresh_from_db()
    assert contract.reference == "CTR-1"
    assert ("system", "contract.updated") not in audit_actions(contract)


@pytest.mark.django_db
def test_update_draft_cannot_move_the_start_onto_an_amendment() -> None:
    # given a draft amended from 2026-03-01
    contract = contract_create_for(timezone="UTC", starts_at="2026-01-01")
    contract_amend(
        contract=contract, amendment=parse(Amendment, amendment_payload("2026-03-01")), actor="system"
    )

    # when the start is moved to that same day
    with pytest.raises(ValidationFailed) as caught:
        draft_update(contract, {"starts_at": "2026-03-01"}, actor="system")

    # then it is refused and neither the contract nor version 1 moved
    assert [e["code"] for e in caught.value.field_errors["starts_at"]] == ["after_amendment"]
    contract.refresh_from_db()
    assert contract.starts_at == dt.datetime(2026, 1, 1, tzinfo=UTC)
    assert contract.versions.get(number=1).effective_from == dt.datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.django_db
def test_update_draft_to_a_used_reference_is_a_conflict() -> None:
    customer = CustomerFactory.create()
    contract_create_for(customer, reference="CTR-A")
    other = contract_create_for(customer, reference="CTR-B")

    with pytest.raises(Conflict) as caught:
        draft_update(other, {"reference": "CTR-A"}, actor="system")

    assert caught.value.code == "duplicate_reference"
    other.refresh_from_db()
    assert other.reference == "CTR-B"


# --- replace a version's terms ------------------------------------------------------------------


@pytest.mark.django_db
def test_replace_the_terms_of_a_draft_version() -> None:
    contract = contract_create_for()
    terms = version_terms(
        platform_fee_minor=0,
        outcome_types=[
            outcome_type_terms(key="lead.qualified", natural_key_field="lead_id"),
            outcome_type_terms(key="meeting.booked", natural_key_field="meeting_id"),
        ],
    )

    version = contract_version_replace(
        contract=contract, number=1, terms=parse(VersionTerms, terms), actor="user:bo@v.test"
    )

    assert version.platform_fee_minor == 0
    assert list(OutcomeType.objects.filter(version=version).values_list("key", flat=True)) == [
        "lead.qualified",
        "meeting.booked",
    ]
    assert not OutcomeType.objects.filter(key="ticket.resolved").exists()
    assert audit_actions(contract)[-1] == ("user:bo@v.test", "contract.version_replaced")


@pytest.mark.django_db
def test_replace_the_terms_of_an_active_contract_is_refused() -> None:
    contract = active_contract()

    with pytest.raises(Conflict) as caught:
        contract_version_replace(
            contract=contract,
            number=1,
            terms=parse(VersionTerms, version_terms(platform_fee_minor=1)),
            actor="x",
        )

    assert caught.value.code == "version_locked"
    version = contract.versions.get()
    assert version.platform_fee_minor == 50_000
    assert list(version.outcome_types.values_list("key", flat=True)) == ["ticket.resolved"]
    assert ("x", "contract.version_replaced") not in audit_actions(contract)


@pytest.mark.django_db
def test_replace_a_missing_version_is_not_found() -> None:
    contract = contract_create_for()
    with pytest.raises(NotFound):
        contract_version_replace(
            contract=contract, number=2, terms=parse(VersionTerms, version_terms()), actor="system"
        )
    assert contract.versions.count() == 1


# --- amendments ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_amending_a_draft_adds_an_unlocked_version_even_in_the_past(frozen: Any) -> None:
    contract = contract_create_for(timezone="UTC", starts_at="2026-01-01")

    version = contract_amend(
        contract=contract, amendment=parse(Amendment, amendment_payload("2026-01-15")), actor="system"
    )

    assert (version.number, version.effective_from, version.locked_at) == (
        2,
        dt.datetime(2026, 1, 15, tzinfo=UTC),
        None,
    )


@pytest.mark.django_db
def test_amendment_of_an_active_contract_is_locked_and_defaults_to_now(frozen: Any) -> None:
    contract = active_contract(timezone="UTC", starts_at="2026-01-01")

    version = contract_amend(
        contract=contract, amendment=parse(Amendment, amendment_payload()), actor="user:ann@v.test"
    )

    assert (version.number, version.effective_from, version.locked_at) == (2, NOW, NOW)
    entry = AuditEntry.objects.get(action="contract.amended")
    assert (entry.actor, entry.at, entry.details) == (
        "user:ann@v.test",
        NOW,
        {"version": 2, "effective_from": NOW.isoformat()},
    )


@pytest.mark.django_db
def test_amendment_of_an_active_contract_may_take_effect_exactly_now(frozen: Any) -> None:
    contract = active_contract(timezone="UTC", starts_at="2026-01-01")
    version = contract_amend(
        contract=contract, amendment=parse(Amendment, amendment_payload(NOW.isoformat())), actor="system"
    )
    assert version.effective_from == NOW


@pytest.mark.django_db
@pytest.mark.parametrize("before", [dt.timedelta(microseconds=1), dt.timedelta(days=1)])
def test_amendment_of_an_active_contract_cannot_take_effect_in_the_past(
    frozen: Any, before: dt.timedelta
) -> None:
    contract = active_contract(timezone="UTC", starts_at="2026-01-01")

    with pytest.raises(ValidationFailed) as caught:
        contract_amend(
            contract=contract,
            amendment=parse(Amendment, amendment_payload((NOW - before).isoformat())),
            actor="system",
        )

    assert [e["code"] for e in caught.value.field_errors["effective_from"]] == ["in_past"]
    assert list(contract.versions.values_list("number", flat=True)) == [1]
    assert not AuditEntry.objects.filter(action="contract.amended").exists()


@pytest.mark.django_db
def test_amendment_of_a_suspended_contract_is_locked(frozen: Any) -> None:
    contract = contract_suspend(
        contract=active_contract(timezone="UTC", starts_at="2026-01-01"), actor="system"
    )
    version = contract_amend(
        contract=contract, amendment=parse(Amendment, amendment_payload("2026-03-01")), actor="system"
    )
    assert (version.number, version.locked_at) == (2, NOW)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("effective_from", "code"),
    [
        ("2026-03-01", "not_after_latest_version"),  # the same instant as version 2
        ("2026-02-28T23:59:59Z", "not_after_latest_version"),
        ("2025-12-31", "before_start"),
        ("2026-12-31", "after_end"),  # exactly the end
        ("2027-01-05", "after_end"),
    ],
)
def test_amendment_must_fall_after_the_latest_version_and_within_the_contract(
    effective_from: str, code: str
) -> None:
    # given a draft for 2026 (UTC) with version 2 from 2026-03-01
    contract = contract_create_for(timezone="UTC", starts_at="2026-01-01", ends_at="2026-12-31")
    contract_amend(
        contract=contract, amendment=parse(Amendment, amendment_payload("2026-03-01")), actor="system"
    )

    with pytest.raises(ValidationFailed) as caught:
        contract_amend(
            contract=contract, amendment=parse(Amendment, amendment_payload(effective_from)), actor="system"
        )

    assert [e["code"] for e in caught.value.field_errors["effective_from"]] == [code]
    assert list(contract.versions.order_by("number").values_list("number", flat=True)) == [1, 2]


@pytest.mark.django_db
def test_amendment_one_second_after_the_latest_version_is_accepted() -> None:
    contract = contract_create_for(timezone="UTC", starts_at="2026-01-01")
    contract_amend(
        contract=contract, amendment=parse(Amendment, amendment_payload("2026-03-01")), actor="system"
    )
    version = contract_amend(
        contract=contract,
        amendment=parse(Amendment, amendment_payload("2026-03-01T00:00:01Z")),
        actor="system",
    )
    assert (version.number, version.effective_from) == (3, dt.datetime(2026, 3, 1, 0, 0, 1, tzinfo=UTC))


@pytest.mark.django_db
def test_a_terminated_contract_cannot_be_amended() -> None:
    contract = contract_terminate(contract=active_contract(), actor="system")

    with pytest.raises(Conflict) as caught:
        contract_amend(contract=contract, amendment=parse(Amendment, amendment_payload()), actor="system")

    assert caught.value.code == "contract_terminated"
    assert contract.versions.count() == 1


# --- lifecycle ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_activation_locks_every_version_at_the_activation_instant(frozen: Any) -> None:
    # given a draft with two unlocked versions
    contract = contract_create_for(timezone="UTC", starts_at="2026-01-01")
    contract_amend(
        contract=contract, amendment=parse(Amendment, amendment_payload("2026-06-01")), actor="system"
    )
    assert set(contract.versions.values_list("locked_at", flat=True)) == {None}

    # when it is activated
    activated = contract_activate(contract=contract, actor="user:ann@v.test")

    # then it is active since now, every version is locked at that instant, and the act is audited
    assert (activated.status, activated.activated_at) == (ContractStatus.ACTIVE, NOW)
    assert list(contract.versions.order_by("number").values_list("locked_at", flat=True)) == [NOW, NOW]
    entry = AuditEntry.objects.get(action="contract.active")
    assert (entry.actor, entry.at, entry.details) == (
        "user:ann@v.test",
        NOW,
        {"from": "draft", "to": "active"},
    )


Transition = Callable[..., Contract]

ALLOWED: list[tuple[str, Transition, str]] = [
    ("draft", contract_activate, "active"),
    ("active", contract_suspend, "suspended"),
    ("active", contract_terminate, "terminated"),
    ("suspended", contract_resume, "active"),
    ("suspended", contract_activate, "active"),
    ("suspended", contract_terminate, "terminated"),
]

REFUSED: list[tuple[str, Transition]] = [
    ("draft", contract_suspend),
    ("draft", contract_resume),
    ("draft", contract_terminate),
    ("terminated", contract_activate),
    ("terminated", contract_suspend),
    ("terminated", contract_resume),
]


def contract_in(status: str) -> Contract:
    contract = contract_create_for()
    path = {
        "draft": [],
        "active": [contract_activate],
        "suspended": [contract_activate, contract_suspend],
        "terminated": [contract_activate, contract_terminate],
    }[status]
    for step in path:
        contract = step(contract=contract, actor="setup")
    assert contract.status == status
    return contract


@pytest.mark.django_db
@pytest.mark.parametrize(("start", "transition", "end"), ALLOWED, ids=lambda v: getattr(v, "__name__", v))
def test_allowed_transition_changes_status_once_and_is_audited(
    start: str, transition: Transition, end: str
) -> None:
    contract = contract_in(start)
    before = audit_actions(contract)

    changed = transition(contract=contract, actor="user:ann@v.test")

    assert changed.status == end
    assert Contract.objects.get(pk=contract.pk).status == end
    assert audit_actions(contract) == [*before, ("user:ann@v.test", f"contract.{end}")]


@pytest.mark.django_db
@pytest.mark.parametrize(("start", "transition"), REFUSED, ids=lambda v: getattr(v, "__name__", v))
def test_refused_transition_changes_nothing(start: str, transition: Transition) -> None:
    contract = contract_in(start)
    before = audit_actions(contract)

    with pytest.raises(InvalidTransition) as caught:
        transition(contract=contract, actor="user:ann@v.test")

    assert (caught.value.status, caught.value.code) == (409, "invalid_transition")
    assert Contract.objects.get(pk=contract.pk).status == start
    assert audit_actions(contract) == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "transition"),
    [
        ("active", contract_activate),
        ("active", contract_resume),
        ("suspended", contract_suspend),
        ("terminated", contract_terminate),
    ],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_repeating_a_transition_does_nothing(start: str, transition: Transition) -> None:
    contract = contract_in(start)
    before = audit_actions(contract)
    row_before = Contract.objects.values().get(pk=contract.pk)

    again = transition(contract=contract, actor="user:ann@v.test")

    assert again.status == start
    assert Contract.objects.values().get(pk=contract.pk) == row_before
    assert audit_actions(contract) == before


@pytest.mark.django_db
def test_repeating_a_transition_through_a_stale_copy_does_nothing() -> None:
    # given two copies of an active contract (two requests that raced), one already suspended it
    contract = contract_in("active")
    stale = Contract.objects.get(pk=contract.pk)
    contract_suspend(contract=contract, actor="first")

    # when the stale copy suspends it too
    result = contract_suspend(contract=stale, actor="second")

    # then it is suspended once: no error and no second audit entry
    assert result.status == ContractStatus.SUSPENDED
    assert [action for actor, action in audit_actions(contract) if action == "contract.suspended"] == [
        "contract.suspended"
    ]
    assert ("second", "contract.suspended") not in audit_actions(contract)


@pytest.mark.django_db
def test_a_stale_copy_cannot_apply_a_transition_from_an_old_status() -> None:
    # given a contract terminated through one copy
    contract = contract_in("active")
    stale = Contract.objects.get(pk=contract.pk)
    contract_terminate(contract=contract, actor="first")

    # when another copy, still seeing it active, suspends it: refused, it stays terminated
    with pytest.raises(InvalidTransition):
        contract_suspend(contract=stale, actor="second")
    assert Contract.objects.get(pk=contract.pk).status == ContractStatus.TERMINATED
    assert ("second", "contract.suspended") not in audit_actions(contract)


@pytest.mark.django_db
def test_terminate_ends_an_open_ended_contract_now(frozen: Any) -> None:
    contract = active_contract(timezone="UTC", starts_at="2026-01-01")

    terminated = contract_terminate(contract=contract, actor="system")

    assert (terminated.status, terminated.terminated_at, terminated.ends_at) == (
        ContractStatus.TERMINATED,
        NOW,
        NOW,
    )


@pytest.mark.django_db
def test_terminate_brings_a_later_end_forward_to_now(frozen: Any) -> None:
    contract = active_contract(timezone="UTC", starts_at="2026-01-01", ends_at="2027-01-01")
    terminated = contract_terminate(contract=contract, actor="system")
    assert terminated.ends_at == NOW


@pytest.mark.django_db
def test_terminate_keeps_an_end_that_already_passed(frozen: Any) -> None:
    contract = active_contract(timezone="UTC", starts_at="2026-01-01", ends_at="2026-02-01")
    terminated = contract_terminate(contract=contract, actor="system")
    assert (terminated.terminated_at, terminated.ends_at) == (NOW, dt.datetime(2026, 2, 1, tzinfo=UTC))


@pytest.mark.django_db
def test_every_write_is_audited_with_its_actor() -> None:
    contract = contract_create_for(actor="user:a@v.test")
    draft_update(contract, {"anchor_day": 15}, actor="user:b@v.test")
    contract_version_replace(
        contract=contract, number=1, terms=parse(VersionTerms, version_terms()), actor="api_key:abc"
    )
    contract_activate(contract=contract, actor="user:c@v.test")
    contract_amend(contract=contract, amendment=parse(Amendment, amendment_payload()), actor="user:d@v.test")
    contract_suspend(contract=contract, actor="user:e@v.test")
    contract_resume(contract=contract, actor="user:f@v.test")
    contract_terminate(contract=contract, actor="system")

    assert audit_actions(contract) == [
        ("user:a@v.test", "contract.created"),
        ("user:b@v.test", "contract.updated"),
        ("api_key:abc", "contract.version_replaced"),
        ("user:c@v.test", "contract.active"),
        ("user:d@v.test", "contract.amended"),
        ("user:e@v.test", "contract.suspended"),
        ("user:f@v.test", "contract.active"),
        ("system", "contract.terminated"),
    ]
    assert set(AuditEntry.objects.values_list("vendor_id", flat=True)) == {contract.vendor_id}


# --- concurrency --------------------------------------------------------------------------------

THREADS = 8


def run_at_once(work: Callable[[int], Any]) -> list[Any]:
    """Run work(i) in THREADS threads released together; each result or the exception it raised."""
    barrier = threading.Barrier(THREADS)
    results: list[Any] = [None] * THREADS

    def worker(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as exc:  # collected and asserted on by the test
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_amendments_effective_now_all_succeed_with_gap_free_numbers() -> None:
    # given an active contract
    contract = active_contract(timezone="UTC", starts_at="2026-01-01")

    # when THREADS requests amend it at the same moment, each effective now
    results = run_at_once(
        lambda i: contract_amend(
            contract=Contract.objects.get(pk=contract.pk),
            amendment=parse(Amendment, amendment_payload(platform_fee_minor=i)),
            actor=f"thread-{i}",
        )
    )

    # then every one succeeded and the versions are numbered 1..THREADS+1 in the order they take effect
    assert [result for result in results if not isinstance(result, ContractVersion)] == []
    versions = list(contract.versions.order_by("number"))
    assert [v.number for v in versions] == list(range(1, THREADS + 2))
    assert [v.effective_from for v in versions] == sorted(v.effective_from for v in versions)
    assert len({v.effective_from for v in versions}) == THREADS + 1
    assert sorted(v.platform_fee_minor for v in versions[1:]) == list(range(THREADS))
    assert AuditEntry.objects.filter(action="contract.amended").count() == THREADS


@pytest.mark.django_db(transaction=True)
def test_concurrent_amendments_at_chosen_instants_never_collide() -> None:
    # given an active contract, and amendments for different future days sent at the same moment
    contract = active_contract(timezone="UTC", starts_at="2026-01-01")
    far = dt.datetime(2090, 1, 1, tzinfo=UTC)

    results = run_at_once(
        lambda i: contract_amend(
            contract=Contract.objects.get(pk=contract.pk),
            amendment=parse(Amendment, amendment_payload((far + dt.timedelta(days=i)).isoformat())),
            actor=f"thread-{i}",
        )
    )

    # then each either became a version or was refused as a 4xx for coming before a later one; no 5xx
    created = [r for r in results if isinstance(r, ContractVersion)]
    refused = [r for r in results if not isinstance(r, ContractVersion)]
    assert all(isinstance(r, DomainError) and r.status < 500 for r in refused)
    assert {r.field_errors["effective_from"][0]["code"] for r in refused} <= {"not_after_latest_version"}
    assert created
    versions = list(contract.versions.order_by("number"))
    assert [v.number for v in versions] == list(range(1, len(created) + 2))
    assert [v.effective_from for v in versions] == sorted(v.effective_from for v in versions)
    assert AuditEntry.objects.filter(action="contract.amended").count() == len(created)

"""Contracts: create a draft, edit it, amend terms with new versions, and move through the lifecycle.

Lifecycle: draft → active ⇄ suspended → terminated. Versions of a draft may be edited; activation
locks them, and every later amendment is a new, locked version effective from now or later.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Collection
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from contracts import domain_events
from contracts.audit import audit_record
from contracts.models import (
    Contract,
    ContractStatus,
    ContractVersion,
    Customer,
    OutcomeType,
    Vendor,
)
from contracts.terms import Amendment, ContractHeader, VersionTerms, parse, resolve_instant
from core.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from core.events import events_publish

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    ContractStatus.DRAFT: frozenset({ContractStatus.ACTIVE}),
    ContractStatus.ACTIVE: frozenset({ContractStatus.SUSPENDED, ContractStatus.TERMINATED}),
    ContractStatus.SUSPENDED: frozenset({ContractStatus.ACTIVE, ContractStatus.TERMINATED}),
    ContractStatus.TERMINATED: frozenset(),
}

HEADER_FIELDS = tuple(ContractHeader.model_fields)


def _header_of(contract: Contract) -> dict[str, Any]:
    return {
        "customer_id": str(contract.customer_id),
        "reference": contract.reference,
        "currency": contract.currency,
        "timezone": contract.timezone,
        "period_unit": contract.period_unit,
        "period_count": contract.period_count,
        "anchor_day": contract.anchor_day,
        "starts_at": contract.starts_at,
        "ends_at": contract.ends_at,
        "collection_method": contract.collection_method,
        "days_until_due": contract.days_until_due,
        "credit_after_payment": contract.credit_after_payment,
        "withhold_credits_while_overdue": contract.withhold_credits_while_overdue,
        "grace_period_hours": contract.grace_period_hours,
        "approval_threshold_minor": contract.approval_threshold_minor,
    }


def _customer_of(vendor: Vendor, customer_id: str) -> Customer:
    pk = _uuid_or_none(customer_id)
    customer = None if pk is None else Customer.objects.filter(vendor=vendor, pk=pk).first()
    if customer is None:
        raise ValidationFailed.on_field("customer_id", "not_found", "No such customer.")
    return customer


def _uuid_or_none(value: str) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def _header_columns(header: ContractHeader) -> dict[str, Any]:
    return {
        "reference": header.reference,
        "currency": header.currency,
        "timezone": header.timezone,
        "period_unit": header.period_unit,
        "period_count": header.period_count,
        "anchor_day": header.anchor_day,
        "starts_at": header.starts_at_utc,
        "ends_at": header.ends_at_utc,
        "collection_method": header.collection_method,
        "days_until_due": header.days_until_due,
        "credit_after_payment": header.credit_after_payment,
        "withhold_credits_while_overdue": header.withhold_credits_while_overdue,
        "grace_period_hours": header.grace_period_hours,
        "approval_threshold_minor": header.approval_threshold_minor,
    }


def _duplicate_reference(reference: str) -> Conflict:
    return Conflict(
        f"A contract with reference {reference!r} already exists.",
        code="duplicate_reference",
        field_errors={"reference": [{"code": "duplicate", "message": "Already used by another contract."}]},
    )


def _write_terms(*, version: ContractVersion, terms: VersionTerms) -> None:
    """Store a version's terms and its outcome types. Assumes the caller's transaction."""
    version.platform_fee_minor = terms.platform_fee_minor
    version.minimum_commitment_minor = terms.minimum_commitment_minor
    version.cap_amount_minor = terms.cap_amount_minor
    version.budget_alert_percents = terms.budget_alert_percents
    version.notes = terms.notes
    version.save()
    version.outcome_types.all().delete()
    OutcomeType.objects.bulk_create(
        OutcomeType(
            version=version,
            key=item.key,
            description=item.description,
            natural_key_field=item.natural_key_field,
            billing_basis=item.billing_basis,
            pricing_model=item.pricing.model,
            pricing=item.pricing.model_dump(mode="json"),
            free_units=item.free_units,
            cap_units=item.cap_units,
            cap_amount_minor=item.cap_amount_minor,
            verification_policy=item.verification_policy.model_dump(mode="json"),
        )
        for item in terms.outcome_types
    )


def contract_create_parse(data: object) -> tuple[ContractHeader, VersionTerms]:
    """A new contract's header and first terms from a body (the API's, a form's), their errors together."""
    if not isinstance(data, dict):
        raise ValidationFailed("The request body must be a JSON object.", code="invalid_body")
    header_data = {k: v for k, v in data.items() if k != "terms"}
    errors: list[ValidationFailed] = []
    header = terms = None
    try:
        header = parse(ContractHeader, header_data)
    except ValidationFailed as exc:
        errors.append(exc)
    try:
        terms = parse(VersionTerms, data.get("terms"), prefix=("terms",))
    except ValidationFailed as exc:
        if exc.code == "invalid_body":
            exc = ValidationFailed.on_field(
                "terms", "required", "terms must be an object with outcome_types."
            )
        errors.append(exc)
    if errors or header is None or terms is None:
        raise ValidationFailed.from_pairs(
            (path, item["code"], item["message"])
            for exc in errors
            for path, items in exc.field_errors.items()
            for item in items
        )
    return header, terms


def contract_create(*, vendor: Vendor, header: ContractHeader, terms: VersionTerms, actor: str) -> Contract:
    """Create a draft contract with its first version (effective from the contract's start)."""
    customer = _customer_of(vendor, header.customer_id)
    try:
        with transaction.atomic():
            contract = Contract.objects.create(vendor=vendor, customer=customer, **_header_columns(header))
            version = ContractVersion(contract=contract, number=1, effective_from=contract.starts_at)
            _write_terms(version=version, terms=terms)
            audit_record(
                vendor=vendor,
                actor=actor,
                action="contract.created",
                target=contract,
                at=contract.created_at,
            )
    except IntegrityError:
        raise _duplicate_reference(header.reference) from None
    return contract


def contract_header_parse(data: object, *, current: Contract) -> ContractHeader:
    """A draft's header from a partial body (the API's, a form's, the admin's) over its current values."""
    if not isinstance(data, dict):
        raise ValidationFailed("The request body must be a JSON object.", code="invalid_body")
    unknown = set(data) - set(HEADER_FIELDS)
    if unknown:
        raise ValidationFailed.from_pairs(
            (name, "extra_forbidden", "Unknown field; versions are changed through /versions.")
            for name in sorted(unknown)
        )
    return parse(ContractHeader, {**_header_of(current), **data})


def contract_update_draft(
    *, contract: Contract, header: ContractHeader, fields: Collection[str], actor: str
) -> Contract:
    """Change a draft's own fields to `header` (contract_header_parse reads a partial body over its
    values); `fields` are the ones the caller gave, for the audit. The first version follows a new start."""
    customer = _customer_of(contract.vendor, header.customer_id)
    try:
        with transaction.atomic():
            locked = Contract.objects.select_for_update().get(pk=contract.pk)
            if locked.status != ContractStatus.DRAFT:
                raise Conflict(
                    "Only a draft contract can be edited; amend an active one with a new version.",
                    code="contract_not_draft",
                )
            columns = _header_columns(header)
            first = locked.versions.order_by("number").first()
            later = locked.versions.filter(number__gt=1).order_by("number").first()
            if later is not None and later.effective_from <= columns["starts_at"]:
                raise ValidationFailed.on_field(
                    "starts_at",
                    "after_amendment",
                    f"starts_at must be before version {later.number} takes effect.",
                )
            Contract.objects.filter(pk=locked.pk).update(
                customer=customer, updated_at=timezone.now(), **columns
            )
            if first is not None:
                ContractVersion.objects.filter(pk=first.pk).update(effective_from=columns["starts_at"])
            audit_record(
                vendor=locked.vendor,
                actor=actor,
                action="contract.updated",
                target=locked,
                at=timezone.now(),
                details={"fields": sorted(fields)},
            )
    except IntegrityError:
        raise _duplicate_reference(header.reference) from None
    contract.refresh_from_db()
    return contract


def contract_version_replace(
    *, contract: Contract, number: int, terms: VersionTerms, actor: str
) -> ContractVersion:
    """Replace the terms of a version of a draft contract."""
    with transaction.atomic():
        locked = Contract.objects.select_for_update().get(pk=contract.pk)
        version = locked.versions.filter(number=number).first()
        if version is None:
            raise NotFound(f"Contract {locked.reference} has no version {number}.")
        if locked.status != ContractStatus.DRAFT or version.is_locked:
            raise Conflict(
                "This version is in force or locked and cannot change; add an amendment instead.",
                code="version_locked",
            )
        _write_terms(version=version, terms=terms)
        audit_record(
            vendor=locked.vendor,
            actor=actor,
            action="contract.version_replaced",
            target=locked,
            at=timezone.now(),
            details={"version": number},
        )
    return version


def contract_amend(*, contract: Contract, amendment: Amendment, actor: str) -> ContractVersion:
    """Add a version effective from `effective_from` (default now); never in the past of an active contract."""
    with transaction.atomic():
        # Lock the contract: two amendments at once must not take the same number.
        locked = Contract.objects.select_for_update().get(pk=contract.pk)
        # Read the clock under the lock, so amendments effective "now" are ordered as they commit.
        now = timezone.now()
        if locked.status == ContractStatus.TERMINATED:
            raise Conflict("A terminated contract cannot be amended.", code="contract_terminated")
        effective_from = (
            now
            if amendment.effective_from is None
            else resolve_instant(amendment.effective_from, locked.timezone)
        )
        latest = locked.versions.order_by("-number").first()
        problem = None
        if locked.status != ContractStatus.DRAFT and effective_from < now:
            problem = ("in_past", "An amendment cannot take effect in the past.")
        elif effective_from < locked.starts_at:
            problem = (
                "before_start",
                "An amendment cannot take effect before the contract starts.",
            )
        elif locked.ends_at is not None and effective_from >= locked.ends_at:
            problem = ("after_end", "An amendment must take effect before the contract ends.")
        elif latest is not None and effective_from <= latest.effective_from:
            problem = (
                "not_after_latest_version",
                f"An amendment must take effect after version {latest.number} "
                f"({latest.effective_from.isoformat()}).",
            )
        if problem:
            raise ValidationFailed.on_field("effective_from", *problem)
        version = ContractVersion(
            contract=locked,
            number=(latest.number + 1) if latest else 1,
            effective_from=effective_from,
            locked_at=None if locked.status == ContractStatus.DRAFT else now,
        )
        _write_terms(version=version, terms=amendment.terms)
        audit_record(
            vendor=locked.vendor,
            actor=actor,
            action="contract.amended",
            target=locked,
            at=now,
            details={"version": version.number, "effective_from": effective_from.isoformat()},
        )
        # A draft's versions are its first terms, announced with its activation; from then on each
        # new version is news to both parties.
        if locked.status != ContractStatus.DRAFT and latest is not None:
            events_publish([domain_events.amended(locked, version=version, previous=latest, now=now)])
    return version


def _transition(
    *,
    contract: Contract,
    to: str,
    actor: str,
    extra: Callable[[dt.datetime], dict[str, Any]] | None = None,
) -> Contract:
    """Apply a status change only if the status still is what we read (row count checked)."""
    now = timezone.now()
    current = contract.status
    if to == current:
        return contract  # repeating a transition does nothing
    if to not in ALLOWED_TRANSITIONS[current]:
        raise InvalidTransition(f"A {current} contract cannot become {to}.")
    with transaction.atomic():
        fields = {"status": to, "updated_at": now, **(extra(now) if extra else {})}
        updated = Contract.objects.filter(pk=contract.pk, status=current).update(**fields)
        if not updated:
            contract.refresh_from_db()
            if contract.status == to:
                return contract  # a concurrent request made the same change
            raise InvalidTransition(f"The contract changed meanwhile; it is now {contract.status}.")
        audit_record(
            vendor=contract.vendor,
            actor=actor,
            action=f"contract.{to}",
            target=contract,
            at=now,
            details={"from": current, "to": to},
        )
    contract.refresh_from_db()
    return contract


def contract_activate(*, contract: Contract, actor: str) -> Contract:
    """draft → active: the terms are locked from now on."""
    if contract.status == ContractStatus.DRAFT:
        with transaction.atomic():
            result = _transition(
                contract=contract,
                to=ContractStatus.ACTIVE,
                actor=actor,
                extra=lambda now: {"activated_at": now},
            )
            ContractVersion.objects.filter(contract=contract, locked_at__isnull=True).update(
                locked_at=result.activated_at
            )
            latest = ContractVersion.objects.filter(contract=contract).order_by("-number").first()
            assert latest is not None  # a contract is created with its first version
            events_publish([domain_events.activated(result, version=latest.number)])
        return result
    return _transition(contract=contract, to=ContractStatus.ACTIVE, actor=actor)


def contract_suspend(*, contract: Contract, actor: str) -> Contract:
    return _transition(contract=contract, to=ContractStatus.SUSPENDED, actor=actor)


def contract_resume(*, contract: Contract, actor: str) -> Contract:
    if contract.status != ContractStatus.SUSPENDED and contract.status != ContractStatus.ACTIVE:
        raise InvalidTransition(f"A {contract.status} contract cannot be resumed.")
    return _transition(contract=contract, to=ContractStatus.ACTIVE, actor=actor)


def contract_terminate(*, contract: Contract, actor: str) -> Contract:
    """Terminate now: the contract stops being in force (ends_at becomes now unless it is earlier)."""

    def ending(now: dt.datetime) -> dict[str, Any]:
        ends_at = now if contract.ends_at is None or contract.ends_at > now else contract.ends_at
        return {
            "terminated_at": now,
            "ends_at": max(ends_at, contract.starts_at + dt.timedelta(microseconds=1)),
        }

    return _transition(contract=contract, to=ContractStatus.TERMINATED, actor=actor, extra=ending)

"""The customer's own caps (rule 11a): set, changed and removed by the customer alone, in units and/or in an
amount of the contract's currency, each at or below the contract's; raising or removing one releases the
outcomes it held at once (they are evaluated again)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from contracts import selectors as contract_selectors
from contracts.audit import audit_record
from contracts.models import Contract, ContractVersion, CustomerCap, OutcomeType
from contracts.terms import MAX_MINOR_AMOUNT
from core.currencies import major_units
from core.errors import NotFound, ValidationFailed
from outcomes.models import Decision, Outcome, OutcomeState
from outcomes.rules.customer_caps import CUSTOMER_CAP_EXCEEDED, CustomerCaps
from outcomes.services.verification import outcomes_evaluate


def _terms_now(contract: Contract, now: dt.datetime) -> ContractVersion | None:
    """The version in force now, or before the contract starts (a draft), its latest."""
    in_force = contract_selectors.contract_version_in_force(contract=contract, at=now)
    return in_force or contract.versions.order_by("-effective_from").first()


def _outcome_type(contract: Contract, outcome_type_key: str, now: dt.datetime) -> OutcomeType:
    version = _terms_now(contract, now)
    outcome_type = None if version is None else version.outcome_types.filter(key=outcome_type_key).first()
    if outcome_type is None:
        raise NotFound(f"Contract {contract.reference} has no outcome type {outcome_type_key!r} in force.")
    return outcome_type


def _above_contract_caps(
    contract: Contract, outcome_type: OutcomeType, *, max_units: int | None, max_amount_minor: int | None
) -> list[tuple[str, str, str]]:
    """The field errors of limits above the contract's own for the type, in the terms in force: its unit
    cap, and its amount cap or the contract's (the version's, over every type)."""
    errors = []
    key = outcome_type.key
    if max_units is not None and outcome_type.cap_units is not None and max_units > outcome_type.cap_units:
        errors.append(
            (
                "max_units",
                "above_contract_cap",
                f"The contract caps {key} at {outcome_type.cap_units} per period: "
                f"the customer's own cap may be at most that.",
            )
        )
    amount_caps = [
        (cap, what)
        for cap, what in (
            (outcome_type.cap_amount_minor, f"{key}'s outcomes"),
            (outcome_type.version.cap_amount_minor, "everything it bills"),
        )
        if cap is not None
    ]
    for cap, what in amount_caps:
        if max_amount_minor is not None and max_amount_minor > cap:
            errors.append(
                (
                    "max_amount_minor",
                    "above_contract_cap",
                    f"The contract caps {what} at {major_units(cap, contract.currency)} {contract.currency} "
                    f"per period: the customer's own cap may be at most that.",
                )
            )
            break
    return errors


def customer_cap_set(
    *,
    contract: Contract,
    outcome_type_key: str,
    max_units: int | None,
    max_amount_minor: int | None = None,
    alert_percents: list[int],
    actor: str,
    now: dt.datetime | None = None,
) -> CustomerCap:
    """Set (or change) the customer's own cap on one outcome type of its contract: a count of outcomes,
    an amount in minor units of the contract's currency, or both (neither: `400 cap_required`). Refused
    above the contract's own caps in the terms in force (`400 above_contract_cap`, nothing stored)."""
    now = now or timezone.now()
    outcome_type = _outcome_type(contract, outcome_type_key, now)
    if max_amount_minor is not None and not 0 <= max_amount_minor <= MAX_MINOR_AMOUNT:
        raise ValidationFailed.on_field(
            "max_amount_minor",
            "invalid_amount",
            f"An amount from 0 to {major_units(MAX_MINOR_AMOUNT, contract.currency)} {contract.currency}.",
        )
    if max_units is None and max_amount_minor is None:
        raise ValidationFailed.on_field(
            "max_units", "cap_required", "Set a most per period in units, in amount, or both."
        )
    errors = _above_contract_caps(
        contract, outcome_type, max_units=max_units, max_amount_minor=max_amount_minor
    )
    if len(errors) == 1:
        raise ValidationFailed.on_field(*errors[0])  # its message says what is wrong, as it always did
    if errors:
        raise ValidationFailed.from_pairs(errors)
    with transaction.atomic():
        previous = (
            CustomerCap.objects.select_for_update()
            .filter(contract=contract, outcome_type_key=outcome_type_key)
            .first()
        )
        cap, _ = CustomerCap.objects.update_or_create(
            contract=contract,
            outcome_type_key=outcome_type_key,
            defaults={
                "max_units": max_units,
                "max_amount_minor": max_amount_minor,
                "alert_percents": alert_percents,
                "set_by": actor,
                "set_at": now,
            },
        )
        audit_record(
            vendor=contract.vendor,
            actor=actor,
            action="customer_cap.set",
            target=cap,
            at=now,
            details={
                "outcome_type": outcome_type_key,
                "max_units": max_units,
                "previous_max_units": None if previous is None else previous.max_units,
                "max_amount_minor": max_amount_minor,
                "previous_max_amount_minor": None if previous is None else previous.max_amount_minor,
                "alert_percents": alert_percents,
            },
        )
    if previous is not None and _loosened(previous, max_units=max_units, max_amount_minor=max_amount_minor):
        _release_held(contract=contract, outcome_type_key=outcome_type_key, now=now)
    return cap


def customer_cap_remove(
    *, contract: Contract, outcome_type_key: str, actor: str, now: dt.datetime | None = None
) -> None:
    """Remove the customer's own cap on one outcome type: what it held is evaluated again (and billed as
    the contract's cap allows). Removing a cap that is not set is `404`."""
    now = now or timezone.now()
    with transaction.atomic():
        cap = (
            CustomerCap.objects.select_for_update()
            .filter(contract=contract, outcome_type_key=outcome_type_key)
            .first()
        )
        if cap is None:
            raise NotFound(f"No cap of the customer's own on {outcome_type_key!r}.")
        audit_record(
            vendor=contract.vendor,
            actor=actor,
            action="customer_cap.removed",
            target=cap,
            at=now,
            details={
                "outcome_type": outcome_type_key,
                "max_units": cap.max_units,
                "max_amount_minor": cap.max_amount_minor,
            },
        )
        cap.delete()
    _release_held(contract=contract, outcome_type_key=outcome_type_key, now=now)


def _loosened(previous: CustomerCap, *, max_units: int | None, max_amount_minor: int | None) -> bool:
    """Whether the new limits admit more than `previous` did in either measure (raised or removed)."""
    return any(
        before is not None and (after is None or after > before)
        for before, after in (
            (previous.max_units, max_units),
            (previous.max_amount_minor, max_amount_minor),
        )
    )


def _release_held(*, contract: Contract, outcome_type_key: str, now: dt.datetime) -> None:
    """Evaluate again the outcomes the customer's cap holds (flagged, undecided), after the transaction
    that raised or removed it: as many as the new cap admits become billable, the rest stay flagged."""
    held = (
        Outcome.objects.filter(
            contract=contract,
            outcome_type_key=outcome_type_key,
            state=OutcomeState.FLAGGED,
            verdicts__rule=CustomerCaps.name,
            verdicts__decision=Decision.FLAG,
            verdicts__reason=CUSTOMER_CAP_EXCEEDED,
        )
        .values_list("pk", flat=True)
        .distinct()
    )
    outcomes_evaluate(outcome_ids=list(held), now=now)

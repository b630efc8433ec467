"""The customer's own caps (rule 11a): set, changed and removed by the customer alone, at or below the
contract's cap; raising or removing one releases the outcomes it held at once (they are evaluated again)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from contracts import selectors as contract_selectors
from contracts.audit import audit_record
from contracts.models import Contract, ContractVersion, CustomerCap, OutcomeType
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


def customer_cap_set(
    *,
    contract: Contract,
    outcome_type_key: str,
    max_units: int,
    alert_percents: list[int],
    actor: str,
    now: dt.datetime | None = None,
) -> CustomerCap:
    """Set (or change) the customer's own cap on one outcome type of its contract. Refused above the
    contract's own cap for the type in the terms in force (`400 above_contract_cap`, nothing stored)."""
    now = now or timezone.now()
    outcome_type = _outcome_type(contract, outcome_type_key, now)
    if outcome_type.cap_units is not None and max_units > outcome_type.cap_units:
        raise ValidationFailed.on_field(
            "max_units",
            "above_contract_cap",
            f"The contract caps {outcome_type_key} at {outcome_type.cap_units} per period: "
            f"the customer's own cap may be at most that.",
        )
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
                "alert_percents": alert_percents,
            },
        )
    if previous is not None and max_units > previous.max_units:
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
            details={"outcome_type": outcome_type_key, "max_units": cap.max_units},
        )
        cap.delete()
    _release_held(contract=contract, outcome_type_key=outcome_type_key, now=now)


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

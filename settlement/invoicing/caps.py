"""Amount caps: the longest billing-order prefix of outcomes each outcome type's cap, then the
contract's, lets through; what a cap holds is recorded for the invoice's `held_over_cap`."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from contracts.models import Contract, ContractVersion, OutcomeType
from contracts.terms.rating import rated_amount_minor, units_amount_minor
from settlement.invoicing.drafts import CONTRACT_CAP_KEY, ZERO, Billable, LineDraft
from settlement.invoicing.usage import Counts, rated_lines, rated_lines_counted


def _within_amount_cap(
    outcome_type: OutcomeType, outcomes: list[Billable], currency: str, free: int
) -> tuple[list[Billable], list[Billable]]:
    """The longest billing-order prefix whose rated amount stays within the type's amount cap; the first
    `free` outcomes are the type's free allowance left, rated at nothing as the invoice rates them
    (success fees have no free allowance)."""
    cap = outcome_type.cap_amount_minor
    if outcome_type.pricing_model == "percentage":
        free = 0

    def amount(prefix: list[Billable]) -> Decimal:
        return rated_amount_minor(outcome_type.pricing, prefix[free:], currency)

    if cap is None or amount(outcomes) <= cap:
        return outcomes, []
    low, high = 0, len(outcomes)  # invariant: prefix of `low` fits, prefix of `high` does not
    while high - low > 1:
        middle = (low + high) // 2
        if amount(outcomes[:middle]) <= cap:
            low = middle
        else:
            high = middle
    return outcomes[:low], outcomes[low:]


def _within_type_caps(
    outcomes: list[Billable],
    held: dict[str, Any],
    versions: dict[int, ContractVersion],
    types: dict[tuple[int, str], OutcomeType],
    currency: str,
) -> list[Billable]:
    """The outcomes each (version, outcome type) group's amount cap lets through, in billing order;
    what a cap holds is recorded in `held` under the type's key (across versions of the period)."""
    groups: dict[tuple[int, str], list[Billable]] = defaultdict(list)
    for outcome in outcomes:
        assert outcome.version_id is not None
        groups[(outcome.version_id, outcome.outcome_type_key)].append(outcome)
    over: set[int] = set()
    free_left: dict[str, int] = {}  # per type across the period's versions, as usage.rated_lines counts it
    for version_id, key in sorted(groups, key=lambda g: (versions[g[0]].number, g[1])):
        outcome_type = types[(version_id, key)]
        free = free_left.setdefault(key, outcome_type.free_units)
        within, over_cap = _within_amount_cap(outcome_type, groups[(version_id, key)], currency, free)
        if outcome_type.pricing_model != "percentage":
            free_left[key] -= min(free, len(within))
        if over_cap:
            entry = held.setdefault(key, {"outcomes": []})
            entry["outcomes"] += [o.pk for o in over_cap]
            entry["cap_amount_minor"] = outcome_type.cap_amount_minor
            over.update(o.pk for o in over_cap)
    return [o for o in outcomes if o.pk not in over] if over else outcomes


def _within_contract_cap(
    contract: Contract,
    outcomes: list[Billable],
    cap: int | None,
    held: dict[str, Any],
    versions: dict[int, ContractVersion],
    types: dict[tuple[int, str], OutcomeType],
) -> list[LineDraft]:
    """The usage lines of the longest billing-order prefix of `outcomes` whose usage (all outcome types
    and versions of the period, free units and tiers included) stays within the contract's amount cap;
    the rest is recorded in `held` under CONTRACT_CAP_KEY."""
    lines = rated_lines(contract, outcomes, versions, types)
    if cap is None or _usage_amount(lines) <= cap:
        return lines
    low, high = 0, len(outcomes)  # invariant: prefix of `low` fits, prefix of `high` does not
    while high - low > 1:
        middle = (low + high) // 2
        if _usage_amount(rated_lines(contract, outcomes[:middle], versions, types)) <= cap:
            low = middle
        else:
            high = middle
    held[CONTRACT_CAP_KEY] = {"outcomes": [o.pk for o in outcomes[low:]], "cap_amount_minor": cap}
    return rated_lines(contract, outcomes[:low], versions, types)


def _usage_amount(lines: list[LineDraft]) -> Decimal:
    return sum((line.amount for line in lines), ZERO)


def usage_lines(
    contract: Contract,
    outcomes: list[Billable],
    held: dict[str, Any],
    versions: dict[int, ContractVersion],
    types: dict[tuple[int, str], OutcomeType],
    cap_amount_minor: int | None,
) -> list[LineDraft]:
    """Usage lines within the amount caps: each outcome type's first, then the contract's (the
    version's `cap_amount_minor`) over what the types let through; `held` says what each cap held."""
    within = _within_type_caps(outcomes, held, versions, types, contract.currency)
    return _within_contract_cap(contract, within, cap_amount_minor, held, versions, types)


def usage_lines_counted(
    contract: Contract,
    counts: Counts,
    versions: dict[int, ContractVersion],
    types: dict[tuple[int, str], OutcomeType],
    cap_amount_minor: int | None,
) -> list[LineDraft] | None:
    """usage_lines of the outcomes `counts` counts, rated from their counts, when no cap holds any of
    them (which ones a cap holds depends on billing order): None when a cap would, or when the counts
    cannot rate a group exactly (usage.rates_from_counts). A type's cap counts what its group bills
    beyond the free allowance left, as _within_type_caps does."""
    lines = rated_lines_counted(contract, counts, versions, types)
    if lines is None:
        return None
    free_left: dict[str, int] = {}
    for version_id, key in sorted(counts, key=lambda g: (versions[g[0]].number, g[1])):
        outcome_type, by_percent = types[(version_id, key)], counts[(version_id, key)]
        if outcome_type.pricing_model == "percentage":
            amount = sum(
                (
                    line.amount
                    for line in lines
                    if line.version_id == version_id and line.outcome_type_key == key
                ),
                ZERO,
            )
        else:
            # One share of the price, or no free allowance (usage.rates_from_counts): the free outcomes
            # are any `free` of them.
            free = free_left.setdefault(key, outcome_type.free_units)
            taken = min(free, sum(n for n, _ in by_percent.values()))
            free_left[key] -= taken
            shares = {p: n for p, (n, _) in by_percent.items()}
            if taken:
                [(percent, count)] = shares.items()
                shares = {percent: count - taken}
            amount = units_amount_minor(outcome_type.pricing, shares, contract.currency)
        if outcome_type.cap_amount_minor is not None and amount > outcome_type.cap_amount_minor:
            return None
    if cap_amount_minor is not None and _usage_amount(lines) > cap_amount_minor:
        return None
    return lines

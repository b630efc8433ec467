"""A draft's lines, in order (usage within caps, fees, audit adjustment, credit applied), for many
drafts from one set of queries."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from contracts.models import ContractVersion, OutcomeType
from settlement.invoicing.audit import audit_line, audit_samples
from settlement.invoicing.caps import usage_lines, usage_lines_counted
from settlement.invoicing.credits import credit_applied_line, credit_balances
from settlement.invoicing.drafts import ZERO, Draft, LineDraft, contract_period
from settlement.invoicing.fees import fee_lines, version_at
from settlement.invoicing.usage import billable_counts, billable_outcomes
from settlement.models import (
    Invoice,
)
from settlement.money import round_line


def _cap(contract_versions: list[ContractVersion], draft: Draft) -> int | None:
    """The contract's amount cap: the one of the version in force at the period's start, as its fees are."""
    version = version_at(contract_versions, draft.period.start)
    return version.cap_amount_minor if version is not None else None


def draft_lines(
    draft: Draft,
    versions: dict[int, ContractVersion],
    contract_versions: list[ContractVersion],
    types: dict[tuple[int, str], OutcomeType],
    balance: int,
    counted_usage: list[LineDraft] | None = None,
) -> tuple[list[LineDraft], dict[str, Any]]:
    """A draft's lines, in order, and what its caps held: pure, from what its batch read (its usage
    lines rated from counts, when given: no cap held any outcome)."""
    contract = draft.contract
    held: dict[str, Any] = {}
    usage = counted_usage
    if usage is None:
        usage = usage_lines(contract, draft.outcomes, held, versions, types, _cap(contract_versions, draft))
    usage_total = sum((line.amount for line in usage), ZERO)
    audit = audit_line(draft, types, usage_total)
    # The minimum commitment is compared with usage after the audit adjustment (an adjustment lowers
    # what usage earned, never what the customer committed to), as the lines will be rounded: the
    # true-up then makes the invoice exactly the commitment, not a cent off.
    adjusted = Decimal(
        sum(round_line(line.amount, contract.currency) for line in [*usage, *([audit] if audit else [])])
    )
    lines = usage + fee_lines(contract_versions, draft.period, adjusted)
    if audit is not None:
        lines.append(audit)
    credit = credit_applied_line(contract, balance, sum((line.amount for line in lines), ZERO))
    if credit is not None:
        lines.append(credit)
    return lines, held


def drafts_rate(
    invoices: list[Invoice], *, lock: bool, counted_at: dt.datetime | None = None
) -> list[tuple[list[LineDraft], dict[str, Any]]]:
    """Each invoice's lines and what its caps held, from one set of queries for all of them: read,
    never written (`lock`: the outcomes billed are locked until the transaction ends). With
    `counted_at` (a preview's clock, never a bill: the lines have no shares), usage is rated from the
    billable outcomes' counts where they rate it exactly (usage.billable_counts, caps.usage_lines_counted),
    and the outcomes are read only for the other drafts: time independent of how many are billable."""
    drafts = [Draft(invoice, contract_period(invoice.contract, invoice.period_start)) for invoice in invoices]
    contract_ids = {invoice.contract_id for invoice in invoices}
    versions = {v.pk: v for v in ContractVersion.objects.filter(contract_id__in=contract_ids)}
    by_contract: dict[Any, list[ContractVersion]] = defaultdict(list)
    for version in versions.values():
        by_contract[version.contract_id].append(version)
    types = {
        (t.version_id, t.key): t for t in OutcomeType.objects.filter(version__contract_id__in=contract_ids)
    }
    counted: dict[int, list[LineDraft]] = {}
    if counted_at is not None:
        for index, counts in billable_counts(drafts, counted_at).items():
            draft = drafts[index]
            cap = _cap(by_contract[draft.invoice.contract_id], draft)
            lines = usage_lines_counted(draft.contract, counts, versions, types, cap)
            if lines is not None:  # else its outcomes are read, as any other draft's
                counted[index] = lines
    uncounted = [draft for index, draft in enumerate(drafts) if index not in counted]
    if uncounted:
        billable_outcomes(uncounted, lock=lock)
    audit_samples(drafts)
    balances = credit_balances(drafts)
    return [
        draft_lines(
            draft,
            versions,
            by_contract[draft.invoice.contract_id],
            types,
            balances.get(draft.invoice.contract_id, 0),
            counted.get(index),
        )
        for index, draft in enumerate(drafts)
    ]

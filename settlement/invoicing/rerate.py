"""Re-rating a finalized invoice without some of its outcomes (for credit notes), with the very code
that built it."""

from __future__ import annotations

from collections.abc import Collection

from contracts.models import ContractVersion, OutcomeType
from outcomes.models import Outcome
from settlement.invoicing.audit import audit_samples
from settlement.invoicing.drafts import BILLABLE_COLUMNS, Billable, Draft, contract_period
from settlement.invoicing.lines import draft_lines
from settlement.models import (
    Invoice,
    LineKind,
    LineOutcome,
)
from settlement.money import round_line


def invoice_rerate(*, invoice: Invoice, excluding: Collection[int]) -> int:
    """What the invoice's period rates to now without the outcomes `excluding`, with the very code that
    built it (tiers, free units, amount caps, fees, the minimum commitment, audit adjustments)."""
    draft = Draft(invoice, contract_period(invoice.contract, invoice.period_start))
    billed = LineOutcome.objects.filter(line__invoice=invoice, line__kind=LineKind.USAGE).values("outcome_id")
    draft.outcomes = [
        Billable._make(row)
        for row in Outcome.objects.filter(pk__in=billed)
        .exclude(pk__in=list(excluding))
        .order_by("billable_at", "id")
        .values_list(*BILLABLE_COLUMNS)
    ]
    versions = list(ContractVersion.objects.filter(contract_id=invoice.contract_id))
    types = {
        (t.version_id, t.key): t for t in OutcomeType.objects.filter(version__contract_id=invoice.contract_id)
    }
    audit_samples([draft])
    lines, _ = draft_lines(draft, {v.pk: v for v in versions}, versions, types, 0)
    return sum(round_line(line.amount, invoice.currency) for line in lines)

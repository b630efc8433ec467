"""Period close and invoices: build a draft from what was verified, rebuild it during the grace period,
finalize it (numbered per vendor without gaps, outcomes marked billed, credits carried forward).

Which outcomes a draft bills: every billable, never-billed outcome of the contract that became
billable before the period's end, except those an earlier, still-open draft takes. So a late
arrival lands on the next open invoice and never edits a finalized one. Rebuilding a draft from the
same data gives the same lines (deterministic order everywhere).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef, Sum
from django.utils import timezone

from contracts.models import Contract, ContractStatus, ContractVersion, OutcomeType
from contracts.periods import Period, period_at
from contracts.policy import VerificationPolicy
from outcomes.models import AuditSample, Outcome, OutcomeState, OutcomeTransition
from outcomes.rules.sampling import clopper_pearson_lower
from outcomes.sql import insert_rows, plain
from settlement.models import (
    CreditEntry,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    LineOutcome,
)
from settlement.money import format_minor, major_to_minor, round_minor
from settlement.rating import Slice, percentage_fee_minor, rate_units

ACTOR = "system:settlement"
ZERO = Decimal(0)


@dataclass
class LineDraft:
    kind: str
    description: str
    amount: Decimal  # exact minor units; rounded once when stored
    quantity: int = 0
    unit_price: str = ""
    outcome_type_key: str = ""
    version_id: int | None = None
    tier: int | None = None
    shares: dict[int, Decimal] = field(default_factory=dict)  # outcome id -> exact share
    details: dict[str, Any] = field(default_factory=dict)


def contract_period(contract: Contract, at: dt.datetime) -> Period:
    return period_at(
        at,
        tz_name=contract.timezone,
        anchor_day=contract.anchor_day,
        months=contract.period_count,
        contract_start=contract.starts_at,
        contract_end=contract.ends_at,
    )


# --- usage ----------------------------------------------------------------------------------


class Billable(NamedTuple):
    """What rating reads of a billable outcome (a row, not a model instance: a draft may bill millions)."""

    pk: int
    version_id: int | None
    outcome_type_key: str
    price_percent: int
    value_minor: int | None


def _billable_outcomes(contract: Contract, period: Period) -> list[Billable]:
    """Billable outcomes this period's draft takes (locked: they must not move while we bill them)."""
    # Those that became billable inside the period of an earlier, still-open draft are that draft's.
    taken = Invoice.objects.filter(
        contract=contract,
        status=InvoiceStatus.DRAFT,
        period_start__lt=period.start,
        period_start__lte=OuterRef("billable_at"),
        period_end__gt=OuterRef("billable_at"),
    )
    queryset = (
        Outcome.objects.filter(
            contract=contract, state=OutcomeState.BILLABLE, billed_at__isnull=True, billable_at__lt=period.end
        )
        .exclude(Exists(taken))
        .select_for_update()
        .order_by("billable_at", "id")
        .values_list("id", "version_id", "outcome_type_key", "price_percent", "value_minor")
    )
    return [Billable(*row) for row in queryset]


def _slice_lines(
    outcome_type: OutcomeType,
    version: ContractVersion,
    outcomes: list[Billable],
    slices: list[Slice],
    currency: str,
) -> list[LineDraft]:
    """One line per slice; the slice's outcomes (in billing order) share its amount equally."""
    lines, cursor = [], 0
    for piece in slices:
        covered = outcomes[cursor : cursor + piece.units]
        cursor += piece.units
        amount = major_to_minor(piece.amount, currency)
        percent = Decimal(covered[0].price_percent) / 100 if covered else Decimal(1)
        amount *= percent
        share = amount / len(covered) if covered else ZERO
        tier_label = f", tier {piece.tier + 1}" if piece.tier is not None else ""
        unit = "package" if outcome_type.pricing_model == "package" else "unit"
        label = f"{outcome_type.key} (v{version.number}{tier_label}): {piece.quantity} {unit}{'s' if piece.quantity != 1 else ''}"
        if percent != 1:
            label += f" at {covered[0].price_percent}% (unverified)"
        lines.append(
            LineDraft(
                kind=LineKind.USAGE,
                description=label,
                amount=amount,
                quantity=piece.quantity,
                unit_price=str(piece.unit_price),
                outcome_type_key=outcome_type.key,
                version_id=version.pk,
                tier=piece.tier,
                shares={o.pk: share for o in covered},
                details={
                    "units": piece.units,
                    "flat_fee": str(piece.flat_fee),
                    "price_percent": int(percent * 100),
                },
            )
        )
    return lines


def _rated_amount(outcome_type: OutcomeType, outcomes: list[Billable], currency: str) -> Decimal:
    if outcome_type.pricing_model == "percentage":
        return sum(
            (
                percentage_fee_minor(outcome_type.pricing, o.value_minor or 0) * o.price_percent / 100
                for o in outcomes
            ),
            ZERO,
        )
    total = ZERO
    for percent in sorted({o.price_percent for o in outcomes}):
        count = sum(1 for o in outcomes if o.price_percent == percent)
        total += (
            sum((major_to_minor(s.amount, currency) for s in rate_units(outcome_type.pricing, count)), ZERO)
            * percent
            / 100
        )
    return total


def _within_amount_cap(
    outcome_type: OutcomeType, outcomes: list[Billable], currency: str
) -> tuple[list[Billable], list[Billable]]:
    """The longest billing-order prefix whose rated amount stays within the type's amount cap."""
    cap = outcome_type.cap_amount_minor
    if cap is None or _rated_amount(outcome_type, outcomes, currency) <= cap:
        return outcomes, []
    low, high = 0, len(outcomes)  # invariant: prefix of `low` fits, prefix of `high` does not
    while high - low > 1:
        middle = (low + high) // 2
        if _rated_amount(outcome_type, outcomes[:middle], currency) <= cap:
            low = middle
        else:
            high = middle
    return outcomes[:low], outcomes[low:]


def _usage_lines(
    contract: Contract,
    outcomes: list[Billable],
    held: dict[str, Any],
    versions: dict[int, ContractVersion],
) -> list[LineDraft]:
    types = {(t.version_id, t.key): t for t in OutcomeType.objects.filter(version__contract=contract)}
    groups: dict[tuple[int, str], list[Billable]] = defaultdict(list)
    for outcome in outcomes:
        assert outcome.version_id is not None
        groups[(outcome.version_id, outcome.outcome_type_key)].append(outcome)
    lines: list[LineDraft] = []
    free_left: dict[str, int] = {}
    for version_id, key in sorted(groups, key=lambda g: (versions[g[0]].number, g[1])):
        version, outcome_type = versions[version_id], types[(version_id, key)]
        members, over_cap = _within_amount_cap(outcome_type, groups[(version_id, key)], contract.currency)
        if over_cap:
            held[key] = {
                "outcomes": [o.pk for o in over_cap],
                "cap_amount_minor": outcome_type.cap_amount_minor,
            }
        if outcome_type.pricing_model == "percentage":
            shares = {
                o.pk: percentage_fee_minor(outcome_type.pricing, o.value_minor or 0) * o.price_percent / 100
                for o in members
            }
            if shares:
                lines.append(
                    LineDraft(
                        kind=LineKind.USAGE,
                        description=f"{key} (v{version.number}): {outcome_type.pricing['percent']}% of reported value",
                        amount=sum(shares.values(), ZERO),
                        quantity=len(shares),
                        outcome_type_key=key,
                        version_id=version_id,
                        shares=shares,
                        details={"value_minor": sum(o.value_minor or 0 for o in members)},
                    )
                )
            continue
        free = free_left.setdefault(key, outcome_type.free_units)
        free_outcomes, members = members[:free], members[free:]
        free_left[key] -= len(free_outcomes)
        if free_outcomes:
            lines.append(
                LineDraft(
                    kind=LineKind.USAGE,
                    description=f"{key} (v{version.number}): {len(free_outcomes)} free",
                    amount=ZERO,
                    quantity=len(free_outcomes),
                    unit_price="0",
                    outcome_type_key=key,
                    version_id=version_id,
                    shares={o.pk: ZERO for o in free_outcomes},
                    details={"free_allowance": outcome_type.free_units},
                )
            )
        for percent in sorted({o.price_percent for o in members}, reverse=True):
            priced = [o for o in members if o.price_percent == percent]
            lines += _slice_lines(
                outcome_type,
                version,
                priced,
                rate_units(outcome_type.pricing, len(priced)),
                contract.currency,
            )
    return lines


# --- fees and credits ------------------------------------------------------------------------


def _version_at(versions: Iterable[ContractVersion], at: dt.datetime) -> ContractVersion | None:
    """The version in force at `at`, else the first one (from the contract's versions, in memory)."""
    ordered = sorted(versions, key=lambda v: v.effective_from)
    in_force = [v for v in ordered if v.effective_from <= at]
    if in_force:
        return in_force[-1]
    return ordered[0] if ordered else None


def _fee_lines(versions: Iterable[ContractVersion], period: Period, usage_total: Decimal) -> list[LineDraft]:
    version = _version_at(versions, period.start)
    if version is None:
        return []
    lines = []
    partial = (
        f" (prorated {period.fraction.numerator}/{period.fraction.denominator})" if period.is_partial else ""
    )
    if version.platform_fee_minor:
        lines.append(
            LineDraft(
                kind=LineKind.PLATFORM_FEE,
                description=f"Platform fee{partial}",
                amount=period.prorate(version.platform_fee_minor),
                quantity=1,
                version_id=version.pk,
                details={"platform_fee_minor": version.platform_fee_minor, "fraction": str(period.fraction)},
            )
        )
    commitment = period.prorate(version.minimum_commitment_minor)
    if commitment > usage_total:
        lines.append(
            LineDraft(
                kind=LineKind.MINIMUM_TRUE_UP,
                description=f"Minimum commitment true-up{partial}",
                amount=commitment - usage_total,
                quantity=1,
                version_id=version.pk,
                details={"commitment_minor": str(commitment), "usage_minor": str(usage_total)},
            )
        )
    return lines


def _clawback_line(contract: Contract, invoice: Invoice) -> LineDraft | None:
    """Credit for outcomes reversed after a finalized invoice billed them, each credited once."""
    # Only the contract's invoices past draft can have billed anything: none (a first period), nothing
    # to credit. Naming them also keeps the query on the indexes, however stale the table statistics.
    billed_by = list(
        Invoice.objects.filter(contract=contract)
        .exclude(status=InvoiceStatus.DRAFT)
        .values_list("id", flat=True)
    )
    if not billed_by:
        return None
    already = LineOutcome.objects.filter(line__kind=LineKind.CLAWBACK).exclude(line__invoice=invoice)
    shares = {
        outcome_id: Decimal(share)
        for outcome_id, share in LineOutcome.objects.filter(
            line__kind=LineKind.USAGE,
            line__invoice_id__in=billed_by,
            outcome__state=OutcomeState.REVERSED,
        )
        .exclude(outcome_id__in=already.values("outcome_id"))
        .order_by("outcome_id")
        .values_list("outcome_id", "share_minor")
    }
    if not shares:
        return None
    return LineDraft(
        kind=LineKind.CLAWBACK,
        description=f"Credit: {len(shares)} outcome{'s' if len(shares) != 1 else ''} reversed after billing",
        amount=-sum(shares.values(), ZERO),
        quantity=len(shares),
        shares={k: -v for k, v in shares.items()},
    )


def _audit_line(contract: Contract, period: Period, usage_total: Decimal) -> LineDraft | None:
    """Extrapolate the period's audit errors at the lower confidence bound onto the usage billed."""
    samples = AuditSample.objects.filter(
        outcome__contract=contract,
        outcome__occurred_at__gte=period.start,
        outcome__occurred_at__lt=period.end,
    ).select_related("outcome__version")
    decided = [s for s in samples if s.answer or s.deadline <= period.end]
    errors = sum(1 for s in decided if s.answer != AuditSample.Answer.ATTESTED)
    if not decided or errors == 0 or usage_total <= 0:
        return None
    version = decided[0].outcome.version
    confidence = 0.90
    if version is not None:
        outcome_type = version.outcome_types.filter(key=decided[0].outcome.outcome_type_key).first()
        if outcome_type is not None:
            confidence = VerificationPolicy.model_validate(
                outcome_type.verification_policy
            ).audit_sampling.confidence
    rate = Decimal(str(round(clopper_pearson_lower(errors, len(decided), confidence), 9)))
    if rate <= 0:
        return None
    return LineDraft(
        kind=LineKind.AUDIT_ADJUSTMENT,
        description=f"Audit adjustment: {errors} of {len(decided)} sampled outcomes in error, "
        f"{rate:%} at the {confidence:.0%} lower bound",
        amount=-(usage_total * rate),
        quantity=1,
        details={
            "errors": errors,
            "sampled": len(decided),
            "rate_lower_bound": str(rate),
            "confidence": confidence,
        },
    )


def _credit_applied_line(contract: Contract, invoice: Invoice, subtotal: Decimal) -> LineDraft | None:
    balance = (
        CreditEntry.objects.filter(contract=contract)
        .exclude(invoice=invoice)
        .aggregate(total=Sum("amount_minor"))["total"]
        or 0
    )
    if balance <= 0 or subtotal <= 0:
        return None
    applied = min(Decimal(balance), subtotal)
    return LineDraft(
        kind=LineKind.CREDIT_APPLIED,
        description=f"Credit balance applied ({format_minor(balance, contract.currency)} available)",
        amount=-applied,
        quantity=1,
        details={"balance_minor": balance},
    )


# --- build, close, finalize --------------------------------------------------------------------


def _share_texts(shares: dict[int, Decimal]) -> Iterator[tuple[int, str]]:
    """Each outcome's share as stored (str of the Decimal); a slice's outcomes share one Decimal,
    formatted once."""
    last: Decimal | None = None
    text = ""
    for outcome_id, share in shares.items():
        if share is not last:
            last, text = share, str(share)
        yield outcome_id, text


def _rebuild(invoice: Invoice, now: dt.datetime) -> Invoice:
    """Replace a draft's lines with freshly computed ones. Assumes the invoice row is locked."""
    contract = invoice.contract
    period = contract_period(contract, invoice.period_start)
    versions = {v.pk: v for v in ContractVersion.objects.filter(contract=contract)}
    held: dict[str, Any] = {}
    usage = _usage_lines(contract, _billable_outcomes(contract, period), held, versions)
    usage_total = sum((line.amount for line in usage), ZERO)
    drafts = usage + _fee_lines(versions.values(), period, usage_total)
    for extra in (
        _clawback_line(contract, invoice),
        _audit_line(contract, period, usage_total),
    ):
        if extra is not None:
            drafts.append(extra)
    credit = _credit_applied_line(contract, invoice, sum((line.amount for line in drafts), ZERO))
    if credit is not None:
        drafts.append(credit)
    invoice.lines.all().delete()
    stored = InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            position=position,
            kind=draft.kind,
            description=draft.description[:300],
            outcome_type_key=draft.outcome_type_key,
            version_id=draft.version_id,
            tier=draft.tier,
            quantity=draft.quantity,
            unit_price=draft.unit_price,
            amount_minor=round_minor(draft.amount),
            details={**draft.details, "exact_minor": str(draft.amount)},
        )
        for position, draft in enumerate(drafts, start=1)
    )
    insert_rows(
        LineOutcome,
        ("line_id", "outcome_id", "share_minor"),
        (
            (line.pk, outcome_id, text)
            for line, draft in zip(stored, drafts, strict=True)
            for outcome_id, text in _share_texts(draft.shares)
        ),
    )
    invoice.total_minor = sum(line.amount_minor for line in stored)
    invoice.held_over_cap = held
    invoice.built_at = now
    invoice.save(update_fields=["total_minor", "held_over_cap", "built_at"])
    return invoice


def period_close(*, contract_id: Any, period_start: dt.datetime, now: dt.datetime | None = None) -> Invoice:
    """Close one period: create its draft invoice, or rebuild it while it is still a draft. Idempotent:
    the database holds one invoice per (contract, period), however often or concurrently this runs."""
    now = now or timezone.now()
    contract = Contract.objects.get(pk=contract_id)
    period = contract_period(contract, period_start)
    if period.end > now:
        raise ValueError(f"The period ending {period.end.isoformat()} has not ended yet.")
    try:
        with transaction.atomic():
            Invoice.objects.create(
                vendor_id=contract.vendor_id,
                contract=contract,
                period_start=period.start,
                period_end=period.end,
                currency=contract.currency,
                finalize_after=period.end + dt.timedelta(hours=contract.grace_period_hours),
                built_at=now,
            )
    except IntegrityError:
        pass  # closed before (or concurrently): rebuild the one that exists
    with transaction.atomic():
        invoice = (
            Invoice.objects.select_for_update()
            .select_related("contract")
            .get(contract=contract, period_start=period.start)
        )
        if invoice.is_draft:
            _rebuild(invoice, now)
    return invoice


def invoice_rebuild(*, invoice_id: int, now: dt.datetime | None = None) -> Invoice:
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().select_related("contract").get(pk=invoice_id)
        if invoice.is_draft:
            _rebuild(invoice, now or timezone.now())
    return invoice


def invoice_finalize(*, invoice_id: int, now: dt.datetime | None = None) -> Invoice:
    """Freeze a draft: final rebuild, a gapless number, outcomes billed, credits carried. Repeating does nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().select_related("contract").get(pk=invoice_id)
        if not invoice.is_draft:
            return invoice  # finalizing a finalized invoice returns early
        _rebuild(invoice, now)
        InvoiceCounter.objects.get_or_create(vendor_id=invoice.vendor_id)
        counter = InvoiceCounter.objects.select_for_update().get(vendor_id=invoice.vendor_id)
        invoice.number = counter.next_number
        counter.next_number += 1
        counter.save(update_fields=["next_number"])
        billed_ids = list(
            LineOutcome.objects.filter(line__invoice=invoice, line__kind=LineKind.USAGE).values_list(
                "outcome_id", flat=True
            )
        )
        Outcome.objects.filter(pk__in=billed_ids, state=OutcomeState.BILLABLE).update(
            state=OutcomeState.BILLED, billed_at=now, updated_at=now
        )
        details = json.dumps({"invoice_id": invoice.pk, "invoice_number": invoice.number})
        insert_rows(
            OutcomeTransition,
            ("outcome_id", "from_state", "to_state", "at", "actor", "reason", "details"),
            (
                (
                    outcome_id,
                    plain(OutcomeState.BILLABLE),
                    plain(OutcomeState.BILLED),
                    now,
                    ACTOR,
                    "invoice_finalized",
                    details,
                )
                for outcome_id in billed_ids
            ),
        )
        applied = -sum(
            line.amount_minor for line in invoice.lines.all() if line.kind == LineKind.CREDIT_APPLIED
        )
        if invoice.total_minor < 0 or applied:
            # Credits beyond the charges carry forward; applied credit is consumed.
            CreditEntry.objects.create(
                contract=invoice.contract,
                invoice=invoice,
                amount_minor=max(-invoice.total_minor, 0) - applied,
                at=now,
            )
        invoice.status = InvoiceStatus.FINALIZED
        invoice.finalized_at = now
        invoice.save(update_fields=["number", "status", "finalized_at"])
    return invoice


# --- what is due ----------------------------------------------------------------------------


def periods_due(*, now: dt.datetime) -> list[tuple[Any, dt.datetime]]:
    """Every (contract, period start) whose period has ended without an invoice, including periods
    missed while the system was down."""
    due = []
    last_closed = dict(Invoice.objects.values_list("contract_id").annotate(last=Max("period_end")))
    for contract in Contract.objects.exclude(status=ContractStatus.DRAFT).order_by("pk"):
        cursor = last_closed.get(contract.pk, contract.starts_at)
        limit = min(now, contract.ends_at) if contract.ends_at else now
        while cursor < limit:
            period = contract_period(contract, cursor)
            if period.end > now:
                break
            due.append((contract.pk, period.start))
            cursor = period.end
    return due


def invoices_due_for_finalize(*, now: dt.datetime) -> list[int]:
    return list(
        Invoice.objects.filter(status=InvoiceStatus.DRAFT, finalize_after__lte=now)
        .order_by("finalize_after", "id")
        .values_list("id", flat=True)
    )

"""Period close and invoices: build a draft from what was verified, rebuild it during the grace period,
finalize it (numbered per vendor without gaps, outcomes marked billed, credits carried forward).

Which outcomes a draft bills: every billable, never-billed outcome of the contract that became
billable before the period's end, except those an earlier, still-open draft takes. So a late
arrival lands on the next open invoice and never edits a finalized one. Rebuilding a draft from the
same data gives the same lines (deterministic order everywhere).

Drafts are built and finalized in batches: `periods_close` closes many (contract, period) pairs in one
transaction with one set of queries for all of them (a month-end close of thousands of contracts),
`invoices_finalize` finalizes many drafts the same way, and `period_close`, `invoice_rebuild` and
`invoice_finalize` are the same code with a batch of one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import reduce
from operator import or_
from typing import Any, NamedTuple

from django.db import transaction
from django.db.models import Max, Q, Sum
from django.utils import timezone

from contracts.models import Contract, ContractStatus, ContractVersion, OutcomeType
from contracts.periods import Period, period_at
from contracts.policy import VerificationPolicy
from core.db.bulk import any_of, insert_rows, plain, update_rows
from outcomes.models import AuditSample, Outcome, OutcomeState, OutcomeTransition
from outcomes.rules.sampling import clopper_pearson_lower
from settlement.approval import approval_status_after_rebuild
from settlement.models import (
    ApprovalStatus,
    CreditEntry,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    LineOutcome,
)
from settlement.money import format_minor, line_step, major_to_minor, round_line
from settlement.rating import Slice, percentage_fee_minor, rate_units

ACTOR = "system:settlement"
# Periods closed per transaction by the bulk close (beat sweep, command): large enough that the
# fixed cost of a transaction and its dozen queries is spread thin, small enough that a batch holds
# its locks (the invoices, their contracts, the outcomes billed) for a second or so.
CLOSE_BATCH = 200
# Drafts finalized per transaction by the beat job: the same trade-off. Batches of one vendor also
# queue for its invoice counter, held from numbering to commit (the short end of a batch).
FINALIZE_BATCH = 200
ZERO = Decimal(0)
# Where held_over_cap reports what the contract's own amount cap held (beside what each outcome type's
# cap held, under the type's key): never an outcome type key, which has no parentheses.
CONTRACT_CAP_KEY = "(contract)"


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


# Billable's fields as Outcome's columns.
BILLABLE_COLUMNS = ["id", "version_id", "outcome_type_key", "price_percent", "value_minor"]


class AuditRow(NamedTuple):
    """What the audit adjustment reads of one audit sample."""

    occurred_at: dt.datetime
    answer: str
    deadline: dt.datetime
    version_id: int | None
    outcome_type_key: str


@dataclass
class Draft:
    """One draft invoice being (re)built, with what its contract's batch reads for it."""

    invoice: Invoice
    period: Period
    outcomes: list[Billable] = field(default_factory=list)
    audit_samples: list[AuditRow] = field(default_factory=list)

    @property
    def contract(self) -> Contract:
        return self.invoice.contract


def _billable_outcomes(drafts: list[Draft], *, lock: bool = True) -> None:
    """Read the billable outcomes each draft takes, for all of them in one locked query (they must not
    move while we bill them; a preview reads without locking), in billing order; outcomes an earlier,
    still-open draft of the same contract takes (by when they became billable) are that draft's."""
    ends: dict[Any, list[dt.datetime]] = defaultdict(list)
    for draft in drafts:
        ends[draft.invoice.contract_id].append(draft.period.end)
    by_end: dict[dt.datetime, list[Any]] = defaultdict(list)
    for contract_id, contract_ends in ends.items():
        by_end[max(contract_ends)].append(contract_id)
    taken: dict[Any, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for contract_id, start, end in Invoice.objects.filter(
        contract_id__in=ends, status=InvoiceStatus.DRAFT
    ).values_list("contract_id", "period_start", "period_end"):
        taken[contract_id].append((start, end))
    earlier = [
        [(s, e) for s, e in taken[draft.invoice.contract_id] if s < draft.period.start] for draft in drafts
    ]
    # Usually each contract has one draft here and no earlier one open: its outcomes are all the
    # query returns. Otherwise each draft picks its own by when they became billable (read only then:
    # parsing a timestamp per outcome is the dearest part of reading them).
    by_time = any(earlier) or any(len(contract_ends) > 1 for contract_ends in ends.values())
    columns = BILLABLE_COLUMNS
    rows: dict[Any, list[tuple[dt.datetime | None, Billable]]] = defaultdict(list)
    queryset = Outcome.objects.filter(
        reduce(or_, (Q(contract_id__in=ids, billable_at__lt=end) for end, ids in sorted(by_end.items()))),
        state=OutcomeState.BILLABLE,
        billed_at__isnull=True,
    )
    if lock:
        queryset = queryset.select_for_update()
    for row in queryset.order_by("contract_id", "billable_at", "id").values_list(
        "contract_id", *(["billable_at", *columns] if by_time else columns)
    ):
        if by_time:
            rows[row[0]].append((row[1], Billable._make(row[2:])))
        else:
            rows[row[0]].append((None, Billable._make(row[1:])))
    for draft, ranges in zip(drafts, earlier, strict=True):
        end = draft.period.end
        draft.outcomes = [
            outcome
            for at, outcome in rows[draft.invoice.contract_id]
            if at is None or (at < end and not any(s <= at < e for s, e in ranges))
        ]


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
    for version_id, key in sorted(groups, key=lambda g: (versions[g[0]].number, g[1])):
        outcome_type = types[(version_id, key)]
        _, over_cap = _within_amount_cap(outcome_type, groups[(version_id, key)], currency)
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
    lines = _rated_lines(contract, outcomes, versions, types)
    if cap is None or _usage_amount(lines) <= cap:
        return lines
    low, high = 0, len(outcomes)  # invariant: prefix of `low` fits, prefix of `high` does not
    while high - low > 1:
        middle = (low + high) // 2
        if _usage_amount(_rated_lines(contract, outcomes[:middle], versions, types)) <= cap:
            low = middle
        else:
            high = middle
    held[CONTRACT_CAP_KEY] = {"outcomes": [o.pk for o in outcomes[low:]], "cap_amount_minor": cap}
    return _rated_lines(contract, outcomes[:low], versions, types)


def _usage_amount(lines: list[LineDraft]) -> Decimal:
    return sum((line.amount for line in lines), ZERO)


def _usage_lines(
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


def _rated_lines(
    contract: Contract,
    outcomes: list[Billable],
    versions: dict[int, ContractVersion],
    types: dict[tuple[int, str], OutcomeType],
) -> list[LineDraft]:
    """Usage lines of these outcomes, per version and outcome type, without any cap."""
    groups: dict[tuple[int, str], list[Billable]] = defaultdict(list)
    for outcome in outcomes:
        assert outcome.version_id is not None
        groups[(outcome.version_id, outcome.outcome_type_key)].append(outcome)
    lines: list[LineDraft] = []
    free_left: dict[str, int] = {}
    for version_id, key in sorted(groups, key=lambda g: (versions[g[0]].number, g[1])):
        version, outcome_type = versions[version_id], types[(version_id, key)]
        members = groups[(version_id, key)]
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


def _audit_samples(drafts: list[Draft]) -> None:
    """Each draft's audit samples (of outcomes that occurred in its period), for all in one query."""
    by_contract: dict[Any, list[Draft]] = defaultdict(list)
    for draft in drafts:
        by_contract[draft.invoice.contract_id].append(draft)
    for contract_id, *sample in (
        AuditSample.objects.filter(
            outcome__contract_id__in=by_contract,
            outcome__occurred_at__gte=min(draft.period.start for draft in drafts),
            outcome__occurred_at__lt=max(draft.period.end for draft in drafts),
        )
        .order_by("pk")
        .values_list(
            "outcome__contract_id",
            "outcome__occurred_at",
            "answer",
            "deadline",
            "outcome__version_id",
            "outcome__outcome_type_key",
        )
    ):
        audited = AuditRow._make(sample)
        for draft in by_contract[contract_id]:
            if draft.period.contains(audited.occurred_at):
                draft.audit_samples.append(audited)


def _audit_line(
    draft: Draft, types: dict[tuple[int, str], OutcomeType], usage_total: Decimal
) -> LineDraft | None:
    """Extrapolate the period's audit errors at the lower confidence bound onto the usage billed."""
    decided = [s for s in draft.audit_samples if s.answer or s.deadline <= draft.period.end]
    errors = sum(1 for s in decided if s.answer != AuditSample.Answer.ATTESTED)
    if not decided or errors == 0 or usage_total <= 0:
        return None
    first = decided[0]
    confidence = 0.90
    outcome_type = (
        types.get((first.version_id, first.outcome_type_key)) if first.version_id is not None else None
    )
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


def _credit_balances(drafts: list[Draft]) -> dict[Any, int]:
    """Each contract's credit balance, leaving out the drafts being built (they carry nothing yet)."""
    return dict(
        CreditEntry.objects.filter(contract_id__in={draft.invoice.contract_id for draft in drafts})
        .exclude(invoice_id__in=[draft.invoice.pk for draft in drafts])
        .values("contract_id")
        .annotate(total=Sum("amount_minor"))
        .values_list("contract_id", "total")
    )


def _credit_applied_line(contract: Contract, balance: int, subtotal: Decimal) -> LineDraft | None:
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


def _draft_lines(
    draft: Draft,
    versions: dict[int, ContractVersion],
    contract_versions: list[ContractVersion],
    types: dict[tuple[int, str], OutcomeType],
    balance: int,
) -> tuple[list[LineDraft], dict[str, Any]]:
    """A draft's lines, in order, and what its caps held: pure, from what its batch read."""
    contract = draft.contract
    held: dict[str, Any] = {}
    # The contract's cap is the one of the version in force at the period's start, as its fees are.
    version = _version_at(contract_versions, draft.period.start)
    cap = version.cap_amount_minor if version is not None else None
    usage = _usage_lines(contract, draft.outcomes, held, versions, types, cap)
    usage_total = sum((line.amount for line in usage), ZERO)
    audit = _audit_line(draft, types, usage_total)
    # The minimum commitment is compared with usage after the audit adjustment (an adjustment lowers
    # what usage earned, never what the customer committed to), as the lines will be rounded: the
    # true-up then makes the invoice exactly the commitment, not a cent off.
    adjusted = Decimal(
        sum(round_line(line.amount, contract.currency) for line in [*usage, *([audit] if audit else [])])
    )
    lines = usage + _fee_lines(contract_versions, draft.period, adjusted)
    if audit is not None:
        lines.append(audit)
    credit = _credit_applied_line(contract, balance, sum((line.amount for line in lines), ZERO))
    if credit is not None:
        lines.append(credit)
    return lines, held


def _rate(invoices: list[Invoice], *, lock: bool) -> list[tuple[list[LineDraft], dict[str, Any]]]:
    """Each invoice's lines and what its caps held, from one set of queries for all of them: read,
    never written (`lock`: the outcomes billed are locked until the transaction ends)."""
    drafts = [Draft(invoice, contract_period(invoice.contract, invoice.period_start)) for invoice in invoices]
    contract_ids = {invoice.contract_id for invoice in invoices}
    versions = {v.pk: v for v in ContractVersion.objects.filter(contract_id__in=contract_ids)}
    by_contract: dict[Any, list[ContractVersion]] = defaultdict(list)
    for version in versions.values():
        by_contract[version.contract_id].append(version)
    types = {
        (t.version_id, t.key): t for t in OutcomeType.objects.filter(version__contract_id__in=contract_ids)
    }
    _billable_outcomes(drafts, lock=lock)
    _audit_samples(drafts)
    balances = _credit_balances(drafts)
    return [
        _draft_lines(
            draft,
            versions,
            by_contract[draft.invoice.contract_id],
            types,
            balances.get(draft.invoice.contract_id, 0),
        )
        for draft in drafts
    ]


@dataclass(frozen=True)
class DraftPreview:
    """What a period's invoice would bill if it were built now (the dashboard's "billable so far")."""

    lines: list[LineDraft]
    held_over_cap: dict[str, Any]
    currency: str

    @property
    def usage_minor(self) -> int:
        """The outcomes' share, rounded per line as the invoice would be."""
        return sum(
            round_line(line.amount, self.currency) for line in self.lines if line.kind == LineKind.USAGE
        )

    @property
    def usage_outcomes(self) -> int:
        """How many outcomes `usage_minor` bills (free ones included, those held over a cap not): the
        billable ones the period's invoice takes, whenever they occurred."""
        return len({pk for line in self.lines if line.kind == LineKind.USAGE for pk in line.shares})

    @property
    def total_minor(self) -> int:
        return sum(round_line(line.amount, self.currency) for line in self.lines)


def drafts_preview(*, periods: Sequence[tuple[Contract, Period]]) -> list[DraftPreview]:
    """Rate periods as their drafts would be built now, with the same code and one set of queries for
    all, without writing or locking anything (a read: outcomes may move meanwhile, so it is a figure
    to show, never to bill). In the order of `periods`."""
    if not periods:
        return []
    invoices = [_unsaved_invoice(contract, period) for contract, period in periods]
    return [
        DraftPreview(lines, held, invoice.currency)
        for invoice, (lines, held) in zip(invoices, _rate(invoices, lock=False), strict=True)
    ]


def _unsaved_invoice(contract: Contract, period: Period, **fields: Any) -> Invoice:
    return Invoice(
        vendor_id=contract.vendor_id,
        contract=contract,
        period_start=period.start,
        period_end=period.end,
        currency=contract.currency,
        **fields,
    )


def _rounding(amount: Decimal, currency: str) -> dict[str, str]:
    """What a line keeps of its exact amount; and, where Stripe charges the currency only in coarser
    steps (three-decimal currencies: multiples of 10), the step it was rounded to, shown to the vendor."""
    step = line_step(currency)
    return {"exact_minor": str(amount), **({"rounded_to_minor": str(step)} if step != 1 else {})}


@dataclass
class Built:
    """What a rebuild stored for one draft: its lines, and the outcomes its usage lines bill."""

    lines: list[InvoiceLine] = field(default_factory=list)
    billed: list[int] = field(default_factory=list)


def _build(invoices: list[Invoice], now: dt.datetime) -> dict[int, Built]:
    """Replace these drafts' lines with freshly computed ones: one set of queries for all of them.
    Assumes the invoice rows are locked (with their contracts selected) and are drafts. Returns what
    was stored, by invoice id."""
    if not invoices:
        return {}
    built = _rate(invoices, lock=True)

    ids = [invoice.pk for invoice in invoices]
    # By the lines' ids, read first: a join from the line-outcome table (millions of rows) is a plan
    # the planner may pick while the tables' statistics still describe them as (nearly) empty.
    old_lines = list(InvoiceLine.objects.filter(invoice_id__in=ids).values_list("id", flat=True))
    if old_lines:
        LineOutcome.objects.filter(line_id__in=old_lines).delete()
        InvoiceLine.objects.filter(pk__in=old_lines).delete()
    stored = InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            position=position,
            kind=line.kind,
            description=line.description[:300],
            outcome_type_key=line.outcome_type_key,
            version_id=line.version_id,
            tier=line.tier,
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount_minor=round_line(line.amount, invoice.currency),
            details={**line.details, **_rounding(line.amount, invoice.currency)},
        )
        for invoice, (lines, _) in zip(invoices, built, strict=True)
        for position, line in enumerate(lines, start=1)
    )
    drafted = [line for lines, _ in built for line in lines]
    insert_rows(
        LineOutcome,
        ("line_id", "outcome_id", "share_minor"),
        (
            (line.pk, outcome_id, text)
            for line, draft_line in zip(stored, drafted, strict=True)
            for outcome_id, text in _share_texts(draft_line.shares)
        ),
    )
    result = {invoice.pk: Built() for invoice in invoices}
    for line, draft_line in zip(stored, drafted, strict=True):
        result[line.invoice_id].lines.append(line)
        if line.kind == LineKind.USAGE:
            result[line.invoice_id].billed.extend(draft_line.shares)
    for invoice, (_, held) in zip(invoices, built, strict=True):
        invoice.total_minor = sum(line.amount_minor for line in result[invoice.pk].lines)
        invoice.held_over_cap = held
        invoice.built_at = now
        invoice.approval_status = approval_status_after_rebuild(invoice)
    update_rows(Invoice, invoices, ["total_minor", "held_over_cap", "built_at", "approval_status"])
    return result


def _locked(queryset: Any) -> list[Invoice]:
    """Lock invoices (and their contracts, as each build reads them) in one order, so that batches
    running side by side never deadlock."""
    return list(
        queryset.select_for_update().select_related("contract").order_by("contract_id", "period_start")
    )


def _locked_in_order(invoice_ids: Sequence[int]) -> list[Invoice]:
    """Lock these invoices (see _locked); returned in the order of `invoice_ids`, each once."""
    invoices = {invoice.pk: invoice for invoice in _locked(Invoice.objects.filter(pk__in=invoice_ids))}
    missing = set(invoice_ids) - set(invoices)
    if missing:
        raise Invoice.DoesNotExist(f"No invoice {min(missing)}.")
    return [invoices[invoice_id] for invoice_id in dict.fromkeys(invoice_ids)]


def periods_close(
    *, periods: Sequence[tuple[Any, dt.datetime]], now: dt.datetime | None = None
) -> list[Invoice]:
    """Close many periods (contract id, a moment in the period) at once: create each one's draft
    invoice, or rebuild it while it is still a draft, all in one transaction with one set of queries.
    Idempotent: the database holds one invoice per (contract, period), however often or concurrently
    this runs. Returns the invoices in the order of `periods`."""
    now = now or timezone.now()
    pk = Contract._meta.pk
    assert pk is not None
    contracts = Contract.objects.in_bulk({pk.to_python(contract_id) for contract_id, _ in periods})
    closing: list[tuple[Contract, Period]] = []
    for contract_id, start in periods:
        contract = contracts.get(pk.to_python(contract_id))
        if contract is None:
            raise Contract.DoesNotExist(f"No contract {contract_id}.")
        period = contract_period(contract, start)
        if period.end > now:
            raise ValueError(f"The period ending {period.end.isoformat()} has not ended yet.")
        closing.append((contract, period))
    with transaction.atomic():
        # Closed before (or concurrently): the one that exists stays, and is rebuilt if still a draft.
        Invoice.objects.bulk_create(
            sorted(
                (
                    _unsaved_invoice(
                        contract,
                        period,
                        finalize_after=period.end + dt.timedelta(hours=contract.grace_period_hours),
                        built_at=now,
                    )
                    for contract, period in closing
                ),
                key=lambda invoice: (str(invoice.contract_id), invoice.period_start),
            ),
            ignore_conflicts=True,
        )
        wanted = {(contract.pk, period.start) for contract, period in closing}
        invoices = {
            (invoice.contract_id, invoice.period_start): invoice
            for invoice in _locked(
                Invoice.objects.filter(
                    contract_id__in=contracts, period_start__in={start for _, start in wanted}
                )
            )
            if (invoice.contract_id, invoice.period_start) in wanted
        }
        _build([invoice for invoice in invoices.values() if invoice.is_draft], now)
    return [invoices[(contract.pk, period.start)] for contract, period in closing]


def period_close(*, contract_id: Any, period_start: dt.datetime, now: dt.datetime | None = None) -> Invoice:
    """Close one period (see periods_close)."""
    [invoice] = periods_close(periods=[(contract_id, period_start)], now=now)
    return invoice


def invoices_rebuild(*, invoice_ids: Sequence[int], now: dt.datetime | None = None) -> list[Invoice]:
    """Rebuild drafts from the current outcomes, all in one transaction; finalized ones stay as they are.
    Returns the invoices in the order of `invoice_ids`."""
    with transaction.atomic():
        invoices = _locked_in_order(invoice_ids)
        _build([invoice for invoice in invoices if invoice.is_draft], now or timezone.now())
    return invoices


def invoice_rebuild(*, invoice_id: int, now: dt.datetime | None = None) -> Invoice:
    [invoice] = invoices_rebuild(invoice_ids=[invoice_id], now=now)
    return invoice


def invoices_finalize(*, invoice_ids: Sequence[int], now: dt.datetime | None = None) -> list[Invoice]:
    """Freeze drafts, all in one transaction with one set of queries: a final rebuild, gapless numbers
    per vendor (in the order of `invoice_ids`), outcomes billed, credits carried. A draft whose total
    waits for the customer's approval stays a draft; a finalized invoice is left as it is, so repeating
    does nothing. Returns the invoices in the order of `invoice_ids`."""
    now = now or timezone.now()
    with transaction.atomic():
        invoices = _locked_in_order(invoice_ids)
        drafts = [invoice for invoice in invoices if invoice.is_draft]  # finalized ones return early
        built = _build(drafts, now)
        # A draft over its approval threshold stays a draft until the customer approves this total.
        finalizing = [invoice for invoice in drafts if invoice.approval_status != ApprovalStatus.PENDING]
        if not finalizing:
            return invoices
        billed = [(invoice, built[invoice.pk].billed) for invoice in finalizing]
        # Locked by the rebuild (billable, never billed): the state guard only restates it.
        Outcome.objects.filter(
            pk__in=any_of(outcome_id for _, ids in billed for outcome_id in ids), state=OutcomeState.BILLABLE
        ).update(state=OutcomeState.BILLED, billed_at=now, updated_at=now)
        _number(finalizing)
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
                for invoice, ids in billed
                for details in [json.dumps({"invoice_id": invoice.pk, "invoice_number": invoice.number})]
                for outcome_id in ids
            ),
        )
        CreditEntry.objects.bulk_create(_credit_entries(finalizing, built, now))
        for invoice in finalizing:
            invoice.status = InvoiceStatus.FINALIZED
            invoice.finalized_at = now
        update_rows(Invoice, finalizing, ["number", "status", "finalized_at"])
    return invoices


def _number(invoices: list[Invoice]) -> None:
    """Give each invoice the next number of its vendor's counter, in the invoices' order. The counters
    are created if missing and locked in key order, so batches running side by side never deadlock;
    a batch waits here only for an earlier batch of the same vendor to commit, so numbers have no gaps."""
    vendors = sorted({invoice.vendor_id for invoice in invoices})
    InvoiceCounter.objects.bulk_create(
        [InvoiceCounter(vendor_id=vendor_id) for vendor_id in vendors], ignore_conflicts=True
    )
    counters = list(
        InvoiceCounter.objects.select_for_update().filter(vendor_id__in=vendors).order_by("vendor_id")
    )
    next_number = {counter.vendor_id: counter.next_number for counter in counters}
    for invoice in invoices:
        invoice.number = next_number[invoice.vendor_id]
        next_number[invoice.vendor_id] += 1
    for counter in counters:
        counter.next_number = next_number[counter.vendor_id]
    update_rows(InvoiceCounter, counters, ["next_number"])


def _credit_entries(invoices: list[Invoice], built: dict[int, Built], now: dt.datetime) -> list[CreditEntry]:
    """Credits beyond an invoice's charges carry forward; the credit it applied is consumed."""
    entries = []
    for invoice in invoices:
        applied = -sum(
            line.amount_minor for line in built[invoice.pk].lines if line.kind == LineKind.CREDIT_APPLIED
        )
        if invoice.total_minor < 0 or applied:
            entries.append(
                CreditEntry(
                    contract_id=invoice.contract_id,
                    invoice=invoice,
                    amount_minor=max(-invoice.total_minor, 0) - applied,
                    at=now,
                )
            )
    return entries


def invoice_finalize(*, invoice_id: int, now: dt.datetime | None = None) -> Invoice:
    """Finalize one draft (see invoices_finalize)."""
    [invoice] = invoices_finalize(invoice_ids=[invoice_id], now=now)
    return invoice


# --- re-rating a finalized invoice (credit notes) ---------------------------------------------


def invoice_charges(*, invoice: Invoice) -> int:
    """What the invoice charged for its own period: its lines but credits carried in from elsewhere
    (clawback and credit-balance lines of invoices built before credit notes existed)."""
    return sum(
        line.amount_minor
        for line in invoice.lines.all()
        if line.kind not in (LineKind.CLAWBACK, LineKind.CREDIT_APPLIED)
    )


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
    _audit_samples([draft])
    lines, _ = _draft_lines(draft, {v.pk: v for v in versions}, versions, types, 0)
    return sum(round_line(line.amount, invoice.currency) for line in lines)


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


def periods_in_batches(
    periods: Sequence[tuple[Any, dt.datetime]], size: int = CLOSE_BATCH
) -> Iterator[list[tuple[Any, dt.datetime]]]:
    """Cut (contract, period start) pairs into batches of about `size` for periods_close, keeping a
    contract's periods in one batch (an earlier open draft takes what became billable in its period,
    so a contract's periods are best closed together, oldest first)."""
    batch: list[tuple[Any, dt.datetime]] = []
    for item in sorted(periods, key=lambda item: (str(item[0]), item[1])):
        if len(batch) >= size and str(batch[-1][0]) != str(item[0]):
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch


def invoices_due_for_finalize(*, now: dt.datetime) -> list[int]:
    return list(
        Invoice.objects.filter(status=InvoiceStatus.DRAFT, finalize_after__lte=now)
        .exclude(approval_status=ApprovalStatus.PENDING)  # not rebuilt in a loop while it waits
        .order_by("finalize_after", "id")
        .values_list("id", flat=True)
    )


def invoices_in_batches(invoice_ids: Sequence[int], size: int = FINALIZE_BATCH) -> Iterator[list[int]]:
    """Cut invoice ids into batches of `size` for invoices_finalize, keeping their order (numbers follow it)."""
    for start in range(0, len(invoice_ids), size):
        yield list(invoice_ids[start : start + size])

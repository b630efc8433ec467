"""Reads of the outcomes app, scoped to one vendor like every selector."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from django.db.models import Prefetch, QuerySet

from contracts.errors import NotFound
from contracts.models import Contract, Customer, OutcomeType, Vendor, WebhookSource
from outcomes.models import (
    AuditSample,
    Delivery,
    Dispute,
    Outcome,
    OutcomeEvent,
    OutcomeState,
    OutcomeTransition,
    RawEvent,
)


def outcome_list(
    *,
    vendor: Vendor,
    contract_id: Any = None,
    outcome_type: str | None = None,
    state: str | None = None,
    occurred_from: dt.datetime | None = None,
    occurred_to: dt.datetime | None = None,
    source_id: Any = None,
    search: str | None = None,
) -> QuerySet[Outcome]:
    queryset = Outcome.objects.filter(vendor=vendor)
    if search and search.strip():
        queryset = queryset.filter(pk__in=_search_outcome_ids(vendor=vendor, term=search.strip()))
    if contract_id:
        queryset = queryset.filter(contract_id=contract_id)
    if outcome_type:
        queryset = queryset.filter(outcome_type_key=outcome_type)
    if state:
        queryset = queryset.filter(state=state)
    if source_id:
        queryset = queryset.filter(source_id=source_id)
    if occurred_from:
        queryset = queryset.filter(occurred_at__gte=occurred_from)
    if occurred_to:
        queryset = queryset.filter(occurred_at__lt=occurred_to)
    return queryset


def _search_outcome_ids(*, vendor: Vendor, term: str) -> list[int]:
    """Outcomes whose id, natural key, or one of whose events' id is exactly `term`.

    Each lookup goes through a unique index whatever the table's size: (contract, outcome type, natural
    key) probed for each of the vendor's contracts and outcome types, and (source, event id) for each
    of its webhook sources; the outcome id is the primary key. No index on a natural key alone is needed.
    """
    contract_ids = list(Contract.objects.filter(vendor=vendor).values_list("id", flat=True))
    type_keys = list(
        OutcomeType.objects.filter(version__contract__vendor=vendor).values_list("key", flat=True).distinct()
    )
    source_ids = list(WebhookSource.objects.filter(vendor=vendor).values_list("id", flat=True))
    found = set(
        Outcome.objects.filter(
            contract_id__in=contract_ids, outcome_type_key__in=type_keys, natural_key=term
        ).values_list("id", flat=True)
    )
    found.update(
        OutcomeEvent.objects.filter(
            raw_event__source_id__in=source_ids, raw_event__event_id=term
        ).values_list("outcome_id", flat=True)
    )
    if term.isdigit() and int(term) < 2**63:
        found.update(Outcome.objects.filter(vendor=vendor, pk=int(term)).values_list("id", flat=True))
    return sorted(found)


def outcome_state_counts(*, outcomes: QuerySet[Outcome], cap: int) -> dict[str, int] | None:
    """How many of `outcomes` are in each state, or None when more than `cap` match: the cost is bounded
    by reading at most `cap + 1` rows' states, so a broad filter over a large table stays cheap."""
    states = list(outcomes.order_by().values_list("state", flat=True)[: cap + 1])
    if len(states) > cap:
        return None
    counts = Counter(states)
    return {state: counts[state] for state in OutcomeState.values if counts[state]}


def outcome_get(*, vendor: Vendor, outcome_id: Any) -> Outcome:
    """One outcome with its raw events and transitions: its whole trail so far."""
    if not str(outcome_id).isdigit():
        raise NotFound("No such outcome.")
    outcome = (
        Outcome.objects.filter(vendor=vendor, pk=int(outcome_id))
        .select_related("contract", "version", "source", "dispute", "audit_sample")
        .prefetch_related(
            Prefetch("transitions", queryset=OutcomeTransition.objects.order_by("at", "id")),
            "verdicts",
            "review_decisions",
        )
        .first()
    )
    if outcome is None:
        raise NotFound("No such outcome.")
    return outcome


def outcome_raw_events(*, outcome: Outcome) -> QuerySet[RawEvent]:
    return (
        RawEvent.objects.filter(outcome_link__outcome=outcome)
        .select_related("source", "delivery")
        .order_by("occurred_at", "id")
    )


def outcome_invoice_lines(*, outcome: Outcome) -> QuerySet[Any]:
    """The invoice lines that billed or credited this outcome, oldest first. Settlement links its lines
    to outcomes (LineOutcome); reading that reverse relation keeps this app free of imports from it."""
    return outcome.line_links.select_related("line__invoice").order_by("line__invoice_id", "line__position")


def delivery_list(*, source: WebhookSource) -> QuerySet[Delivery]:
    return Delivery.objects.filter(source=source).select_related("result")


def delivery_get(*, source: WebhookSource, delivery_id: Any) -> Delivery:
    delivery = None
    if str(delivery_id).isdigit():
        delivery = (
            Delivery.objects.filter(source=source, pk=int(delivery_id)).select_related("result").first()
        )
    if delivery is None:
        raise NotFound("No such delivery.")
    return delivery


def outcome_list_for_customer(*, customer: Customer, **filters: Any) -> QuerySet[Outcome]:
    """A customer's key sees its own contracts' outcomes only."""
    return outcome_list(vendor=customer.vendor, **filters).filter(contract__customer=customer)


def outcome_get_for_customer(*, customer: Customer, outcome_id: Any) -> Outcome:
    outcome = outcome_get(vendor=customer.vendor, outcome_id=outcome_id)
    if outcome.contract.customer_id != customer.pk:
        raise NotFound("No such outcome.")
    return outcome


def review_queue(*, vendor: Vendor) -> QuerySet[Outcome]:
    """Flagged outcomes, waiting for a person."""
    return (
        Outcome.objects.filter(vendor=vendor, state=OutcomeState.FLAGGED)
        .select_related("contract")
        .prefetch_related("verdicts", "review_decisions")
    )


def dispute_list(*, vendor: Vendor, status: str | None = None) -> QuerySet[Dispute]:
    queryset = Dispute.objects.filter(outcome__vendor=vendor).select_related("outcome__contract")
    return queryset.filter(status=status) if status else queryset


def dispute_get(*, vendor: Vendor, dispute_id: Any) -> Dispute:
    dispute = None
    if str(dispute_id).isdigit():
        dispute = Dispute.objects.filter(outcome__vendor=vendor, pk=int(dispute_id)).first()
    if dispute is None:
        raise NotFound("No such dispute.")
    return dispute


def audit_sample_get(*, outcome: Outcome) -> AuditSample:
    sample = AuditSample.objects.filter(outcome=outcome).first()
    if sample is None:
        raise NotFound("This outcome was not sampled for audit.", code="not_sampled")
    return sample

"""Reads of the outcomes app, scoped to one vendor like every selector."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Prefetch, QuerySet

from contracts.errors import NotFound
from contracts.models import Customer, Vendor, WebhookSource
from outcomes.models import AuditSample, Delivery, Dispute, Outcome, OutcomeState, OutcomeTransition, RawEvent


def outcome_list(
    *,
    vendor: Vendor,
    contract_id: Any = None,
    outcome_type: str | None = None,
    state: str | None = None,
    occurred_from: dt.datetime | None = None,
    occurred_to: dt.datetime | None = None,
) -> QuerySet[Outcome]:
    queryset = Outcome.objects.filter(vendor=vendor)
    if contract_id:
        queryset = queryset.filter(contract_id=contract_id)
    if outcome_type:
        queryset = queryset.filter(outcome_type_key=outcome_type)
    if state:
        queryset = queryset.filter(state=state)
    if occurred_from:
        queryset = queryset.filter(occurred_at__gte=occurred_from)
    if occurred_to:
        queryset = queryset.filter(occurred_at__lt=occurred_to)
    return queryset


def outcome_get(*, vendor: Vendor, outcome_id: Any) -> Outcome:
    """One outcome with its raw events and transitions: its whole trail so far."""
    if not str(outcome_id).isdigit():
        raise NotFound("No such outcome.")
    outcome = (
        Outcome.objects.filter(vendor=vendor, pk=int(outcome_id))
        .select_related("contract", "version")
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
    return RawEvent.objects.filter(outcome_link__outcome=outcome).order_by("occurred_at", "id")


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
    return Outcome.objects.filter(vendor=vendor, state=OutcomeState.FLAGGED).prefetch_related("verdicts")


def dispute_list(*, vendor: Vendor, status: str | None = None) -> QuerySet[Dispute]:
    queryset = Dispute.objects.filter(outcome__vendor=vendor).select_related("outcome")
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

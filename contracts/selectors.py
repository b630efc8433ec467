"""Reads of the contracts app, always scoped to one vendor: another vendor's object is NotFound."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import TypeVar

from django.db.models import Count, Model, Prefetch, Q, QuerySet

from contracts.models import (
    ApiKey,
    AuditEntry,
    Contract,
    ContractStatus,
    ContractVersion,
    Customer,
    CustomerCap,
    CustomerMembership,
    Membership,
    OutcomeType,
    Vendor,
    WebhookSource,
)
from core import crypto
from core.cache import TTLCache
from core.errors import NotFound

M = TypeVar("M", bound=Model)


def _get_or_404(queryset: QuerySet[M], object_id: str | uuid.UUID, what: str) -> M:
    try:
        pk = uuid.UUID(str(object_id))
    except ValueError:
        raise NotFound(f"No such {what}.") from None
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise NotFound(f"No such {what}.")
    return obj


def customer_list(
    *,
    vendor: Vendor,
    external_ref: str | None = None,
    search: str | None = None,
    with_contract_counts: bool = False,
) -> QuerySet[Customer]:
    """`with_contract_counts` adds each customer's `contract_count` and `active_contract_count`."""
    queryset = Customer.objects.filter(vendor=vendor)
    if external_ref:
        queryset = queryset.filter(external_ref=external_ref)
    if search:
        queryset = queryset.filter(name__icontains=search)
    if with_contract_counts:
        queryset = queryset.annotate(
            contract_count=Count("contracts"),
            active_contract_count=Count("contracts", filter=Q(contracts__status=ContractStatus.ACTIVE)),
        )
    return queryset


def customer_get(*, vendor: Vendor, customer_id: str | uuid.UUID) -> Customer:
    return _get_or_404(
        Customer.objects.select_related("vendor").filter(vendor=vendor), customer_id, "customer"
    )


def _with_terms(queryset: QuerySet[Contract]) -> QuerySet[Contract]:
    return queryset.select_related("vendor", "customer").prefetch_related(
        Prefetch(
            "versions",
            queryset=ContractVersion.objects.order_by("number").prefetch_related(
                Prefetch("outcome_types", queryset=OutcomeType.objects.order_by("key"))
            ),
        )
    )


def contract_list(
    *,
    vendor: Vendor,
    status: str | None = None,
    customer_id: str | None = None,
    currency: str | None = None,
    reference: str | None = None,
    in_force_at: dt.datetime | None = None,
    search: str | None = None,
) -> QuerySet[Contract]:
    queryset = _with_terms(Contract.objects.filter(vendor=vendor))
    if status:
        queryset = queryset.filter(status=status)
    if customer_id:
        queryset = queryset.filter(customer_id=customer_id)
    if currency:
        queryset = queryset.filter(currency=currency.upper())
    if reference:
        queryset = queryset.filter(reference=reference)
    if search:
        queryset = queryset.filter(Q(reference__icontains=search) | Q(customer__name__icontains=search))
    if in_force_at is not None:
        queryset = (
            queryset.exclude(status=ContractStatus.DRAFT)
            .filter(starts_at__lte=in_force_at)
            .exclude(ends_at__lte=in_force_at)
        )
    return queryset


def contract_get(*, vendor: Vendor, contract_id: str | uuid.UUID) -> Contract:
    return _get_or_404(_with_terms(Contract.objects.filter(vendor=vendor)), contract_id, "contract")


def contract_get_for_customer(*, customer: Customer, contract_id: str | uuid.UUID) -> Contract:
    """One of the customer's own contracts; another customer's is not found."""
    return _get_or_404(Contract.objects.filter(customer=customer), contract_id, "contract")


def contract_list_for_customer(*, customer: Customer) -> QuerySet[Contract]:
    """The customer's contracts with their terms, newest first; the vendor's drafts are the vendor's."""
    return _with_terms(Contract.objects.filter(customer=customer).exclude(status=ContractStatus.DRAFT))


def contract_get_with_terms_for_customer(*, customer: Customer, contract_id: str | uuid.UUID) -> Contract:
    """One of the customer's own contracts (not a draft) with its versions; another's is not found."""
    return _get_or_404(contract_list_for_customer(customer=customer), contract_id, "contract")


def customer_cap_list(*, contract: Contract) -> QuerySet[CustomerCap]:
    """The customer's own caps on a contract (rule 11a), by outcome type."""
    return (
        CustomerCap.objects.filter(contract=contract).select_related("contract").order_by("outcome_type_key")
    )


def customer_cap_get(*, contract: Contract, outcome_type_key: str) -> CustomerCap:
    cap = customer_cap_list(contract=contract).filter(outcome_type_key=outcome_type_key).first()
    if cap is None:
        raise NotFound(f"No cap of the customer's own on {outcome_type_key!r}.")
    return cap


def contract_version_get(*, contract: Contract, number: int) -> ContractVersion:
    version = contract.versions.filter(number=number).prefetch_related("outcome_types").first()
    if version is None:
        raise NotFound(f"Contract {contract.reference} has no version {number}.")
    return version


def contract_version_in_force(*, contract: Contract, at: dt.datetime) -> ContractVersion | None:
    """The version whose terms governed `at`: the latest with effective_from <= at, within the
    contract's [starts_at, ends_at). None for a draft, or outside the contract's life.

    Instants are compared in UTC, so a DST change in the contract's zone cannot shift a boundary.
    """
    if contract.status == ContractStatus.DRAFT:
        return None
    if at < contract.starts_at or (contract.ends_at is not None and at >= contract.ends_at):
        return None
    return (
        ContractVersion.objects.filter(contract=contract, effective_from__lte=at)
        .order_by("-effective_from")
        .prefetch_related("outcome_types")
        .first()
    )


def api_key_list(*, vendor: Vendor) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(vendor=vendor)


def api_key_get(*, vendor: Vendor, api_key_id: str | uuid.UUID) -> ApiKey:
    return _get_or_404(ApiKey.objects.select_related("vendor").filter(vendor=vendor), api_key_id, "API key")


def api_key_list_for_customer(*, customer: Customer) -> QuerySet[ApiKey]:
    """The customer's own keys: those the vendor issued to it and those its admins created."""
    return ApiKey.objects.filter(vendor_id=customer.vendor_id, customer=customer).select_related("created_by")


def api_key_get_for_customer(*, customer: Customer, api_key_id: str | uuid.UUID) -> ApiKey:
    return _get_or_404(
        api_key_list_for_customer(customer=customer).select_related("vendor"), api_key_id, "API key"
    )


def webhook_source_list(
    *, vendor: Vendor, customer_id: str | None = None, include_revoked: bool = True
) -> QuerySet[WebhookSource]:
    queryset = (
        WebhookSource.objects.filter(vendor=vendor).select_related("customer").prefetch_related("secrets")
    )
    if customer_id:
        queryset = queryset.filter(customer_id=customer_id)
    if not include_revoked:
        queryset = queryset.filter(revoked_at__isnull=True)
    return queryset


def webhook_source_get(*, vendor: Vendor, source_id: str | uuid.UUID) -> WebhookSource:
    return _get_or_404(
        WebhookSource.objects.select_related("vendor", "customer").filter(vendor=vendor),
        source_id,
        "webhook source",
    )


def webhook_source_list_for_customer(*, customer: Customer) -> QuerySet[WebhookSource]:
    """The customer's own systems of record (never the vendor's agent, whose secret is the vendor's)."""
    return WebhookSource.objects.filter(
        vendor_id=customer.vendor_id, customer=customer, kind=WebhookSource.Kind.CUSTOMER_SYSTEM
    ).prefetch_related("secrets")


def webhook_source_get_for_customer(*, customer: Customer, source_id: str | uuid.UUID) -> WebhookSource:
    return _get_or_404(
        webhook_source_list_for_customer(customer=customer).select_related("vendor", "customer"),
        source_id,
        "webhook source",
    )


def webhook_source_live_secrets(*, source: WebhookSource, at: dt.datetime) -> list[str]:
    """The decrypted secrets that verify signatures at `at` (newest first): more than one during a rotation."""
    return [
        crypto.decrypt(secret.secret_encrypted)
        for secret in source.secrets.all()
        if secret.expires_at is None or secret.expires_at > at
    ]


# How long a process may answer from its own copy of a source's secrets and revocation state. The
# services that revoke or rotate forget the copy of their own process at once; other processes
# (other gunicorn workers) see the change within this many seconds.
WEBHOOK_SOURCE_CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class WebhookSourceFacts:
    """What the webhook endpoint needs of a source: its owner, revocation and decrypted secrets."""

    id: uuid.UUID
    vendor_id: uuid.UUID
    customer_id: uuid.UUID
    revoked_at: dt.datetime | None
    secrets: tuple[tuple[str, dt.datetime | None], ...]  # (secret, expires_at), newest first

    def live_secrets(self, at: dt.datetime) -> list[str]:
        """Same answer as webhook_source_live_secrets, from these facts."""
        return [secret for secret, expires_at in self.secrets if expires_at is None or expires_at > at]


_webhook_source_cache: TTLCache[uuid.UUID, WebhookSourceFacts] = TTLCache(
    seconds=WEBHOOK_SOURCE_CACHE_SECONDS, max_entries=10_000
)


def webhook_source_facts(*, source_id: uuid.UUID, fresh: bool = False) -> WebhookSourceFacts | None:
    """A source's facts in one query, or from this process's copy if younger than
    WEBHOOK_SOURCE_CACHE_SECONDS (unless `fresh`). None for an unknown source (never cached)."""
    if not fresh:
        cached = _webhook_source_cache.get(source_id)
        if cached is not None:
            return cached
    rows = list(
        WebhookSource.objects.filter(pk=source_id)
        .order_by("-secrets__created_at", "-secrets__id")
        .values_list(
            "vendor_id", "customer_id", "revoked_at", "secrets__secret_encrypted", "secrets__expires_at"
        )
    )
    if not rows:
        _webhook_source_cache.forget(source_id)
        return None
    vendor_id, customer_id, revoked_at = rows[0][:3]
    facts = WebhookSourceFacts(
        id=source_id,
        vendor_id=vendor_id,
        customer_id=customer_id,
        revoked_at=revoked_at,
        secrets=tuple(
            (crypto.decrypt(encrypted), expires_at)
            for *_, encrypted, expires_at in rows
            if encrypted is not None
        ),
    )
    _webhook_source_cache.put(source_id, facts)
    return facts


def webhook_source_forget(*, source_id: uuid.UUID) -> None:
    """Drop this process's copy of a source's facts (after a revocation or a rotation)."""
    _webhook_source_cache.forget(source_id)


def audit_entry_list(
    *, vendor: Vendor, actor: str | None = None, action: str | None = None
) -> QuerySet[AuditEntry]:
    queryset = AuditEntry.objects.filter(vendor=vendor)
    if actor:
        queryset = queryset.filter(actor__icontains=actor)
    if action:
        queryset = queryset.filter(action=action)
    return queryset


def audit_action_list(*, vendor: Vendor) -> list[str]:
    """The actions recorded for a vendor so far (for a filter's choices)."""
    return list(
        AuditEntry.objects.filter(vendor=vendor)
        .order_by("action")
        .values_list("action", flat=True)
        .distinct()
    )


def membership_list(*, vendor: Vendor) -> QuerySet[Membership]:
    return Membership.objects.filter(vendor=vendor).select_related("user").order_by("user__email", "pk")


def membership_get(*, vendor: Vendor, membership_id: str | int) -> Membership:
    try:
        pk = int(membership_id)
    except (TypeError, ValueError):
        raise NotFound("No such member.") from None
    membership = membership_list(vendor=vendor).filter(pk=pk).first()
    if membership is None:
        raise NotFound("No such member.")
    return membership


def customer_member_list(*, customer: Customer) -> QuerySet[CustomerMembership]:
    return (
        CustomerMembership.objects.filter(customer=customer)
        .select_related("user", "customer__vendor")
        .order_by("user__email", "pk")
    )


def customer_member_get(
    *, vendor: Vendor, customer: Customer, customer_member_id: str | int
) -> CustomerMembership:
    """One member of one of the vendor's customers; another vendor's, or another customer's, is NotFound."""
    member = None
    if str(customer_member_id).isdigit():
        member = (
            customer_member_list(customer=customer)
            .filter(customer__vendor=vendor, pk=int(customer_member_id))
            .first()
        )
    if member is None:
        raise NotFound("No such member.")
    return member


def customer_memberships_of(*, user_id: int) -> QuerySet[CustomerMembership]:
    """The customers a person belongs to, across vendors, with each vendor (for the customer switcher)."""
    return (
        CustomerMembership.objects.filter(user_id=user_id)
        .select_related("customer__vendor")
        .order_by("customer__vendor__name", "customer__name", "pk")
    )

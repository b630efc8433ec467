"""The facts of the contracts a delivery's events cite, read for the whole batch and cached briefly."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from contracts.models import Contract, ContractStatus, OutcomeType
from contracts.selectors import WebhookSourceFacts
from core.cache import TTLCache

# An outcome type's natural_key_field over the contract's versions: (effective_from, field) from the
# first version, with an entry only where a later version renames it (usually one entry).
NaturalKeyFields = tuple[tuple[dt.datetime, str], ...]


@dataclass(frozen=True)
class ContractFacts:
    id: uuid.UUID
    currency: str
    status: str
    outcome_type_keys: frozenset[str]
    natural_key_fields: Mapping[str, NaturalKeyFields]  # by outcome type key


# A contract's facts, per (vendor, customer, reference), for CONTRACT_CACHE_SECONDS. Only contracts
# past draft are kept: their currency no longer changes and their outcome types only grow (an
# amendment adds a version), and an outcome type missing from a kept copy is looked up afresh;
# so the copy answers exactly as the database would. (One exception, for those seconds: an amendment
# effective at once that renames a natural_key_field is not yet seen by events that name no natural_key.)
CONTRACT_CACHE_SECONDS = 5.0
contract_cache: TTLCache[tuple[uuid.UUID, uuid.UUID, str], ContractFacts] = TTLCache(
    seconds=CONTRACT_CACHE_SECONDS, max_entries=10_000
)


def _fetch_contracts(source: WebhookSourceFacts, references: set[str]) -> dict[str, ContractFacts]:
    """The source customer's contracts by reference: two queries for the whole batch."""
    rows = list(
        Contract.objects.filter(
            vendor_id=source.vendor_id, customer_id=source.customer_id, reference__in=references
        ).values_list("id", "reference", "currency", "status")
    )
    fields: dict[uuid.UUID, dict[str, NaturalKeyFields]] = {row[0]: {} for row in rows}
    if fields:
        for contract_id, key, effective_from, natural_key_field in (
            OutcomeType.objects.filter(version__contract_id__in=fields)
            .order_by("version__effective_from")
            .values_list("version__contract_id", "key", "version__effective_from", "natural_key_field")
        ):
            known = fields[contract_id].get(key, ())
            if not known or known[-1][1] != natural_key_field:
                fields[contract_id][key] = (*known, (effective_from, natural_key_field))
    return {
        reference: ContractFacts(
            contract_id, currency, status, frozenset(fields[contract_id]), fields[contract_id]
        )
        for contract_id, reference, currency, status in rows
    }


def contracts_of(source: WebhookSourceFacts, wanted: dict[str, set[str]]) -> dict[str, ContractFacts]:
    """Facts of the contracts events cite (reference -> outcome types cited), cached when safe."""
    now = time.monotonic()
    found: dict[str, ContractFacts] = {}
    missing: set[str] = set()
    for reference, outcome_types in wanted.items():
        cached = contract_cache.get((source.vendor_id, source.customer_id, reference), now=now)
        if cached is not None and outcome_types <= cached.outcome_type_keys:
            found[reference] = cached
        else:
            missing.add(reference)
    if missing:
        fetched = _fetch_contracts(source, missing)
        for reference, facts in fetched.items():
            if facts.status != ContractStatus.DRAFT:
                contract_cache.put((source.vendor_id, source.customer_id, reference), facts, now=now)
        found.update(fetched)
    return found

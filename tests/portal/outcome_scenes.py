"""Outcomes for the portal's tests, made the way production makes them: signed webhooks into the
real endpoint, verified by the same pipeline (the scenes of tests/outcomes/test_api_verification.py)."""

from __future__ import annotations

from typing import Any

import time_machine

from contracts.models import Vendor
from outcomes.models import Dispute, Outcome
from outcomes.services.review import dispute_open
from tests.outcomes.test_api_verification import T0, VELOCITY, Scene, terms
from tests.support.ingest import Ingest, make_ingest
from tests.support.vendors import make_vendor_api

__all__ = ["T0", "Scene", "at_t0", "disputed", "flagged_ingest", "ingest_for"]


def at_t0() -> time_machine.travel:
    """The scenes date their events from T0 (two weeks of history before it): build them at T0."""
    return time_machine.travel(T0, tick=False)


def ingest_for(vendor: Vendor, *, reference: str = "CTR-ingest", **policy: Any) -> Ingest:
    """An active contract of `vendor` with its webhook sources (a policy overriding the defaults)."""
    return make_ingest(
        make_vendor_api(vendor), reference=reference, terms=terms(**policy) if policy else None
    )


def flagged_ingest(
    scene: Scene, vendor: Vendor, reference: str = "CTR-burst", burst: int = 10
) -> tuple[Ingest, list[int]]:
    """Two weeks of three a day, then `burst` in one day: those are flagged for velocity (inflation)."""
    ingest = ingest_for(vendor, reference=reference, **VELOCITY)
    return ingest, scene.velocity_flagged(ingest, burst=burst)


def disputed(scene: Scene, vendor: Vendor, key: str = "T-disputed") -> Dispute:
    """A billable outcome the customer disputes (through the same service the customer API calls)."""
    ingest = ingest_for(vendor, reference=f"CTR-{key}")
    (outcome_id,) = scene.billable(ingest, key)
    outcome = Outcome.objects.get(pk=outcome_id)
    return dispute_open(outcome=outcome, reason="Our own staff solved it.", actor="api_key:customer")

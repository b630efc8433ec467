"""Domain events: what a domain app says happened, recorded in the caller's own transaction.

A domain service calls `events_publish(...)` beside the change that causes the event; whoever listens
(the outbound webhooks' outbox, `notifications`) registered a recorder at start-up and writes in that
same transaction, so the change and its event commit or roll back together. A slot rather than a
signal: the domain apps never import the listener, one recorder is called explicitly, and with none
registered nothing is recorded (the domain works the same).

Each domain app declares the event types it publishes (`<app>/domain_events.py`: name, audience, JSON
schema of `data`, an example); the listener reads those catalogues for its documentation and checks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# Who may receive an event type: the vendor's endpoints always; the customer's endpoints only for types
# about its own contracts that carry nothing of the vendor's internals.
VENDOR = "vendor"
CUSTOMER = "customer"


@dataclass(frozen=True, slots=True)
class EventType:
    """One entry of the catalogue: the event's name, what it says, who receives it, its data's shape."""

    name: str
    summary: str
    object: str  # the kind of object the event is about: "outcome", "invoice", "contract", ...
    audiences: frozenset[str]
    data_schema: dict[str, Any]  # JSON Schema of the type-specific part of `data`
    example: dict[str, Any]  # an example of that part
    # Keys of the type-specific data that only the vendor's endpoints receive (review notes, internals).
    vendor_only: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """One thing that happened, about one object of one vendor (and, usually, one customer's contract)."""

    type: str
    vendor_id: Any
    object_id: str
    data: dict[str, Any]
    customer_id: Any = None
    contract_id: Any = None
    # When the object last changed (receivers order by it: delivery order is not promised).
    occurred_at: dt.datetime | None = None
    # A once-only event (a threshold per period, a deadline reminder): a second with the same key is
    # not recorded. None: every publication is a new event.
    dedup_key: str | None = None


Recorder = Callable[[Sequence[DomainEvent]], None]
_recorders: list[Recorder] = []


def events_recorder_register(recorder: Recorder) -> None:
    """Register the function that records published events (once, from an AppConfig.ready)."""
    if recorder not in _recorders:
        _recorders.append(recorder)


def events_publish(events: Sequence[DomainEvent]) -> None:
    """Hand events to the registered recorders, in the caller's transaction (call it inside the
    `transaction.atomic()` that makes the change)."""
    if not events:
        return
    for recorder in _recorders:
        recorder(events)

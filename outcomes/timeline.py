"""An outcome's trail, as the portal shows it: one chronological list of what happened to it.

The trail itself is read by the same selectors as the API's trail endpoint (`outcome_get`,
`outcome_raw_events`); this module only orders it into timeline entries and makes the facts
readable (the machine codes stay beside the words).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

import orjson

from outcomes.models import Outcome, OutcomeVerdict, RawEvent

# Entries at the same instant, in the order they happened.
_KIND_ORDER = {
    "event": 0,
    "decision": 1,
    "dispute": 2,
    "dispute_resolved": 3,
    "audit": 4,
    "audit_answered": 5,
    "verification": 6,
    "transition": 7,
    "invoice": 8,
}


@dataclass(frozen=True)
class Fact:
    key: str
    value: str
    is_block: bool = False  # a nested value, shown as JSON


@dataclass
class TimelineEntry:
    at: dt.datetime
    kind: str
    title: str
    subject: Any = None  # the row this entry shows (raw event, decision, dispute, ...)
    url: str = ""
    verdicts: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class ReadableVerdict:
    verdict: OutcomeVerdict
    facts: list[Fact]


def readable_facts(facts: dict[str, Any] | None) -> list[Fact]:
    """A verdict's facts as (key, text) pairs: scalars as text, lists joined, nested values as JSON."""
    readable = []
    for key, value in (facts or {}).items():
        if isinstance(value, dict) or (
            isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value)
        ):
            readable.append(Fact(key, pretty_json(value), is_block=True))
        elif isinstance(value, list):
            readable.append(Fact(key, ", ".join(str(v) for v in value) or "none"))
        elif value is None:
            readable.append(Fact(key, "—"))
        elif isinstance(value, bool):
            readable.append(Fact(key, "yes" if value else "no"))
        else:
            readable.append(Fact(key, str(value)))
    return readable


def pretty_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def outcome_timeline(
    *,
    outcome: Outcome,
    raw_events: Iterable[RawEvent],
    invoice_links: Iterable[Any],
    invoice_url: Callable[[int], str],
) -> list[TimelineEntry]:
    """Every raw event, verification (the verdicts recorded at one instant, together), transition,
    review decision, dispute step, audit sample step and invoice line of an outcome, oldest first."""
    entries = [TimelineEntry(e.received_at, "event", e.get_kind_display(), subject=e) for e in raw_events]
    for at, group in groupby(outcome.verdict_trail, key=lambda v: v.at):
        readable = [ReadableVerdict(v, readable_facts(v.facts)) for v in group]
        title = f"Verification: {len(readable)} rule{'s' if len(readable) != 1 else ''} changed"
        entries.append(TimelineEntry(at, "verification", title, verdicts=readable))
    entries += [
        TimelineEntry(t.at, "transition", "State changed", subject=t) for t in outcome.transitions.all()
    ]
    entries += [
        TimelineEntry(d.at, "decision", "Flag decided by a person", subject=d)
        for d in outcome.review_decisions.all()
    ]
    dispute = getattr(outcome, "dispute", None)
    if dispute is not None:
        entries.append(
            TimelineEntry(dispute.opened_at, "dispute", "Disputed by the customer", subject=dispute)
        )
        if dispute.resolved_at is not None:
            entries.append(
                TimelineEntry(dispute.resolved_at, "dispute_resolved", "Dispute resolved", subject=dispute)
            )
    sample = getattr(outcome, "audit_sample", None)
    if sample is not None:
        entries.append(
            TimelineEntry(sample.selected_at, "audit", "Sampled for the customer's audit", subject=sample)
        )
        if sample.answered_at is not None:
            entries.append(
                TimelineEntry(sample.answered_at, "audit_answered", "Audit answered", subject=sample)
            )
    for link in invoice_links:
        invoice = link.line.invoice
        url = invoice_url(invoice.pk)
        entries.append(
            TimelineEntry(invoice.built_at, "invoice", "On an invoice line", subject=link, url=url)
        )
    return sorted(entries, key=lambda e: (e.at, _KIND_ORDER[e.kind]))

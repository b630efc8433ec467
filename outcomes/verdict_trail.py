"""How an outcome's verdicts are stored, and read back as the one trail everything shows.

Each evaluation that changes any of an outcome's verdicts writes one OutcomeEvaluation. Its `verdicts`
list the rules whose verdict changed, in order: an accept as [rule, reason], [rule, reason, facts] or
[rule, reason, facts, hold_until], any other verdict as its rule's name alone; that JSON is deflated
with a preset dictionary of the usual names, keys and codes (~170 bytes for ~900 of JSON). A reject, a
hold or a flag is a full OutcomeVerdict row pointing at its evaluation: what the review queue, the
dashboards and the rules query in SQL stays a row. SQL sees one more thing of an evaluation,
`replaced`: the rules whose row it replaced with an accept ("+name," each), so a row that no longer
stands is known in SQL (`superseded`). Read back (`verdict_trail`, `trail`), the two give every
verdict exactly as when each was a row: its rule, decision, reason, facts, hold and instant. A row
recorded without an evaluation (before the compact store on SQLite, or by hand) reads as its own, at
its instant.

An evaluation takes its id from the verdict rows' sequence (`reserve_ids(OutcomeVerdict, ...)`, and the
column's default), before its rows: ids order evaluations and rows as they were recorded, as the
rows' ids alone did when every verdict was a row.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar, cast

import orjson
from django.db.models import BigIntegerField, Exists, ExpressionWrapper, OuterRef, Q, Value
from django.db.models.functions import Concat

from outcomes.models import Decision, OutcomeEvaluation, OutcomeVerdict

ACCEPTED = "+"

# A changed verdict as the pipeline records it: rule, decision, reason, facts (their JSON text), hold.
Recorded = tuple[str, str, str, str, dt.datetime | None]


# The preset dictionaries the accepts are deflated with, by version (each stored value's first byte):
# what the facts of accepts usually say, their most common strings last. Add a version to change it,
# never edit one: stored values need theirs to inflate.
_INSTANT = "2026-01-01T00:00:00.000000+00:00"
_RATE = {
    "rate": 0.0,
    "reversals": 0,
    "threshold": 0.25,
    "baseline_rate": 0.0,
    "expected_outcomes": 0.0,
    "baseline_reversals": 0,
}
_WINDOW = {"last_day": "2026-01-01", "outcomes": 0, "confirmed": 0, "first_day": "2026-01-01"}
DICTIONARIES: dict[int, bytes] = {
    # Keys sorted, as the facts are written (outcomes.services.verification).
    1: orjson.dumps(
        [
            ["above_baseline", {"baseline_units_per_period": 0, "period_start": _INSTANT}],
            ["evidence_complete", {"fields": []}],
            ["duration_plausible", {}],
            ["first_of_parent", {"parent_key": "", "window_hours": 24}],
            ["within_cap", {"cap_units": 0, "period_start": _INSTANT, "position": 1}],
            ["silence_is_consent", {"silence_window_hours": 72}],
            ["facts_agree", {}],
            ["matured", {"hold_hours": 24, "matured_at": _INSTANT}],
            [
                "reversal_rate_normal",
                {
                    "day": "2026-01-01",
                    "source": _RATE,
                    "contract": _RATE,
                    "event_id": "evt_",
                    "anomalous": [],
                    "lock_date": None,
                    "near_lock": False,
                    "window_days": 7,
                    "days_to_lock": None,
                    "baseline_days": 56,
                    "min_reversals": 10,
                },
            ],
            ["velocity_normal", {"z": 0.0, "day": "2026-01-01", "count": 0, "z_threshold": 3.5}],
            ["baseline_median", 0.0],
            [
                "confirmations_steady",
                {
                    "suspected": False,
                    "triggered_by": [],
                    "short_windows": {
                        "1_day": {**_WINDOW, "confirmation_ratio": 0.0},
                        "3_days": {**_WINDOW, "confirmation_ratio": 0.0},
                    },
                    "min_ratio_of_baseline": 0.3333,
                    "recent_confirmation_ratio": 0.0,
                    "baseline_confirmation_ratio": 1.0,
                },
            ],
            ["reported_by_system_of_record", {"confirmed_at": _INSTANT}],
            ["in_force", {"version": 1, "occurred_at": _INSTANT}],
            ["unique_natural_key", {"claims": 1, "natural_key": ""}],
            ["events_counted_once", {"events": ["evt_"]}],
            ["signature_verified", {"sources": ["00000000-0000-0000-0000-000000000000"], "deliveries": 1}],
            # The rules, as an evaluation lists them (the usual accepts with their entries above).
            "split_detection",
            "baseline_lift",
            "evidence_content",
            "verifier",
            "time_to_outcome",
            "contested_disqualifier",
            "audit_sampling",
            "disputes",
            "flag_deadlines",
            "customer_caps",
            "caps",
            "reversal",
            "maturation",
            "sender",
            "system_of_record",
            "reversal_anomaly",
            "anomaly",
            "confirmation",
            "suppression",
            "event_time",
            "natural_key",
            "idempotency",
            "authenticity",
        ],
        option=orjson.OPT_SORT_KEYS,
    )
}
DICTIONARY = 1  # the version written
# Raw deflate, an 8 KiB window (the dictionary and an evaluation's accepts fit), a small state: a copy
# of the primed compressor per evaluation is what costs, ~10 µs.
_WINDOW_BITS, _MEMORY_LEVEL = -13, 4
_primed = zlib.compressobj(
    1, zlib.DEFLATED, _WINDOW_BITS, _MEMORY_LEVEL, zlib.Z_DEFAULT_STRATEGY, DICTIONARIES[DICTIONARY]
)


def pack_verdicts(verdicts_json: str) -> bytes:
    """An evaluation's verdicts (their JSON text) as stored: the dictionary's version, then deflated."""
    compressor = _primed.copy()
    return bytes((DICTIONARY,)) + compressor.compress(verdicts_json.encode()) + compressor.flush()


def unpack_verdicts(stored: bytes | memoryview) -> list[Any]:
    """The verdicts of a stored evaluation (pack_verdicts' input, decoded)."""
    stored = bytes(stored)
    inflater = zlib.decompressobj(_WINDOW_BITS, zdict=DICTIONARIES[stored[0]])
    return cast(list[Any], orjson.loads(inflater.decompress(stored[1:]) + inflater.flush()))


def as_stored_json(value: Any) -> Any:
    """A JSON value with its objects' keys in the order PostgreSQL's jsonb keeps them (shorter keys
    first, then bytewise): the order a verdict row's facts read back in, so an accept's read the same."""
    if isinstance(value, dict):
        return {
            key: as_stored_json(value[key])
            for key in sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        }
    if isinstance(value, list):
        return [as_stored_json(item) for item in value]
    return value


def evaluation_record(verdicts: Sequence[Recorded], replaced: Iterable[str]) -> tuple[str, bytes]:
    """An evaluation's `replaced` (from the rules whose row an accept replaced) and `verdicts` (packed)
    for the verdicts it changed, in order."""
    entries: list[str] = []
    for rule, decision, reason, facts_json, hold_until in verdicts:
        if decision != Decision.ACCEPT:
            entries.append(orjson.dumps(rule).decode())
            continue
        entry = [orjson.dumps(rule).decode(), orjson.dumps(reason).decode()]
        if facts_json != "{}" or hold_until is not None:
            entry.append(facts_json)
        if hold_until is not None:
            entry.append(orjson.dumps(hold_until.astimezone(dt.UTC).isoformat()).decode())
        entries.append(f"[{','.join(entry)}]")
    return "".join(f"{ACCEPTED}{rule}," for rule in replaced), pack_verdicts(f"[{','.join(entries)}]")


V = TypeVar("V")
# An accept read back: (evaluation id, instant, rule, reason, facts, hold) -> the reader's value.
MakeAccept = Callable[[int, dt.datetime, str, str, dict[str, Any], dt.datetime | None], V]


def trail(
    evaluations: Iterable[tuple[int, dt.datetime, bytes | memoryview]],
    rows: Iterable[tuple[int | None, str, dt.datetime, int, V]],
    accepted: MakeAccept[V],
    *,
    by_instant: bool,
) -> list[V]:
    """One outcome's verdicts from its evaluations (id, at, packed verdicts) and its rows (evaluation id,
    rule, at, id, value): each evaluation's verdicts in its order; evaluations (and rows recorded without
    one) in the order they were recorded, or by instant first (`by_instant`: as the trail shows them)."""
    in_evaluation: dict[tuple[int, str], deque[V]] = defaultdict(deque)
    groups: list[tuple[tuple[Any, ...], list[V]]] = []
    for evaluation_id, rule, at, row_id, value in rows:
        if evaluation_id is None:
            groups.append(((at, row_id) if by_instant else (row_id,), [value]))
        else:
            in_evaluation[(evaluation_id, rule)].append(value)
    for evaluation_id, at, stored in evaluations:
        values: list[V] = []
        for entry in unpack_verdicts(stored):
            if isinstance(entry, str):  # a row's
                if in_evaluation[(evaluation_id, entry)]:
                    values.append(in_evaluation[(evaluation_id, entry)].popleft())
                continue
            hold = dt.datetime.fromisoformat(entry[3]) if len(entry) > 3 else None
            values.append(
                accepted(evaluation_id, at, entry[0], entry[1], entry[2] if len(entry) > 2 else {}, hold)
            )
        groups.append(((at, evaluation_id) if by_instant else (evaluation_id,), values))
    groups.sort(key=lambda group: group[0])
    return [value for _, values in groups for value in values]


def verdict_trail(
    *,
    evaluations: Iterable[OutcomeEvaluation],
    verdicts: Iterable[OutcomeVerdict],
    by_instant: bool = True,
) -> list[OutcomeVerdict]:
    """One outcome's verdicts as OutcomeVerdict objects (an accept's unsaved: no id), by instant as the
    trail shows them, or in the order recorded (`by_instant=False`: which verdict is a rule's latest)."""
    evaluations = list(evaluations)

    def accepted(
        evaluation_id: int,
        at: dt.datetime,
        rule: str,
        reason: str,
        facts: dict[str, Any],
        hold_until: dt.datetime | None,
    ) -> OutcomeVerdict:
        return OutcomeVerdict(
            outcome_id=outcome_of[evaluation_id],
            evaluation_id=evaluation_id,
            rule=rule,
            decision=Decision.ACCEPT,
            reason=reason,
            facts=as_stored_json(facts),
            hold_until=hold_until,
            at=at,
        )

    outcome_of = {e.pk: e.outcome_id for e in evaluations}
    return trail(
        ((e.pk, e.at, e.verdicts) for e in evaluations),
        ((v.evaluation_id, v.rule, v.at, v.pk, v) for v in verdicts),
        accepted,
        by_instant=by_instant,
    )


def superseded() -> Q:
    """For a queryset of OutcomeVerdict rows: a later verdict of the same rule on the same outcome was
    recorded since (a row, or an accept of a later evaluation: the first accept after a row says it
    replaced it), so this one no longer stands."""
    newer_row = OutcomeVerdict.objects.filter(
        outcome_id=OuterRef("outcome_id"), rule=OuterRef("rule"), pk__gt=OuterRef("pk")
    )
    newer_accept = (
        OutcomeEvaluation.objects.filter(
            outcome_id=OuterRef("outcome_id"),
            replaced__contains=Concat(Value(ACCEPTED), OuterRef("rule"), Value(",")),
        )
        .alias(row_evaluation=ExpressionWrapper(OuterRef("evaluation_id"), output_field=BigIntegerField()))
        # Recorded later: after the row's evaluation, or (a row recorded without one) after the row.
        .filter(Q(id__gt=OuterRef("evaluation_id")) | Q(row_evaluation__isnull=True, id__gt=OuterRef("pk")))
    )
    return Q(Exists(newer_row)) | Q(Exists(newer_accept))


def verdicts_recorded(*, outcome_ids: Iterable[Any] | None = None) -> list[OutcomeVerdict]:
    """Every verdict recorded on the outcomes (on all when None), accepts included, in the order recorded:
    what listing OutcomeVerdict rows by id gave when every verdict was a row (tests and the benchmark
    count and read verdicts through it)."""
    evaluations = OutcomeEvaluation.objects.all()
    verdicts = OutcomeVerdict.objects.all()
    if outcome_ids is not None:
        ids = list(outcome_ids)
        evaluations, verdicts = evaluations.filter(outcome_id__in=ids), verdicts.filter(outcome_id__in=ids)
    return verdict_trail(evaluations=evaluations, verdicts=verdicts, by_instant=False)

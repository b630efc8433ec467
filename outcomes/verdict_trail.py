"""How an outcome's verdicts are stored, and read back as the one trail everything shows.

Each evaluation that changes any of an outcome's verdicts writes one OutcomeEvaluation: the rules whose
verdict changed, in order (`rules`: "+name," for an accept, "-name," for any other), and the accepts
among them compactly (`accepts`: [reason], [reason, facts] or [reason, facts, hold_until] each). A
reject, a hold or a flag is a full OutcomeVerdict row pointing at its evaluation: what the review queue,
the dashboards and the rules query in SQL stays a row. Read back (`verdict_trail`, `trail`), the two
give every verdict exactly as when each was a row: its rule, decision, reason, facts, hold and instant,
oldest first. A row recorded without an evaluation (before the compact store on SQLite, or by hand)
reads as its own, at its instant.

An evaluation takes its id from the verdict rows' sequence (`reserve_ids(OutcomeVerdict, ...)`, and the
column's default), before its rows: ids order evaluations and rows as they were recorded, as the
rows' ids alone did when every verdict was a row.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import orjson
from django.db.models import BigIntegerField, Exists, ExpressionWrapper, OuterRef, Q, Value
from django.db.models.functions import Concat

from outcomes.models import Decision, OutcomeEvaluation, OutcomeVerdict

ACCEPTED, ROW = "+", "-"

# A changed verdict as the pipeline records it: rule, decision, reason, facts (their JSON text), hold.
Recorded = tuple[str, str, str, str, dt.datetime | None]


def evaluation_record(verdicts: Sequence[Recorded]) -> tuple[str, str]:
    """An evaluation's `rules` and `accepts` (as JSON text) for the verdicts it changed, in order."""
    rules: list[str] = []
    accepts: list[str] = []
    for rule, decision, reason, facts_json, hold_until in verdicts:
        if decision != Decision.ACCEPT:
            rules.append(f"{ROW}{rule},")
            continue
        rules.append(f"{ACCEPTED}{rule},")
        entry = [orjson.dumps(reason).decode()]
        if facts_json != "{}" or hold_until is not None:
            entry.append(facts_json)
        if hold_until is not None:
            entry.append(orjson.dumps(hold_until.astimezone(dt.UTC).isoformat()).decode())
        accepts.append(f"[{','.join(entry)}]")
    return "".join(rules), f"[{','.join(accepts)}]"


V = TypeVar("V")
# An accept read back: (evaluation id, instant, rule, reason, facts, hold) -> the reader's value.
MakeAccept = Callable[[int, dt.datetime, str, str, dict[str, Any], dt.datetime | None], V]


def trail(
    evaluations: Iterable[tuple[int, dt.datetime, str, list[Any]]],
    rows: Iterable[tuple[int | None, str, dt.datetime, int, V]],
    accepted: MakeAccept[V],
    *,
    by_instant: bool,
) -> list[V]:
    """One outcome's verdicts from its evaluations (id, at, rules, accepts) and its rows (evaluation id,
    rule, at, id, value): each evaluation's verdicts in its order; evaluations (and rows recorded without
    one) in the order they were recorded, or by instant first (`by_instant`: as the trail shows them)."""
    in_evaluation: dict[tuple[int, str], deque[V]] = defaultdict(deque)
    groups: list[tuple[tuple[Any, ...], list[V]]] = []
    for evaluation_id, rule, at, row_id, value in rows:
        if evaluation_id is None:
            groups.append(((at, row_id) if by_instant else (row_id,), [value]))
        else:
            in_evaluation[(evaluation_id, rule)].append(value)
    for evaluation_id, at, rules, accepts in evaluations:
        values: list[V] = []
        stored = iter(accepts)
        for item in rules.split(",")[:-1]:
            rule = item[1:]
            if item[0] == ACCEPTED:
                entry = next(stored)
                hold = dt.datetime.fromisoformat(entry[2]) if len(entry) > 2 else None
                values.append(
                    accepted(evaluation_id, at, rule, entry[0], entry[1] if len(entry) > 1 else {}, hold)
                )
            elif in_evaluation[(evaluation_id, rule)]:
                values.append(in_evaluation[(evaluation_id, rule)].popleft())
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
            facts=facts,
            hold_until=hold_until,
            at=at,
        )

    outcome_of = {e.pk: e.outcome_id for e in evaluations}
    return trail(
        ((e.pk, e.at, e.rules, e.accepts) for e in evaluations),
        ((v.evaluation_id, v.rule, v.at, v.pk, v) for v in verdicts),
        accepted,
        by_instant=by_instant,
    )


def superseded() -> Q:
    """For a queryset of OutcomeVerdict rows: a later verdict of the same rule on the same outcome was
    recorded since (a row, or an accept of a later evaluation), so this one no longer stands."""
    newer_row = OutcomeVerdict.objects.filter(
        outcome_id=OuterRef("outcome_id"), rule=OuterRef("rule"), pk__gt=OuterRef("pk")
    )
    newer_accept = (
        OutcomeEvaluation.objects.filter(
            outcome_id=OuterRef("outcome_id"),
            rules__contains=Concat(Value(ACCEPTED), OuterRef("rule"), Value(",")),
        )
        .alias(row_evaluation=ExpressionWrapper(OuterRef("evaluation_id"), output_field=BigIntegerField()))
        # Recorded later: after the row's evaluation, or (a row recorded without one) after the row.
        .filter(Q(id__gt=OuterRef("evaluation_id")) | Q(row_evaluation__isnull=True, id__gt=OuterRef("pk")))
    )
    return Q(Exists(newer_row)) | Q(Exists(newer_accept))

"""The verification benchmark (`make bench-verify`): outcomes/s through the full default rule set.

In one run, on one freshly created database (drop, create, migrate):

1. seed contracts with bulk SQL (bench.bulk): every contract with the default verification policy
   (outcomes.rules.policy), a customer system-of-record source and a vendor-agent source;
2. for each history size (default 10^5 then 10^6 outcomes), top the history up with bulk SQL
   (outcomes over the last ~60 days in settled states, one raw event and link each), then seed a
   working set of fresh pending outcomes with their events (a realistic mix: the customer's own
   claims, agent claims confirmed by the customer, unconfirmed agent claims, reversals);
3. time outcomes.services.verification.outcomes_evaluate over the working set, measure what the trail
   takes per verified outcome (rows and bytes of evaluations, verdict rows and transitions with their
   indexes; goal: 3 x smaller than before issue 18), then the ceiling over the same rows: a plain
   SELECT ... FOR UPDATE + UPDATE of each batch of 1,000 ids;
4. remove the working set, so the next size measures a fresh one against a larger history;
5. the outbox's cost: a second working set of the same mix evaluated with no recorder registered for
   domain events (core.events), so the pipeline writes no outbox rows; the difference per outcome is what
   publishing `outcome.*` events costs (goal: at most 10 %).

Then print outcomes/s, µs per outcome, the ratio to the ceiling, and how the cost per outcome grows
from one history size to the next. Goal: >= 20,000 outcomes/s, and a cost per outcome that does not
grow with history size (at most 1.2 x between sizes). See docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import signal
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.bulk import (
    OUTCOME_TYPE,
    Server,
    Timer,
    add_database_arguments,
    counted_queries,
    cpu_cell,
    django_setup,
    drop_database,
    execute,
    fetchall,
    indexes_deferred,
    log,
    machine,
    print_table,
    print_title,
    profiled,
    recreate_database,
    run_parallel,
    save_results,
    seed_contracts,
    sizes_of,
    vacuum_analyze,
)

ROOT = Path(__file__).resolve().parent.parent
HISTORY_DAYS = 60
GOAL_RATE = 20_000
GOAL_GROWTH = 1.2
GOAL_OUTBOX = 0.10  # what writing the outbox may add to the cost per outcome
BATCH = 1000  # the pipeline's chunk (outcomes.services.verification.CHUNK), used by the ceiling too
OUTCOME_TABLES = ("outcomes_outcome", "outcomes_rawevent", "outcomes_outcomeevent", "outcomes_delivery")
# What the pipeline writes about each outcome it verifies (the trail): the history seeded by bulk SQL has
# none of it, so after a working set is evaluated these tables hold that set's rows alone.
TRAIL_TABLES = ("outcomes_outcomeevaluation", "outcomes_outcomeverdict", "outcomes_outcometransition")
GOAL_STORAGE = 3.0  # how many times smaller the trail per verified outcome is than before issue 18
# The trail per verified outcome before issue 18 (default policy, this bench's mix), bytes: the baseline
# of the storage goal.
STORAGE_BEFORE = 2_977  # measured at 10^5 (h-verdicts, before the compact store): 9.5 rows
COUNTER_TABLES = (
    "outcomes_outcomedaycount",
    "outcomes_sourcedaycount",
    "outcomes_outcomestatedaycount",
    "outcomes_billablecount",
    "outcomes_priceddaycount",
)


def rebuild_counters() -> None:
    """The daily counters (outcomes.counters) of what bulk SQL inserted or deleted behind the services'
    back, as the services would have kept them."""
    from outcomes import counters

    counters.rebuild()


# The working set's mix: (group, share in twentieths) and each group's events as
# (kind, posted by the agent?, minutes before now, disqualifier).
GROUPS = (("A", 12), ("B", 4), ("C", 2), ("D", 1), ("E", 1))
PLAN = (
    # A: the customer's system of record reports it (2 h ago): maturing.
    ("A", 0, "outcome.claimed", False, 120, None),
    # B: the agent claims, the customer confirms (30 h ago): matured, billable.
    ("B", 0, "outcome.claimed", True, 1800, None),
    ("B", 1, "outcome.confirmed", False, 1740, None),
    # C: the agent claims 1 h ago, no confirmation yet: held for the match window.
    ("C", 0, "outcome.claimed", True, 60, None),
    # D: the agent claims 4 days ago, never confirmed: rejected (or flagged if suppression is suspected).
    ("D", 0, "outcome.claimed", True, 5760, None),
    # E: the customer reports it, then reopens it: reversed.
    ("E", 0, "outcome.claimed", False, 180, None),
    ("E", 1, "outcome.reversed", False, 120, "reopened"),
)


# Rules that issue 16 ("integrity against both sides") added or extended: their share of the cost is
# reported on its own (suppression's short windows extend the suppression rule, timed as a whole).
ISSUE_16_RULES = (
    "system_of_record",
    "evidence_content",
    "verifier",
    "suppression",
    "sender",
    "reversal_anomaly",
    "contested_disqualifier",
    "flag_deadlines",
)

# `--policy hardened`: the default policy plus the issue-16 options that are off by default and can run
# here: reporting windows, content checks on the evidence the bench's claims carry, contestable
# reopenings (system_of_record, sender, reversal_anomaly and flag_deadlines are on by default; an
# external verifier needs a service the bench does not run).
HARDENED_POLICY: dict[str, Any] = {
    "maturation": {"reporting_windows_hours": {"reopened": 24 * 30}},
    "evidence_content": {"checks": ["ticket_status one_of solved|closed", "csat min 1", "csat max 5"]},
    "disqualifier_contest": {"contradicting_evidence": {"reopened": "transcript_sha256"}},
}
POLICIES: dict[str, dict[str, Any]] = {"default": {}, "hardened": HARDENED_POLICY}


def policy_terms(policy: str = "default") -> list[dict[str, Any]]:
    """One outcome type per contract with the named verification policy (`default`: nothing overridden)."""
    terms: dict[str, Any] = {"pricing": {"model": "per_unit", "unit_price": "0.90"}}
    if POLICIES[policy]:
        terms["verification_policy"] = POLICIES[policy]
    return [terms]


def _clocked(method: Callable[..., Any], name: str, seconds: dict[str, float]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            seconds[name] += time.perf_counter() - started

    return timed


@contextmanager
def rule_costs() -> Iterator[dict[str, float]]:
    """Each rule's own time during the block, in seconds by rule name: its `prepare`, `evaluate_batch` and (for
    flag deadlines) `flag_decided`, wrapped on the registry's instances and unwrapped after. The
    wrappers cost ~0.3 µs a call (about 1 % of the pipeline)."""
    from outcomes.rules import RULES

    seconds: dict[str, float] = defaultdict(float)
    wrapped = []
    for rule in RULES:
        for method in ("prepare", "evaluate_batch", "flag_decided"):
            original = getattr(rule, method, None)
            if original is not None:
                setattr(rule, method, _clocked(original, rule.name, seconds))
                wrapped.append((rule, method))
    try:
        yield seconds
    finally:
        for rule, method in wrapped:
            delattr(rule, method)


# --- seeding -------------------------------------------------------------------------------


def _timed(label: str, sql: str, params: dict[str, Any]) -> None:
    with Timer() as timer:
        rows = execute(sql, params)
    log(f"  {label}: {rows:,} rows in {timer.elapsed:.1f} s")


def _max_id(table: str) -> int:
    return int(fetchall(f"SELECT coalesce(max(id), 0) FROM {table}")[0][0])  # noqa: S608


def _reserve_ids(table: str, count: int) -> int:
    """Take `count` ids of the table's identity sequence at once; returns the one before the first."""
    last = fetchall(
        "SELECT setval(pg_get_serial_sequence(%s, 'id'), nextval(pg_get_serial_sequence(%s, 'id')) + %s - 1)",
        [table, table, count],
    )[0][0]
    return int(last) - count


# History outcome g: its contract, source, time and state, as SQL over generate_series() AS g.
HISTORY_ROW = """
    FROM generate_series(%(start)s::bigint, %(stop)s::bigint - 1) AS g
    JOIN bench_contracts bc ON bc.n = g %% %(contracts)s
    CROSS JOIN LATERAL (
        SELECT %(now)s - interval '1 day' - ((g * 7919) %% (%(days)s * 86400)) * interval '1 second'
                   AS occurred_at,
               CASE (g / %(contracts)s) %% 20
                   WHEN 0 THEN 'rejected' WHEN 1 THEN 'reversed' WHEN 2 THEN 'billable' ELSE 'billed'
               END AS state,
               g %% 5 = 1 AS by_agent,
               (g - %(start)s) / (%(contracts)s * 50) AS block
    ) AS s
"""


def seed_history(start: int, stop: int, *, contracts: int, now: dt.datetime) -> None:
    """History outcomes numbered [start, stop): contract g % contracts, occurred over the last 60 days
    (up to a day ago), mostly billed, a fifth claimed by the vendor's agent, a tenth never confirmed;
    each with one raw event (in deliveries of ~50 per source) and its link. Ids are reserved up front,
    so no statement needs to join what another inserted."""
    if stop <= start:
        return
    count = stop - start
    blocks = (count - 1) // (contracts * 50) + 1
    params = {
        "start": start,
        "stop": stop,
        "contracts": contracts,
        "now": now,
        "days": HISTORY_DAYS - 1,
        "type": OUTCOME_TYPE,
        "outcome_base": _reserve_ids("outcomes_outcome", count),
        "event_base": _reserve_ids("outcomes_rawevent", count),
        "link_base": _reserve_ids("outcomes_outcomeevent", count),
        "delivery_base": _reserve_ids("outcomes_delivery", blocks * contracts * 2),
    }
    # Delivery of (block, contract, source): delivery_base + 1 + (block * contracts + n) * 2 + by_agent.
    # Each contract's customer and agent post from their own public address (1.x.y.1 and 1.x.y.2), so
    # the sender rule's shared-address lookup runs (and finds nothing) as it would in production.
    _timed(
        "deliveries",
        """
        INSERT INTO outcomes_delivery
            (id, source_id, webhook_id, received_at, body, body_sha256, headers, event_count, sender)
        SELECT %(delivery_base)s + 1 + (b * %(contracts)s + bc.n) * 2 + a,
               CASE WHEN a = 1 THEN bc.agent_source ELSE bc.customer_source END,
               'h-' || %(start)s || '-' || b || '-' || bc.n || '-' || a, %(now)s, '\\x7b7d'::bytea,
               repeat('0', 64), '{}', 50,
               ('1.' || (bc.n / 256 %% 256) || '.' || (bc.n %% 256) || '.' || (1 + a))::inet
        FROM bench_contracts bc
        CROSS JOIN generate_series(0, %(blocks)s - 1) AS b
        CROSS JOIN generate_series(0, 1) AS a
        """,
        {**params, "blocks": blocks},
    )
    _timed(
        "outcomes",
        """
        INSERT INTO outcomes_outcome
            (id, vendor_id, contract_id, outcome_type_key, natural_key, parent_key, state, occurred_at,
             confirmed_at, value_minor, version_id, price_percent, hold_until, billable_at, billed_at,
             source_id, evaluated_at, created_at, updated_at)
        SELECT %(outcome_base)s + 1 + g - %(start)s, bc.vendor_id, bc.contract_id, %(type)s, 'H-' || g, '',
               s.state, s.occurred_at,
               CASE WHEN g %% 10 <> 3 THEN s.occurred_at + interval '5 minutes' END,
               NULL, bc.version_id, 100, NULL,
               CASE WHEN s.state IN ('billable', 'billed') THEN s.occurred_at + interval '1 day' END,
               CASE WHEN s.state = 'billed' THEN least(s.occurred_at + interval '2 days', %(now)s) END,
               CASE WHEN s.by_agent THEN bc.agent_source ELSE bc.customer_source END,
               s.occurred_at + interval '1 day', s.occurred_at + interval '1 minute',
               s.occurred_at + interval '1 day'
        """
        + HISTORY_ROW,
        params,
    )
    _timed(
        "raw events",
        """
        INSERT INTO outcomes_rawevent
            (id, source_id, delivery_id, event_id, body_sha256, payload, kind, contract_id, outcome_type_key,
             natural_key, occurred_at, received_at)
        SELECT %(event_base)s + 1 + g - %(start)s,
               CASE WHEN s.by_agent THEN bc.agent_source ELSE bc.customer_source END,
               %(delivery_base)s + 1 + (s.block * %(contracts)s + bc.n) * 2 + s.by_agent::int,
               'evt_H-' || g, md5('H-' || g) || md5('H-' || g),
               jsonb_build_object(
                   'id', 'evt_H-' || g, 'kind', 'outcome.claimed',
                   'contract', 'BENCH-' || lpad(bc.n::text, 6, '0'), 'outcome_type', %(type)s,
                   'natural_key', 'H-' || g, 'occurred_at', s.occurred_at,
                   'evidence', jsonb_build_object('ticket_status', 'solved', 'csat', 5)),
               'outcome.claimed', bc.contract_id, %(type)s, 'H-' || g, s.occurred_at,
               s.occurred_at + interval '30 seconds'
        """
        + HISTORY_ROW,
        params,
    )
    _timed(
        "links",
        """
        INSERT INTO outcomes_outcomeevent (id, linked_at, outcome_id, raw_event_id)
        SELECT %(link_base)s + 1 + g - %(start)s, s.occurred_at + interval '1 minute',
               %(outcome_base)s + 1 + g - %(start)s, %(event_base)s + 1 + g - %(start)s
        """
        + HISTORY_ROW,
        params,
    )


def _group_sql(alias: str) -> str:
    cases, upto = [], 0
    for group, share in GROUPS:
        upto += share
        cases.append(f"WHEN {alias} %% 20 < {upto} THEN '{group}'")
    return "CASE " + " ".join(cases) + " END"


def _plan_sql() -> str:
    rows = []
    for group, seq, kind, agent, minutes, reason in PLAN:
        rows.append(
            f"('{group}', {seq}, '{kind}', {'true' if agent else 'false'}, {minutes}, "
            f"{'NULL' if reason is None else repr(reason)})"
        )
    return "(VALUES " + ", ".join(rows) + ") AS plan(grp, seq, kind, agent, minutes, reason)"


def seed_working_set(size: int, *, tag: str, contracts: int, now: dt.datetime) -> list[int]:
    """`size` pending outcomes (W<tag>-<i>, contract i % contracts) with their events and links, as the
    building step leaves them; returns their ids."""
    outcome_floor, event_floor = _max_id("outcomes_outcome"), _max_id("outcomes_rawevent")
    params = {"size": size, "contracts": contracts, "now": now, "tag": f"W{tag}-"}
    # Each event happens `minutes` (+ i % 30, a little spread) before now and arrives a minute later.
    events = f"""
        SELECT i, bc.*, plan.*, %(tag)s || i AS natural_key,
               %(now)s - (plan.minutes + i %% 30) * interval '1 minute' AS occurred_at,
               CASE WHEN plan.agent THEN bc.agent_source ELSE bc.customer_source END AS source_id
        FROM generate_series(0, %(size)s - 1) AS i
        JOIN bench_contracts bc ON bc.n = i %% %(contracts)s
        JOIN {_plan_sql()} ON plan.grp = {_group_sql("i")}
    """  # noqa: S608 (the plan is ours, not input)
    execute(
        f"""
        INSERT INTO outcomes_outcome
            (vendor_id, contract_id, outcome_type_key, natural_key, parent_key, state, occurred_at,
             price_percent, source_id, created_at, updated_at)
        SELECT vendor_id, contract_id, %(type)s, natural_key, '', 'pending', occurred_at, 100, source_id,
               %(now)s - interval '1 minute', %(now)s - interval '1 minute'
        FROM ({events}) AS e
        WHERE seq = 0
        ORDER BY i
        """,  # noqa: S608
        {**params, "type": OUTCOME_TYPE},
    )
    execute(
        """
        INSERT INTO outcomes_delivery
            (source_id, webhook_id, received_at, body, body_sha256, headers, event_count, sender)
        SELECT src.id, %(tag)s || bc.n || '-' || src.kind, %(now)s, '\\x7b7d'::bytea, repeat('0', 64), '{}', 1,
               ('1.' || (bc.n / 256 %% 256) || '.' || (bc.n %% 256) || '.' || CASE src.kind WHEN 'a' THEN 2 ELSE 1 END)::inet
        FROM bench_contracts bc
        CROSS JOIN LATERAL (VALUES (bc.customer_source, 'c'), (bc.agent_source, 'a')) AS src(id, kind)
        """,
        params,
    )
    execute(
        f"""
        INSERT INTO outcomes_rawevent
            (source_id, delivery_id, event_id, body_sha256, payload, kind, contract_id, outcome_type_key,
             natural_key, occurred_at, received_at)
        SELECT e.source_id, d.id, 'evt_' || e.natural_key || '_' || e.seq,
               md5(e.natural_key) || md5(e.seq::text),
               jsonb_build_object(
                   'id', 'evt_' || e.natural_key || '_' || e.seq, 'kind', e.kind,
                   'contract', 'BENCH-' || lpad(e.n::text, 6, '0'), 'outcome_type', %(type)s,
                   'natural_key', e.natural_key, 'occurred_at', e.occurred_at,
                   'evidence', CASE WHEN e.reason IS NULL
                                    THEN jsonb_build_object('ticket_status', 'solved', 'csat', 5)
                                    ELSE jsonb_build_object('reason', e.reason) END),
               e.kind, e.contract_id, %(type)s, e.natural_key, e.occurred_at,
               e.occurred_at + interval '1 minute'
        FROM ({events}) AS e
        JOIN outcomes_delivery d
          ON d.source_id = e.source_id
         AND d.webhook_id = %(tag)s || e.n || '-' || CASE WHEN e.agent THEN 'a' ELSE 'c' END
        ORDER BY e.i, e.seq
        """,  # noqa: S608
        {**params, "type": OUTCOME_TYPE},
    )
    execute(
        """
        INSERT INTO outcomes_outcomeevent (linked_at, outcome_id, raw_event_id)
        SELECT r.received_at, o.id, r.id
        FROM outcomes_rawevent r
        JOIN outcomes_outcome o
          ON o.contract_id = r.contract_id AND o.outcome_type_key = r.outcome_type_key
         AND o.natural_key = r.natural_key
        WHERE r.id > %(floor)s
        """,
        {"floor": event_floor},
    )
    return [
        row[0]
        for row in fetchall(
            "SELECT id FROM outcomes_outcome WHERE id > %s AND natural_key LIKE %s ORDER BY id",
            [outcome_floor, f"W{tag}-%"],
        )
    ]


def remove_working_set(ids: Sequence[int], *, tag: str) -> None:
    """Delete the working set and everything the pipeline wrote about it."""
    from django.db import transaction

    ids = list(ids)
    with transaction.atomic():
        # The raw inbox and the transitions are append-only (a trigger refuses DELETE); the benchmark,
        # as superuser, lifts the triggers for its own cleanup only.
        execute("SET LOCAL session_replication_role = replica")
        _delete_working_set(ids, tag=tag)
    # The trail's tables held the working set's rows alone: emptied, so the next size's storage is
    # measured from zero (outside a test's transaction).
    if not transaction.get_connection().in_atomic_block and not any(
        fetchall(f"SELECT EXISTS (SELECT FROM {table})")[0][0]  # noqa: S608
        for table in TRAIL_TABLES
    ):
        execute(f"TRUNCATE {', '.join(TRAIL_TABLES)}")


def _delete_working_set(ids: list[int], *, tag: str) -> None:
    for table in (
        "outcomes_outcomeverdict",
        "outcomes_outcomeevaluation",
        "outcomes_outcometransition",
        "outcomes_auditsample",
        "outcomes_dispute",
        "outcomes_reviewdecision",
        "outcomes_outcomeevent",
    ):
        execute(f"DELETE FROM {table} WHERE outcome_id = ANY(%s)", [ids])  # noqa: S608
    execute("DELETE FROM outcomes_rawevent WHERE natural_key LIKE %s", [f"W{tag}-%"])
    execute("DELETE FROM outcomes_delivery WHERE webhook_id LIKE %s", [f"W{tag}-%"])
    execute("DELETE FROM outcomes_outcome WHERE id = ANY(%s)", [ids])


# --- measuring -----------------------------------------------------------------------------


def by_contract(ids: Sequence[int], workers: int) -> list[list[int]]:
    """The ids in `workers` parts, each contract's outcomes in one part (as Celery workers get them:
    a delivery is one source's, so one contract's), contracts dealt round-robin."""
    parts: list[list[int]] = [[] for _ in range(workers)]
    part_of: dict[Any, int] = {}
    for outcome_id, contract_id in fetchall(
        "SELECT id, contract_id FROM outcomes_outcome WHERE id = ANY(%s) ORDER BY id", [list(ids)]
    ):
        parts[part_of.setdefault(contract_id, len(part_of) % workers)].append(outcome_id)
    return parts


def _evaluate_parts(parts: Sequence[list[int]], now: dt.datetime) -> tuple[int, int]:
    from outcomes.services.verification import outcomes_evaluate

    with counted_queries() as queries:
        evaluated = sum(outcomes_evaluate(outcome_ids=part, now=now).evaluated for part in parts)
    return evaluated, queries[0]


def _ceiling_parts(parts: Sequence[list[int]], now: dt.datetime) -> tuple[int, int]:
    return sum(run_ceiling(part, now)["rows"] for part in parts), 0


def run_pipeline_parallel(ids: Sequence[int], now: dt.datetime, workers: int) -> dict[str, Any]:
    """The pipeline on `workers` forked processes at once, each over its own contracts' outcomes."""
    evaluated, queries, timer = run_parallel(
        _evaluate_parts, by_contract(ids, workers), workers, now, chunk=1
    )
    from outcomes.verdict_trail import verdicts_recorded

    verdicts = len(verdicts_recorded(outcome_ids=ids))
    [(transitions,)] = fetchall(
        "SELECT count(*) FROM outcomes_outcometransition WHERE outcome_id = ANY(%s) AND at >= %s",
        [list(ids), now],
    )
    return {
        "outcomes": len(ids),
        "evaluated": evaluated,
        "elapsed": timer.elapsed,
        "cpu": timer.cpu,
        "cpu_cell": cpu_cell(timer),
        "queries": queries,
        "verdicts": verdicts,
        "transitions": transitions,
    }


def run_ceiling_parallel(ids: Sequence[int], now: dt.datetime, workers: int) -> dict[str, Any]:
    rows, _, timer = run_parallel(_ceiling_parts, by_contract(ids, workers), workers, now, chunk=1)
    return {
        "rows": rows,
        "elapsed": timer.elapsed,
        "cpu": timer.cpu,
        "cpu_cell": cpu_cell(timer),
        "parts": {},
    }


@contextmanager
def without_outbox() -> Iterator[None]:
    """No recorder for domain events (the outbox, notifications.outbox) while inside: the pipeline as it
    would run with outbound webhooks not installed. Forked workers inherit it."""
    from core import events

    registered = list(events._recorders)
    events._recorders.clear()
    try:
        yield
    finally:
        events._recorders.extend(registered)


def outbox_events_since(created_after: dt.datetime) -> int:
    [(count,)] = fetchall("SELECT count(*) FROM notifications_event WHERE created_at >= %s", [created_after])
    return int(count)


def run_pipeline(ids: Sequence[int], now: dt.datetime, profile: Path | None = None) -> dict[str, Any]:
    from outcomes.services.verification import outcomes_evaluate

    with profiled(profile), rule_costs() as rules, counted_queries() as queries, Timer() as timer:
        summary = outcomes_evaluate(outcome_ids=ids, now=now)
    return {
        "rule_seconds": dict(rules),
        "outcomes": len(ids),
        "evaluated": summary.evaluated,
        "elapsed": timer.elapsed,
        "cpu": timer.cpu,
        "cpu_cell": cpu_cell(timer),
        "queries": queries[0],
        "verdicts": summary.verdicts,
        "transitions": summary.transitions,
    }


def run_ceiling(ids: Sequence[int], now: dt.datetime) -> dict[str, Any]:
    """The same rows, the same batches, the same lock order: read them FOR UPDATE and write them back
    (one set-based statement each, one transaction per batch). Also times each part on its own."""
    import time

    from django.db import connection, transaction

    ids = sorted(ids)
    parts = {"select": 0.0, "update": 0.0, "commit": 0.0}
    with Timer() as timer:
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            with transaction.atomic():
                with connection.cursor() as cursor:
                    began = time.perf_counter()
                    cursor.execute(
                        "SELECT * FROM outcomes_outcome WHERE id = ANY(%s) ORDER BY id FOR UPDATE", [chunk]
                    )
                    cursor.fetchall()
                    selected = time.perf_counter()
                    cursor.execute(
                        "UPDATE outcomes_outcome SET evaluated_at = %s, updated_at = %s WHERE id = ANY(%s)",
                        [now, now, chunk],
                    )
                    updated = time.perf_counter()
                parts["select"] += selected - began
                parts["update"] += updated - selected
            parts["commit"] += time.perf_counter() - updated
    return {
        "rows": len(ids),
        "elapsed": timer.elapsed,
        "cpu": timer.cpu,
        "cpu_cell": cpu_cell(timer),
        "parts": parts,
    }


def trail_storage(outcomes: int) -> dict[str, dict[str, int]]:
    """Each trail table's rows, heap bytes (with TOAST) and index bytes, measured right after a working
    set of `outcomes` was evaluated (the tables hold its rows alone); divide by `outcomes` for the
    figures per verified outcome."""
    return {
        table: {
            "rows": int(fetchall(f"SELECT count(*) FROM {table}")[0][0]),  # noqa: S608
            "heap": int(fetchall("SELECT pg_table_size(%s)", [table])[0][0]),
            "indexes": int(fetchall("SELECT pg_indexes_size(%s)", [table])[0][0]),
        }
        for table in TRAIL_TABLES
    }


def storage_report(results: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """Per history size and trail table: rows and bytes per verified outcome (heap, indexes), then the
    total against the goal (GOAL_STORAGE times smaller than STORAGE_BEFORE)."""
    rows: list[tuple[str, ...]] = []
    for result in results:
        outcomes = result["pipeline"]["outcomes"]
        total = 0
        for table, size in result["storage"].items():
            total += size["heap"] + size["indexes"]
            rows.append(
                (
                    f"{result['history']:,}",
                    table.removeprefix("outcomes_"),
                    f"{size['rows'] / outcomes:.2f}",
                    f"{size['heap'] / outcomes:,.0f}",
                    f"{size['indexes'] / outcomes:,.0f}",
                    f"{(size['heap'] + size['indexes']) / outcomes:,.0f}",
                    "",
                )
            )
        ratio = STORAGE_BEFORE / (total / outcomes) if STORAGE_BEFORE else 0.0
        rows.append(
            (
                f"{result['history']:,}",
                "all",
                f"{sum(s['rows'] for s in result['storage'].values()) / outcomes:.2f}",
                "",
                "",
                f"{total / outcomes:,.0f}",
                f"{ratio:.1f} x smaller ({'PASS' if ratio >= GOAL_STORAGE else 'FAIL'})" if ratio else "",
            )
        )
    return rows


def states(ids: Sequence[int]) -> dict[str, int]:
    return dict(
        fetchall(
            "SELECT state, count(*) FROM outcomes_outcome WHERE id = ANY(%s) GROUP BY state ORDER BY state",
            [list(ids)],
        )
    )


def measure_size(
    history: int,
    *,
    seeded: int,
    working_set: int,
    contracts: int,
    profile: Path | None = None,
    maintenance: bool = True,
    keep_working_set: bool = False,
    workers: int = 1,
    outbox_compare: bool = True,
) -> dict[str, Any]:
    """Top the history up from `seeded` to `history` outcomes, then seed, evaluate and remove a working set
    (and, with `outbox_compare`, a second one evaluated without the outbox).

    `maintenance`: load the history with indexes deferred, then VACUUM ANALYZE, as autovacuum would
    have; off inside a test's transaction."""
    from django.utils import timezone

    now = timezone.now()
    with Timer() as seeding:
        with indexes_deferred(OUTCOME_TABLES, enabled=maintenance):
            seed_history(seeded, history, contracts=contracts, now=now)
        rebuild_counters()
        if maintenance:
            vacuum_analyze(*OUTCOME_TABLES, *COUNTER_TABLES)
    log(f"history {history:,}: seeded in {seeding.elapsed:.1f} s")
    tag = str(history)
    ids = seed_working_set(working_set, tag=tag, contracts=contracts, now=now)
    rebuild_counters()
    if maintenance:
        vacuum_analyze(*OUTCOME_TABLES, *COUNTER_TABLES)
    log(f"history {history:,}: working set of {len(ids):,} pending outcomes; evaluating")
    started = timezone.now()
    pipeline = _evaluate(ids, workers, profile)
    result = {
        "history": history,
        "seed_seconds": seeding.elapsed,
        "pipeline": pipeline,
        "states": states(ids),
        "storage": trail_storage(len(ids)),
        "outbox_events": outbox_events_since(started),
    }
    log(f"history {history:,}: {pipeline['elapsed']:.2f} s; ceiling")
    if workers > 1:
        result["ceiling"] = run_ceiling_parallel(ids, timezone.now(), workers)
    else:
        result["ceiling"] = run_ceiling(ids, timezone.now())
    if keep_working_set:
        return result
    remove_working_set(ids, tag=tag)
    rebuild_counters()
    if outbox_compare:
        quiet = seed_working_set(working_set, tag=f"{tag}-quiet", contracts=contracts, now=now)
        rebuild_counters()
        if maintenance:
            vacuum_analyze(*OUTCOME_TABLES, *COUNTER_TABLES)
        log(f"history {history:,}: the same mix without the outbox")
        with without_outbox():
            result["pipeline_without_outbox"] = _evaluate(quiet, workers, None)
        remove_working_set(quiet, tag=f"{tag}-quiet")
        rebuild_counters()
    return result


def _evaluate(ids: Sequence[int], workers: int, profile: Path | None) -> dict[str, Any]:
    from django.utils import timezone

    from notifications.dispatch import dispatch_deferred

    # The outbox is written but not dispatched inline: the bench runs Celery eagerly (no broker), where
    # waking the dispatcher after each commit would fan the events out in the pipeline's time; deployed,
    # that wake-up is one throttled message and the dispatch runs on other workers.
    with dispatch_deferred():
        if workers > 1:
            return run_pipeline_parallel(ids, timezone.now(), workers)
        return run_pipeline(ids, timezone.now(), profile)


# --- the report ----------------------------------------------------------------------------


def build_report(results: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for result in results:
        pipeline, ceiling = result["pipeline"], result["ceiling"]
        rate = pipeline["outcomes"] / pipeline["elapsed"]
        ceiling_rate = ceiling["rows"] / ceiling["elapsed"]
        chunks = -(-pipeline["outcomes"] // BATCH)
        rows.append(
            (
                f"{result['history']:,}",
                f"{pipeline['outcomes']:,}",
                f"{pipeline['elapsed']:.2f} s",
                f"{rate:,.0f}",
                f"{1e6 / rate:,.0f}",
                f"{pipeline['queries'] / chunks:,.0f}",
                f"{ceiling_rate:,.0f} ({1e6 / ceiling_rate:,.0f} µs)",
                f"{rate / ceiling_rate:.3f}",
                "PASS" if rate >= GOAL_RATE else "FAIL",
                pipeline["cpu_cell"],
            )
        )
    return rows


def outbox_cost(results: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """Per history size: µs per outcome with and without the outbox, and the share it adds."""
    rows: list[tuple[str, ...]] = []
    for result in results:
        without = result.get("pipeline_without_outbox")
        if without is None:
            continue
        pipeline = result["pipeline"]
        per_with = pipeline["elapsed"] / pipeline["outcomes"]
        per_without = without["elapsed"] / without["outcomes"]
        added = per_with / per_without - 1
        rows.append(
            (
                f"{result['history']:,}",
                f"{result['outbox_events']:,} ({result['outbox_events'] / pipeline['outcomes']:.2f})",
                f"{1e6 * per_with:,.0f}",
                f"{1e6 * per_without:,.0f}",
                f"{100 * added:+.1f} %",
                f"<= {100 * GOAL_OUTBOX:.0f} %",
                "PASS" if added <= GOAL_OUTBOX else "FAIL",
            )
        )
    return rows


def rule_shares(results: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """Per rule (one process only): µs per outcome and share of the pipeline's time at each history size,
    then the issue-16 rules together, every rule, and the rest of the pipeline (gathering facts, locks,
    writes, caps, the outbox)."""
    timed = [r for r in results if "rule_seconds" in r["pipeline"]]
    if not timed:
        return []
    names = list(timed[0]["pipeline"]["rule_seconds"])
    groups = [
        *((name, (name,)) for name in names),
        ("issue 16 rules together", tuple(n for n in names if n in ISSUE_16_RULES)),
        ("all rules", tuple(names)),
    ]

    def cell(result: dict[str, Any], members: tuple[str, ...]) -> str:
        pipeline = result["pipeline"]
        spent = sum(pipeline["rule_seconds"].get(name, 0.0) for name in members)
        return f"{1e6 * spent / pipeline['outcomes']:,.1f} ({100 * spent / pipeline['elapsed']:.1f} %)"

    rows = [
        (label + (" *" if label in ISSUE_16_RULES else ""), *(cell(r, members) for r in timed))
        for label, members in groups
    ]
    rest = []
    for result in timed:
        pipeline = result["pipeline"]
        spent = pipeline["elapsed"] - sum(pipeline["rule_seconds"].values())
        rest.append(f"{1e6 * spent / pipeline['outcomes']:,.1f} ({100 * spent / pipeline['elapsed']:.1f} %)")
    return [*rows, ("the rest of the pipeline", *rest)]


def growth(results: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for before, after in itertools.pairwise(results):
        per_before = before["pipeline"]["elapsed"] / before["pipeline"]["outcomes"]
        per_after = after["pipeline"]["elapsed"] / after["pipeline"]["outcomes"]
        ceiling_before = before["ceiling"]["elapsed"] / before["ceiling"]["rows"]
        ceiling_after = after["ceiling"]["elapsed"] / after["ceiling"]["rows"]
        ratio = per_after / per_before
        rows.append(
            (
                f"{before['history']:,} -> {after['history']:,}",
                f"{ratio:.2f}",
                f"{ceiling_after / ceiling_before:.2f}",
                f"<= {GOAL_GROWTH}",
                "PASS" if ratio <= GOAL_GROWTH else "FAIL",
            )
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        default="100000,1000000",
        help="history sizes, ascending, comma-separated (default 100000,1000000)",
    )
    parser.add_argument("--working-set", type=int, default=20_000, help="pending outcomes to evaluate")
    parser.add_argument("--contracts", type=int, default=200, help="contracts the outcomes spread over")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes evaluating at once, each over its own contracts (1; 2 = both cores, like two Celery "
        "worker processes); the ceiling runs on as many",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile each pipeline run (var/*.prof)")
    parser.add_argument(
        "--policy",
        choices=sorted(POLICIES),
        default="default",
        help="the contracts' verification policy: default, or hardened (plus the issue-16 options that "
        "are off by default)",
    )
    add_database_arguments(parser, name="verify")
    args = parser.parse_args(argv)
    sizes = sizes_of(args.sizes)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    server = Server.from_url(args.server_url)
    log(f"database {args.db_name}: drop, create, migrate")
    recreate_database(server, args.db_name)
    try:
        django_setup(server, args.db_name)
        from django.db import connection
        from django.utils import timezone

        with Timer() as setup:
            seed_contracts(
                args.contracts,
                starts_at=timezone.now() - dt.timedelta(days=365),
                outcome_types=policy_terms(args.policy),
            )
        log(f"{args.contracts} contracts in {setup.elapsed:.1f} s")
        results, seeded = [], 0
        for size in sizes:
            profile = ROOT / "var" / f"bench-verify-{size}.prof" if args.profile else None
            results.append(
                measure_size(
                    size,
                    seeded=seeded,
                    working_set=args.working_set,
                    contracts=args.contracts,
                    profile=profile,
                    workers=args.workers,
                )
            )
            seeded = size
        info = machine()
        connection.close()
    finally:
        if not args.keep_db:
            drop_database(server, args.db_name)

    report = build_report(results)
    growth_rows = growth(results)
    save_results(args, info, results=results)
    print_title("verification benchmark", info)
    print(  # noqa: T201
        f"{args.contracts} contracts, {args.policy} verification policy, working set {args.working_set:,} "
        f"pending outcomes, batches of {BATCH:,}, {args.workers} process(es); ceiling: SELECT ... FOR UPDATE + "
        "UPDATE of the same rows on as many"
    )
    print_table(
        report,
        (
            "history",
            "evaluated",
            "time",
            "outcomes/s",
            "µs/outcome",
            "queries/batch",
            "ceiling rows/s",
            "ratio",
            f">= {GOAL_RATE:,}/s",
            "CPU bench / postgres / other",
        ),
        args.markdown,
    )
    if args.workers == 1:  # timed per part only in one process
        print("\nThe ceiling's parts, µs per row:")  # noqa: T201
        print_table(
            [
                (
                    f"{r['history']:,}",
                    *(
                        f"{1e6 * r['ceiling']['parts'][part] / r['ceiling']['rows']:,.0f}"
                        for part in ("select", "update", "commit")
                    ),
                )
                for r in results
            ],
            ("history", "SELECT ... FOR UPDATE (fetched)", "UPDATE", "COMMIT"),
            args.markdown,
        )
    print("\nCost per outcome from one history size to the next:")  # noqa: T201
    print_table(growth_rows, ("history", "pipeline", "ceiling", "goal", "result"), args.markdown)
    outbox_rows = outbox_cost(results)
    print("\nThe outbox's cost (outbound webhooks: one event row per outcome that changes state):")  # noqa: T201
    print_table(
        outbox_rows,
        (
            "history",
            "events written (per outcome)",
            "µs/outcome",
            "without outbox",
            "added",
            "goal",
            "result",
        ),
        args.markdown,
    )
    share_rows = rule_shares(results)
    if share_rows:
        title = "Each rule's own time, µs per outcome (share of the pipeline's time); * added or extended by issue 16:"
        print(f"\n{title}")  # noqa: T201
        print_table(share_rows, ("rule", *(f"history {r['history']:,}" for r in results)), args.markdown)
    print(  # noqa: T201
        "\nThe trail's storage per verified outcome (verdicts, evaluations and transitions; rows, bytes):"
    )
    storage_rows = storage_report(results)
    print_table(
        storage_rows,
        ("history", "table", "rows", "heap", "indexes", "total", f">= {GOAL_STORAGE:.0f} x smaller"),
        args.markdown,
    )
    print("\nStates after evaluation:")  # noqa: T201
    print_table(
        [
            (
                f"{r['history']:,}",
                ", ".join(f"{state} {count:,}" for state, count in r["states"].items()),
                f"{r['pipeline']['verdicts']:,}",
                f"{r['pipeline']['transitions']:,}",
            )
            for r in results
        ],
        ("history", "states", "verdicts written", "transitions"),
        args.markdown,
    )
    ok = (
        all(row[8] == "PASS" for row in report)
        and all(row[-1] == "PASS" for row in growth_rows)
        and all(row[-1] == "PASS" for row in outbox_rows)
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

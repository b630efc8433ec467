"""The soak (`make bench-soak`): a few minutes of mixed traffic against the real process layout, then
the database is checked: nothing lost, nothing doubled, no error, memory flat.

In one run, on one freshly created database (loopback only):

1. ceiling: the bare-view server (bench.bare_settings: one INSERT per request) under the same gunicorn
   command, driven at the soak's webhook rate: what a request at that load costs at the least;
2. the product: gunicorn (config.wsgi), a Celery worker and Celery beat (bench.soak_settings: the
   product's schedule, compressed to every 10 s) on Redis;
3. seed (bench.seed soak): active contracts, a helpdesk source each (the customer's system of record,
   so outcomes become billable when built), a read and a write API key;
4. traffic, paced: signed single-event webhooks at a steady rate, 20% of them duplicates (half
   redeliveries: same webhook-id and body, re-signed; half the same event in a new delivery), and
   vendor API reads (outcomes list, one outcome's trail, invoices). Midway, the vendor terminates
   some contracts through the API: their period ends then, and beat's close-due-periods closes it
   while the traffic goes on. Events for those contracts stop shortly before, so they can be
   verified in time to be billed (from a quarter of the soak on: the worker has a quarter to catch up);
5. memory: RSS of the gunicorn workers and of the Celery worker's processes, sampled every second;
6. drain, then check in the database: every acknowledged event stored exactly once (and nothing else),
   one outcome per event, each closing contract invoiced exactly once with exactly the outcomes that
   were billable before its end, no outcome on two lines, no invoice for an ongoing contract.

Prints the figures and goals; exits 1 when a goal is missed. See docs/performance.md ("Soak").
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import os
import random
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psycopg
from cryptography.fernet import Fernet

from bench import cpu
from bench.bare_urls import BARE_TABLE
from bench.ingest import (
    ROOT,
    add_server_arguments,
    admin_conninfo,
    drop_database,
    free_port,
    gunicorn_command,
    log,
    machine,
    print_table,
    recreate_database,
    run_json,
    served,
    stop_process,
)
from bench.loadgen import Connection, Signer, http_request, make_event

WEBHOOK_KINDS = ("webhook: new event", "webhook: redelivery", "webhook: same event id")
READ_KINDS = ("api: outcomes list", "api: outcome trail", "api: invoices list")
TERMINATE_KIND = "api: contract terminate"
BARE_KIND = "bare view (ceiling)"
MIB = 1024 * 1024


# --- paced traffic ------------------------------------------------------------------------------


@dataclass
class Request:
    """One request to send: its kind, its bytes, and what a 2xx answer must say (None: any)."""

    kind: str
    data: bytes
    check: Callable[[bytes], bool] | None = None
    on_answer: Callable[[bytes], None] | None = None


@dataclass
class KindStats:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    connection_errors: int = 0
    wrong_answers: int = 0  # a 2xx whose body is not what this request must get

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def pick(q: float) -> float:
            return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0

        return {
            "requests": len(self.latencies) + self.connection_errors,
            "statuses": self.statuses,
            "non_2xx": sum(n for status, n in self.statuses.items() if not 200 <= status < 300),
            "5xx": sum(n for status, n in self.statuses.items() if status >= 500),
            "connection_errors": self.connection_errors,
            "wrong_answers": self.wrong_answers,
            "p50": pick(0.50),
            "p99": pick(0.99),
        }


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.kinds: dict[str, KindStats] = {}
        self.behind: dict[str, float] = {}  # per sender: the most it fell behind its schedule, in seconds

    def stats(self, kind: str) -> KindStats:
        with self.lock:
            return self.kinds.setdefault(kind, KindStats())


def paced(
    port: int,
    *,
    rate: float,
    start: float,
    end: float,
    threads: int,
    make: Callable[[int], Request],
    recorder: Recorder,
    label: str,
) -> list[threading.Thread]:
    """Send request i (made by `make(i)`) at start + i / rate until `end` (perf_counter instants), from
    `threads` keep-alive connections: an open-loop, steady rate whatever the latency (within threads)."""
    counter = itertools.count()

    def sender() -> None:
        connection = Connection(port, timeout=30)
        while (at := start + (index := next(counter)) / rate) < end:
            wait = at - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            else:
                with recorder.lock:
                    recorder.behind[label] = max(recorder.behind.get(label, 0.0), -wait)
            request = make(index)
            stats = recorder.stats(request.kind)
            began = time.perf_counter()
            try:
                status, body = connection.request(request.data)
            except OSError:
                connection.close()
                with recorder.lock:
                    stats.connection_errors += 1
                continue
            latency = time.perf_counter() - began
            ok = 200 <= status < 300
            wrong = ok and request.check is not None and not request.check(body)
            with recorder.lock:
                stats.latencies.append(latency)
                stats.statuses[status] = stats.statuses.get(status, 0) + 1
                stats.wrong_answers += int(wrong)
            if ok and not wrong and request.on_answer is not None:
                request.on_answer(body)
        connection.close()

    started = [threading.Thread(target=sender, daemon=True) for _ in range(threads)]
    for thread in started:
        thread.start()
    return started


# --- the soak's traffic -------------------------------------------------------------------------


@dataclass
class Plan:
    seconds: float = 180.0
    rate: float = 20.0  # webhook requests/s, duplicates included
    dup_share: float = 0.2
    read_rate: float = 4.0  # API requests/s, the three kinds in turn
    closing_stop: float = 0.25  # share of the soak after which no new events go to the closing contracts
    threads: int = 8
    read_threads: int = 4


@dataclass
class Sent:
    """A new event that was acknowledged: what a duplicate of it resends."""

    msg_id: str
    body: bytes
    answer: dict[str, Any]
    source: dict[str, Any]


class Traffic:
    """The soak's mix against one served product; `accepted` ends up with every acknowledged event id."""

    def __init__(self, port: int, seed: dict[str, Any], plan: Plan, run: str) -> None:
        self.port, self.seed, self.plan, self.run = port, seed, plan, run
        self.closing_stop = float("inf")  # perf_counter instant: no new events for closing contracts after
        self.contracts = seed["contracts"]
        self.ongoing = [c for c in self.contracts if not c["closing"]]
        self.signers = {c["source_id"]: Signer(c["secret"]) for c in self.contracts}
        self.lock = threading.Lock()
        self.acknowledged: list[Sent] = []
        self.accepted: dict[str, str] = {}  # event id -> contract reference
        self.outcome_ids: list[str] = []
        self.recorder = Recorder()

    def _path(self, contract: dict[str, Any]) -> str:
        return f"/webhooks/v1/sources/{contract['source_id']}/events"

    def _signed(self, contract: dict[str, Any], msg_id: str, body: bytes) -> bytes:
        headers = self.signers[contract["source_id"]].headers(msg_id, body, at=dt.datetime.now(dt.UTC))
        return http_request(self.port, self._path(contract), body, headers)

    def webhook(self, index: int) -> Request:
        rng = random.Random(f"{self.run}-{index}")  # noqa: S311 (a traffic mix, not a secret)
        draw = rng.random()
        with self.lock:
            earlier = self.acknowledged[rng.randrange(len(self.acknowledged))] if self.acknowledged else None
        if earlier is not None and draw < self.plan.dup_share:
            if draw < self.plan.dup_share / 2:  # the sender retries the same delivery
                expected = earlier.answer

                def replayed(body: bytes) -> bool:
                    return bool(orjson.loads(body) == expected)

                return Request(
                    WEBHOOK_KINDS[1],
                    self._signed(earlier.source, earlier.msg_id, earlier.body),
                    check=replayed,
                )
            msg_id = f"msg_{self.run}_{index}"  # the same event again, in a delivery of its own

            def duplicate(body: bytes) -> bool:
                answer = orjson.loads(body)
                return bool(answer["accepted"] == 0 and answer["duplicates"] == 1)

            return Request(
                WEBHOOK_KINDS[2], self._signed(earlier.source, msg_id, earlier.body), check=duplicate
            )
        now = dt.datetime.now(dt.UTC)
        pool = self.contracts if time.perf_counter() < self.closing_stop else self.ongoing
        contract = pool[index % len(pool)]
        occurred_at = (now - dt.timedelta(seconds=1)).isoformat(timespec="milliseconds")
        event = make_event(
            self.run,
            index,
            contract=contract["reference"],
            outcome_type=self.seed["outcome_type"],
            occurred_at=occurred_at,
        )
        body, msg_id = orjson.dumps(event), f"msg_{self.run}_{index}"

        def accepted(answer_bytes: bytes) -> bool:
            return bool(orjson.loads(answer_bytes)["accepted"] == 1)

        def remember(answer_bytes: bytes) -> None:
            with self.lock:
                self.accepted[event["id"]] = contract["reference"]
                self.acknowledged.append(Sent(msg_id, body, orjson.loads(answer_bytes), contract))

        return Request(
            WEBHOOK_KINDS[0], self._signed(contract, msg_id, body), check=accepted, on_answer=remember
        )

    def read(self, index: int) -> Request:
        headers = {"Authorization": f"Bearer {self.seed['read_key']}"}
        kind = READ_KINDS[index % 3]
        with self.lock:
            outcome_id = self.outcome_ids[index % len(self.outcome_ids)] if self.outcome_ids else None
        if kind == READ_KINDS[1] and outcome_id is not None:
            path = f"/api/v1/outcomes/{outcome_id}"
        elif kind == READ_KINDS[2]:
            path = "/api/v1/invoices"
        else:
            kind = READ_KINDS[0]
            contract = self.contracts[index % len(self.contracts)]
            path = f"/api/v1/outcomes?contract_id={contract['id']}"

        def listed(body: bytes) -> None:
            results = orjson.loads(body).get("results", [])
            if results:
                with self.lock:
                    self.outcome_ids = [item["id"] for item in results]

        return Request(
            kind,
            http_request(self.port, path, b"", headers, method="GET"),
            on_answer=listed if kind == READ_KINDS[0] else None,
        )

    def terminate(self, index: int) -> Request:
        """The vendor ends a closing contract now: its period ends, and is due."""
        contract = [c for c in self.contracts if c["closing"]][index]
        headers = {"Authorization": f"Bearer {self.seed['write_key']}"}

        def terminated(body: bytes) -> bool:
            return bool(orjson.loads(body)["status"] == "terminated")

        path = f"/api/v1/contracts/{contract['id']}/terminate"
        return Request(TERMINATE_KIND, http_request(self.port, path, b"", headers), check=terminated)

    def run_for(self, seconds: float) -> float:
        """Send the mix for `seconds`, terminating the closing contracts midway; returns the
        perf_counter instant it started."""
        start = time.perf_counter() + 0.2
        end = start + seconds
        middle = start + seconds / 2
        self.closing_stop = start + seconds * self.plan.closing_stop
        closing = sum(1 for c in self.contracts if c["closing"])
        threads = paced(
            self.port,
            rate=closing / 0.5,
            start=middle,
            end=middle + 0.5,
            threads=1,
            make=self.terminate,
            recorder=self.recorder,
            label="terminations",
        )
        threads += paced(
            self.port,
            rate=self.plan.rate,
            start=start,
            end=end,
            threads=self.plan.threads,
            make=self.webhook,
            recorder=self.recorder,
            label="webhooks",
        )
        threads += paced(
            self.port,
            rate=self.plan.read_rate,
            start=start,
            end=end,
            threads=self.plan.read_threads,
            make=self.read,
            recorder=self.recorder,
            label="reads",
        )
        for thread in threads:
            thread.join()
        return start


# --- memory and CPU of our processes ------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            with contextlib.suppress(OSError, IndexError), open(f"/proc/{name}/stat") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
                tree.setdefault(parent, []).append(int(name))
    return tree


def _descendants(pid: int, tree: dict[int, list[int]]) -> list[int]:
    found, stack = [], list(tree.get(pid, []))
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(tree.get(child, []))
    return found


def _rss_and_cpu(pids: Sequence[int]) -> tuple[int, float]:
    rss, seconds = 0, 0.0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            with open(f"/proc/{pid}/statm") as handle:
                rss += int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
                seconds += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return rss, seconds


class MemorySampler:
    """Every `interval` s: RSS (and CPU seconds so far) of the gunicorn workers (the master's children)
    and of the Celery worker (its main process and pool children), plus the machine's load average."""

    def __init__(self, groups: dict[str, tuple[int, bool]], interval: float = 1.0) -> None:
        self.groups = groups  # name -> (root pid, count the root itself)
        self.interval = interval
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        began = time.perf_counter()
        while not self._stop.wait(self.interval if self.samples else 0):
            tree = _children()
            sample: dict[str, Any] = {"t": time.perf_counter() - began, "load": os.getloadavg()[0]}
            for name, (root, with_root) in self.groups.items():
                pids = ([root] if with_root else []) + _descendants(root, tree)
                sample[name], sample[f"{name}_cpu"] = _rss_and_cpu(pids)
                sample[f"{name}_processes"] = len(pids)
            self.samples.append(sample)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def memory_trend(samples: list[dict[str, Any]], name: str, skip: float) -> dict[str, Any]:
    """First vs last quarter of the samples after `skip` seconds (warm-up), and the least-squares slope."""
    kept = [s for s in samples if s["t"] >= skip]
    if len(kept) < 8:
        return {"samples": len(kept)}
    quarter = len(kept) // 4
    first = statistics.fmean(s[name] for s in kept[:quarter])
    last = statistics.fmean(s[name] for s in kept[-quarter:])
    slope = statistics.linear_regression([s["t"] for s in kept], [s[name] for s in kept]).slope
    return {
        "samples": len(kept),
        "first_quarter_mib": first / MIB,
        "last_quarter_mib": last / MIB,
        "growth": last / first - 1,
        "slope_mib_per_min": slope * 60 / MIB,
        "max_mib": max(s[name] for s in kept) / MIB,
        "processes": kept[-1][f"{name}_processes"],
        "cpu_seconds": kept[-1][f"{name}_cpu"] - kept[0][f"{name}_cpu"],
    }


# --- the database, afterwards -------------------------------------------------------------------


def _one(conn: psycopg.Connection[Any], sql: str, params: Sequence[Any] = ()) -> Any:
    row = conn.execute(sql, params).fetchone()
    return row[0] if row else None


def pending_work(conninfo: str, closing: Sequence[str]) -> dict[str, int]:
    """What the worker has still to do: raw events not merged, outcomes not verified, periods not closed."""
    with psycopg.connect(conninfo) as conn:
        return {
            "unlinked_events": _one(
                conn,
                "SELECT count(*) FROM outcomes_rawevent r WHERE NOT EXISTS "
                "(SELECT 1 FROM outcomes_outcomeevent l WHERE l.raw_event_id = r.id)",
            ),
            "unverified_outcomes": _one(
                conn, "SELECT count(*) FROM outcomes_outcome WHERE state IN ('received', 'pending')"
            ),
            "closing_without_invoice": _one(
                conn,
                "SELECT count(*) FROM contracts_contract c WHERE c.id = ANY(%s::uuid[]) AND NOT EXISTS "
                "(SELECT 1 FROM settlement_invoice i WHERE i.contract_id = c.id)",
                [list(closing)],
            ),
        }


def wait_drained(conninfo: str, closing: Sequence[str], seconds: float, alive: Callable[[], bool]) -> float:
    """Wait until the worker has done everything (or `seconds` pass); returns the time it took."""
    began = time.perf_counter()
    while time.perf_counter() - began < seconds and alive():
        if not any(pending_work(conninfo, closing).values()):
            break
        time.sleep(1)
    return time.perf_counter() - began


def check_database(
    conninfo: str,
    *,
    accepted: dict[str, str],
    closing: Sequence[str],
    ongoing: Sequence[str],
) -> dict[str, Any]:
    """Every acknowledged event stored once and nothing else; outcomes and invoice lines not doubled; each
    terminated contract invoiced once, for the period that ended with it, with exactly the outcomes that
    were billable before that end."""
    with psycopg.connect(conninfo) as conn:
        stored: dict[str, int] = dict(
            conn.execute("SELECT event_id, count(*) FROM outcomes_rawevent GROUP BY event_id").fetchall()
        )
        outcomes, distinct_keys = conn.execute(
            "SELECT count(*), count(DISTINCT (contract_id, outcome_type_key, natural_key)) FROM outcomes_outcome"
        ).fetchone() or (0, 0)
        links, linked_events = conn.execute(
            "SELECT count(*), count(DISTINCT raw_event_id) FROM outcomes_outcomeevent"
        ).fetchone() or (0, 0)
        states: dict[str, int] = dict(
            conn.execute("SELECT state, count(*) FROM outcomes_outcome GROUP BY state").fetchall()
        )
        invoices = conn.execute(
            "SELECT i.contract_id::text, count(*), bool_and(i.period_end = c.ends_at), "
            "max(i.created_at - c.ends_at) FROM settlement_invoice i "
            "JOIN contracts_contract c ON c.id = i.contract_id GROUP BY 1"
        ).fetchall()
        due = {
            row[0]
            for row in conn.execute(
                "SELECT o.id FROM outcomes_outcome o JOIN contracts_contract c ON c.id = o.contract_id "
                "WHERE c.id = ANY(%s::uuid[]) AND o.billable_at < c.ends_at AND o.state IN ('billable', 'billed')",
                [list(closing)],
            ).fetchall()
        }
        line_links, line_outcomes = conn.execute(
            "SELECT count(*), count(DISTINCT outcome_id) FROM settlement_lineoutcome"
        ).fetchone() or (0, 0)
        on_lines = {
            row[0] for row in conn.execute("SELECT outcome_id FROM settlement_lineoutcome").fetchall()
        }
        usage_quantity = _one(
            conn, "SELECT coalesce(sum(quantity), 0) FROM settlement_invoiceline WHERE kind = 'usage'"
        )
        lags = [
            row[0]
            for row in conn.execute(
                "SELECT extract(epoch FROM l.linked_at - r.received_at)::float FROM outcomes_outcomeevent l "
                "JOIN outcomes_rawevent r ON r.id = l.raw_event_id ORDER BY 1"
            ).fetchall()
        ]
        closing_outcomes = _one(
            conn, "SELECT count(*) FROM outcomes_outcome WHERE contract_id = ANY(%s::uuid[])", [list(closing)]
        )
    by_contract = {row[0]: row for row in invoices}
    close_delays = [row[3].total_seconds() for row in invoices if row[0] in closing]
    return {
        "accepted": len(accepted),
        "stored": sum(stored.values()),
        "lost": len(accepted.keys() - stored.keys()),
        "unacknowledged_stored": len(stored.keys() - accepted.keys()),
        "doubled_events": sum(1 for count in stored.values() if count > 1),
        "outcomes": outcomes,
        "doubled_outcomes": outcomes - distinct_keys,
        "events_linked": linked_events,
        "doubled_links": links - linked_events,
        "states": states,
        "closing_contracts": len(closing),
        "closing_invoiced_once": sum(
            1 for c in closing if c in by_contract and by_contract[c][1] == 1 and by_contract[c][2]
        ),
        "ongoing_invoiced": sum(1 for c in ongoing if c in by_contract),
        "billable_before_end": len(due),
        "closing_outcomes": closing_outcomes,
        "line_outcomes": line_outcomes,
        "doubled_line_outcomes": line_links - line_outcomes,
        "lines_match": on_lines == due,
        "usage_quantity": int(usage_quantity),
        "build_lag_p50": lags[len(lags) // 2] if lags else None,
        "build_lag_p99": lags[min(len(lags) - 1, round(0.99 * (len(lags) - 1)))] if lags else None,
        "close_seconds_after_end": max(close_delays) if close_delays else None,
    }


# --- the report ---------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def traffic_rows(kinds: dict[str, dict[str, Any]], bare: dict[str, Any] | None) -> list[tuple[str, ...]]:
    ms = 1000.0
    rows: list[tuple[str, ...]] = []
    for kind in (*WEBHOOK_KINDS, *READ_KINDS, TERMINATE_KIND):
        s = kinds.get(kind)
        if s is None:
            continue
        errors = s["non_2xx"] + s["connection_errors"] + s["wrong_answers"]
        ratio = ""
        if kind == WEBHOOK_KINDS[0] and bare and bare["p50"] and bare["p99"]:
            ratio = f"{s['p50'] / bare['p50']:.1f} / {s['p99'] / bare['p99']:.1f} x bare"
        rows.append(
            (
                kind,
                f"{s['requests']:,}",
                f"{s['non_2xx']} / {s['5xx']} / {s['connection_errors']} / {s['wrong_answers']}",
                f"{s['p50'] * ms:.1f} / {s['p99'] * ms:.1f}",
                ratio,
                verdict(errors == 0),
            )
        )
    if bare:
        rows.append(
            (
                BARE_KIND,
                f"{bare['requests']:,}",
                f"{bare['non_2xx']} / {bare['5xx']} / {bare['connection_errors']} / -",
                f"{bare['p50'] * ms:.1f} / {bare['p99'] * ms:.1f}",
                "1.0 / 1.0",
                "",
            )
        )
    return rows


def database_rows(db: dict[str, Any], drain_seconds: float, drained: bool) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [
        (
            "acknowledged events stored exactly once",
            f"{db['stored']:,} stored / {db['accepted']:,} acknowledged",
            f"{db['lost']} lost, {db['doubled_events']} doubled, {db['unacknowledged_stored']} unacknowledged",
            verdict(db["lost"] == 0 and db["doubled_events"] == 0 and db["stored"] == db["accepted"]),
        ),
        (
            "one outcome per event",
            f"{db['outcomes']:,} outcomes, {db['events_linked']:,} events linked",
            f"{db['doubled_outcomes']} doubled outcomes, {db['doubled_links']} doubled links",
            verdict(
                db["outcomes"] == db["stored"] == db["events_linked"]
                and db["doubled_outcomes"] == 0
                and db["doubled_links"] == 0
            ),
        ),
        (
            "closing contracts invoiced once",
            f"{db['closing_invoiced_once']} of {db['closing_contracts']}",
            f"{db['ongoing_invoiced']} ongoing invoiced; closed "
            + (
                f"{db['close_seconds_after_end']:.0f} s after the end"
                if db["close_seconds_after_end"] is not None
                else "never"
            ),
            verdict(db["closing_invoiced_once"] == db["closing_contracts"] and db["ongoing_invoiced"] == 0),
        ),
        (
            "invoice lines: the outcomes billable before the end",
            f"{db['line_outcomes']:,} on lines / {db['billable_before_end']:,} due",
            f"{db['doubled_line_outcomes']} on two lines; usage quantity {db['usage_quantity']:,}; "
            f"{db['closing_outcomes'] - db['billable_before_end']} built after the end",
            verdict(
                db["lines_match"]
                and db["doubled_line_outcomes"] == 0
                and db["usage_quantity"] == db["line_outcomes"]
                and db["billable_before_end"] > 0
            ),
        ),
        (
            "worker drained",
            f"{drain_seconds:.0f} s after the traffic",
            f"event received -> merged into its outcome: p50 {db['build_lag_p50'] or 0:.1f} s, "
            f"p99 {db['build_lag_p99'] or 0:.1f} s",
            verdict(drained),
        ),
    ]
    return rows


def memory_rows(trends: dict[str, dict[str, Any]], threshold: float) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for name, trend in trends.items():
        if "growth" not in trend:
            rows.append((name, "too few samples", "", "", "", "FAIL"))
            continue
        rows.append(
            (
                f"{name} ({trend['processes']} processes)",
                f"{trend['first_quarter_mib']:.1f} -> {trend['last_quarter_mib']:.1f} MiB",
                f"{trend['growth']:+.1%}",
                f"{trend['slope_mib_per_min']:+.2f} MiB/min",
                f"<= {threshold:+.0%}",
                verdict(trend["growth"] <= threshold),
            )
        )
    return rows


# --- the processes ------------------------------------------------------------------------------


@contextlib.contextmanager
def celery(args: argparse.Namespace, env: dict[str, str], role: str) -> Iterator[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "celery", "--quiet", "-A", "config", role, "--loglevel", "WARNING"]
    if role == "worker":
        command += ["--concurrency", str(args.worker_concurrency), "--without-gossip", "--without-mingle"]
    else:
        schedule = ROOT / "var" / f"soak-beat-{os.getpid()}"
        schedule.parent.mkdir(exist_ok=True)
        command += ["--schedule", str(schedule)]
    process = subprocess.Popen(command, env=env, cwd=ROOT)  # noqa: S603 (our interpreter, our arguments)
    try:
        yield process
    finally:
        stop_process(process)
        if role == "beat":
            for leftover in (ROOT / "var").glob(f"soak-beat-{os.getpid()}*"):
                leftover.unlink()


def flush_broker(broker_url: str) -> int:
    import redis

    client = redis.Redis.from_url(broker_url)
    queued = int(client.llen("celery"))
    client.flushdb()
    return queued


def bare_ceiling(args: argparse.Namespace, env: dict[str, str], plan: Plan) -> dict[str, Any]:
    """The bare view under the same gunicorn command at the soak's webhook rate."""
    port = free_port()
    recorder = Recorder()
    occurred_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

    def bare(index: int) -> Request:
        body = orjson.dumps(
            make_event("bare", index, contract="CTR", outcome_type="x", occurred_at=occurred_at)
        )
        return Request(BARE_KIND, http_request(port, "/bare", body, {}))

    with served(args, env | {"DJANGO_SETTINGS_MODULE": "bench.bare_settings"}, port, "/-/probe"):
        start = time.perf_counter() + 0.2
        for thread in paced(
            port,
            rate=plan.rate,
            start=start,
            end=start + args.ceiling_seconds,
            threads=plan.threads,
            make=bare,
            recorder=recorder,
            label="bare",
        ):
            thread.join()
    return recorder.stats(BARE_KIND).summary()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=180.0, help="traffic duration (default 180)")
    parser.add_argument(
        "--rate", type=float, default=20.0, help="webhook requests/s, duplicates included (20)"
    )
    parser.add_argument("--dup-share", type=float, default=0.2, help="share of webhook requests resent (0.2)")
    parser.add_argument("--read-rate", type=float, default=4.0, help="vendor API requests/s (4)")
    parser.add_argument("--closing", type=int, default=4, help="contracts whose period ends mid-soak (4)")
    parser.add_argument("--ongoing", type=int, default=4, help="contracts that go on (4)")
    parser.add_argument(
        "--warmup", type=float, default=30.0, help="seconds of memory samples not compared (30)"
    )
    parser.add_argument(
        "--memory-threshold", type=float, default=0.10, help="max RSS growth, last vs first quarter"
    )
    parser.add_argument("--ceiling-seconds", type=float, default=15.0, help="bare-view ceiling duration (15)")
    parser.add_argument(
        "--drain-seconds", type=float, default=180.0, help="max wait for the worker afterwards"
    )
    add_server_arguments(parser, db_name="verity_soak_bench", broker_url="redis://127.0.0.1:6379/12")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="Celery worker processes (2)")
    parser.add_argument("--beat-seconds", type=float, default=10.0, help="beat interval for every job (10)")
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    parser.add_argument("--json", type=Path, default=ROOT / "var" / "bench-soak.json", help="raw results")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind (stop our processes) on a CI timeout
    plan = Plan(
        seconds=args.seconds,
        rate=args.rate,
        dup_share=args.dup_share,
        read_rate=args.read_rate,
    )

    run = uuid.uuid4().hex[:6]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": "bench",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": f"postgres://{args.db_user}@{args.db_host}:{args.db_port}/{args.db_name}",
        "CONN_MAX_AGE": "600",
        "CELERY_BROKER_URL": args.broker_url,
        "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        "SOAK_BEAT_SECONDS": str(args.beat_seconds),
    }
    conninfo = admin_conninfo(args, args.db_name)
    results: dict[str, Any] = {"machine": machine(), "options": vars(args) | {"json": str(args.json)}}
    results["gunicorn"] = shlex.join(gunicorn_command(args, 0)[1:]).replace("127.0.0.1:0", "127.0.0.1:<port>")

    log(f"database {args.db_name}: drop, create, migrate")
    recreate_database(args)
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], env=env, cwd=ROOT, check=True
        )
        with psycopg.connect(conninfo) as conn:
            conn.execute(
                f"CREATE TABLE {BARE_TABLE} (id bigserial PRIMARY KEY, body jsonb NOT NULL, received_at timestamptz NOT NULL)"
            )
        flush_broker(args.broker_url)

        log(f"ceiling: the bare view at {plan.rate:g} requests/s for {args.ceiling_seconds:g} s")
        results["bare"] = bare_ceiling(args, env, plan)

        seed = run_json(
            [
                sys.executable,
                "-m",
                "bench.seed",
                "soak",
                "--closing",
                str(args.closing),
                "--ongoing",
                str(args.ongoing),
            ],
            env,
        )
        port = free_port()
        log(
            f"product: {results['gunicorn']} (port {port}), a Celery worker, beat every {args.beat_seconds:g} s"
        )
        with (
            served(args, env, port, "/-/probe") as _,
            celery(args, env, "worker") as worker,
            celery(args, env | {"DJANGO_SETTINGS_MODULE": "bench.soak_settings"}, "beat") as beat,
        ):
            gunicorn_master = _gunicorn_master(port)
            traffic = Traffic(port, seed, plan, run)
            log(f"traffic: {args.seconds:g} s; {args.closing} contracts terminated at half time")
            groups = {"gunicorn workers": (gunicorn_master, False), "celery worker": (worker.pid, True)}
            cpu_before = cpu.snapshot(args.db_name, port)
            with MemorySampler(groups) as sampler:
                traffic.run_for(args.seconds)
                results["cpu"] = cpu.used(cpu_before, cpu.snapshot(args.db_name, port))
                closing = [c["id"] for c in seed["contracts"] if c["closing"]]
                log("drain: wait for the worker to build, verify and close")
                drain = wait_drained(
                    conninfo,
                    closing,
                    args.drain_seconds,
                    alive=lambda: worker.poll() is None and beat.poll() is None,
                )
            results["pending_after_drain"] = pending_work(conninfo, closing)
        results["queued_after"] = flush_broker(args.broker_url)
        results["behind_schedule_seconds"] = traffic.recorder.behind
        results["traffic"] = {kind: stats.summary() for kind, stats in traffic.recorder.kinds.items()}
        results["memory_samples"] = sampler.samples
        results["memory"] = {name: memory_trend(sampler.samples, name, args.warmup) for name in groups}
        results["load_average"] = (
            statistics.fmean(s["load"] for s in sampler.samples) if sampler.samples else 0
        )
        results["database"] = check_database(
            conninfo,
            accepted=traffic.accepted,
            closing=closing,
            ongoing=[c["id"] for c in seed["contracts"] if not c["closing"]],
        )
    finally:
        if not args.keep_db:
            drop_database(args)

    drained = not any(results["pending_after_drain"].values())
    tables = {
        "traffic": traffic_rows(results["traffic"], results["bare"]),
        "database": database_rows(results["database"], drain, drained),
        "memory": memory_rows(results["memory"], args.memory_threshold),
    }
    results["tables"] = tables
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))

    info = results["machine"]
    say = print  # the report is this program's output
    say(f"\nVerity soak — {info['nproc']} cores ({info['cpu']}), Python {info['python']}")
    say(
        f"{args.seconds:g} s: webhooks at {plan.rate:g}/s ({plan.dup_share:.0%} duplicates), API reads at "
        f"{plan.read_rate:g}/s; {args.closing} contracts terminated at half time, "
        f"{args.ongoing} going on; server: gunicorn {results['gunicorn']}; Celery worker --concurrency "
        f"{args.worker_concurrency}; beat every {args.beat_seconds:g} s"
    )
    c = results["cpu"]
    say(
        f"machine load: load average {results['load_average']:.1f} on {info['nproc']} cores during the soak; CPU s: "
        f"gunicorn {c['gunicorn']:.0f}, postgres {c['postgres']:.0f}, load generator {c['loadgen']:.0f}, "
        f"other processes (Celery included) {c['other']:.0f}; most behind schedule: "
        + ", ".join(f"{name} {late:.2f} s" for name, late in results["behind_schedule_seconds"].items())
        + "\n"
    )
    print_table(
        tables["traffic"],
        args.markdown,
        (
            "requests",
            "sent",
            "non-2xx / 5xx / conn. errors / wrong answers",
            "p50 / p99 ms",
            "vs ceiling",
            "result",
        ),
    )
    say("")
    print_table(tables["database"], args.markdown, ("checked in the database", "value", "detail", "result"))
    say("")
    print_table(
        tables["memory"],
        args.markdown,
        ("RSS (after warm-up)", "first -> last quarter", "growth", "slope", "goal", "result"),
    )
    failed = [row for table in tables.values() for row in table if row[-1] == "FAIL"]
    return 1 if failed else 0


def _gunicorn_master(port: int) -> int:
    """The gunicorn master serving `port` (the child of our `served` Popen is not exposed; find it)."""
    me = os.getpid()
    for pid in _children().get(me, []):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read()
            if b"gunicorn" in command and f"127.0.0.1:{port}".encode() in command:
                return pid
    raise RuntimeError("gunicorn master not found")


if __name__ == "__main__":
    sys.exit(main())

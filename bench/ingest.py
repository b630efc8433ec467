"""The ingestion benchmark (`make bench-ingest`): the product's webhook path against its own ceilings.

In one run, on one freshly created database:

1. serve the product with gunicorn (config.wsgi) on loopback, and drive it from a second process
   (bench.loadgen): batched ingestion (1,000 signed events per request), a dedup pass (batches
   with ~20% resent events), then single-event requests with p50/p99 latency;
2. serve a bare Django view doing one INSERT per request (bench.bare_settings) with the very same
   gunicorn command, and drive it the same way: the single-event ceiling;
3. COPY the batched phase's rows into a table of the raw event table's shape: the batched ceiling;
4. count what is stored: every acknowledged event exactly once.

Then print each figure, its ceiling, the ratio and the goal. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import os
import platform
import shlex
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import psycopg
from cryptography.fernet import Fernet

from bench import cpu
from bench.bare_urls import BARE_TABLE
from bench.loadgen import make_event

ROOT = Path(__file__).resolve().parent.parent
COPY_TABLE = "bench_rawevent_copy"
LAGO_EVENTS_PER_SECOND = 10_000  # Lago's claim for its Postgres-only path (at most 100 events a batch)
STRIPE_METER_EVENTS_PER_SECOND = 1_000  # Stripe's v1 meter event API rate limit
GOAL_BATCHED = 20_000
FLOOR_BATCHED = 10_000
GOAL_COPY_RATIO = 0.25
GOAL_BARE_RATIO = 0.7


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)  # noqa: T201


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the database ---------------------------------------------------------------------------


def admin_conninfo(args: argparse.Namespace, dbname: str) -> str:
    return f"host={args.db_host} port={args.db_port} user={args.db_user} dbname={dbname}"


def recreate_database(args: argparse.Namespace) -> None:
    with psycopg.connect(admin_conninfo(args, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.db_name}"')


def drop_database(args: argparse.Namespace) -> None:
    with psycopg.connect(admin_conninfo(args, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')


def run_json(command: Sequence[str], env: dict[str, str]) -> Any:
    completed = subprocess.run(command, env=env, cwd=ROOT, check=True, stdout=subprocess.PIPE)  # noqa: S603
    return orjson.loads(completed.stdout)


# --- gunicorn -------------------------------------------------------------------------------


def gunicorn_command(args: argparse.Namespace, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--worker-class",
        args.worker_class,
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
        "--keep-alive",
        "30",
        "--backlog",
        "2048",
        "--worker-tmp-dir",
        "/dev/shm",  # noqa: S108 (gunicorn's heartbeat files, as its docs advise)
        "--log-level",
        "warning",
    ]


@contextlib.contextmanager
def served(args: argparse.Namespace, env: dict[str, str], port: int, probe: str) -> Iterator[None]:
    """gunicorn on 127.0.0.1:port until the block ends; waits until it answers `probe`."""
    process = subprocess.Popen(gunicorn_command(args, port), env=env, cwd=ROOT)  # noqa: S603
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                    sock.sendall(
                        f"GET {probe} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
                    )
                    if sock.recv(64).startswith(b"HTTP/1.1"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start within 60 s")
            time.sleep(0.2)
        yield
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 30 s."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def loadgen(args: argparse.Namespace, mode: str, port: int, extra: Sequence[str]) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "bench.loadgen",
        mode,
        "--port",
        str(port),
        "--batches",
        str(args.batches),
        "--dup-batches",
        str(args.dup_batches),
        "--singles",
        str(args.singles),
        "--batch-concurrency",
        str(args.batch_concurrency),
        "--single-concurrency",
        str(args.single_concurrency),
        "--seconds",
        str(args.seconds),
        "--db-name",
        args.db_name,
        *extra,
    ]
    result: dict[str, Any] = run_json(command, dict(os.environ))
    return result


# --- the COPY ceiling -----------------------------------------------------------------------


def copy_ceiling(conninfo: str, database: str, seed: dict[str, str], run: str, rows: int) -> dict[str, Any]:
    """COPY the batched phase's rows (same events, same columns) into a table shaped like the raw
    event table (same indexes, unique constraint included), in one transaction; timed."""
    occurred_at = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat(timespec="seconds")
    now = dt.datetime.now(dt.UTC)
    with psycopg.connect(conninfo) as conn:
        contract_id, source_id = conn.execute(
            "SELECT c.id, s.id FROM contracts_contract c, contracts_webhooksource s WHERE c.reference = %s",
            [seed["contract"]],
        ).fetchone() or (None, None)
        conn.execute(f"DROP TABLE IF EXISTS {COPY_TABLE}")
        conn.execute(f"CREATE TABLE {COPY_TABLE} (LIKE outcomes_rawevent INCLUDING ALL)")
        conn.commit()
        prepared = []
        for index in range(rows):
            event = make_event(
                f"{run}b",
                index,
                contract=seed["contract"],
                outcome_type=seed["outcome_type"],
                occurred_at=occurred_at,
            )
            prepared.append(
                (
                    source_id,
                    1,
                    event["id"],
                    hashlib.sha256(orjson.dumps(event, option=orjson.OPT_SORT_KEYS)).hexdigest(),
                    orjson.dumps(event).decode(),
                    event["kind"],
                    contract_id,
                    event["outcome_type"],
                    event["natural_key"],
                    occurred_at,
                    now,
                )
            )
        cpu_before = cpu.snapshot(database)
        began = time.perf_counter()
        with (
            conn.cursor() as cursor,
            cursor.copy(
                f"COPY {COPY_TABLE} (source_id, delivery_id, event_id, body_sha256, payload, kind, "
                "contract_id, outcome_type_key, natural_key, occurred_at, received_at) FROM STDIN"
            ) as copy,
        ):
            for row in prepared:
                copy.write_row(row)
        conn.commit()
        elapsed = time.perf_counter() - began
        used = cpu.used(cpu_before, cpu.snapshot(database))
        stored = conn.execute(f"SELECT count(*) FROM {COPY_TABLE}").fetchone()  # noqa: S608
        conn.execute(f"DROP TABLE {COPY_TABLE}")
        conn.commit()
    return {"rows": rows, "stored": stored[0] if stored else 0, "elapsed": elapsed, "cpu": used}


# --- verification ---------------------------------------------------------------------------


def stored_counts(conninfo: str) -> dict[str, Any]:
    with psycopg.connect(conninfo) as conn:
        total, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT (source_id, event_id)) FROM outcomes_rawevent"
        ).fetchone() or (0, 0)
        by_tag: dict[str, int] = dict(
            conn.execute(
                "SELECT split_part(event_id, '_', 2), count(*) FROM outcomes_rawevent GROUP BY 1"
            ).fetchall()
        )
        deliveries = conn.execute("SELECT count(*) FROM outcomes_delivery").fetchone()
        bare = conn.execute(f"SELECT count(*) FROM {BARE_TABLE}").fetchone()  # noqa: S608
    return {
        "raw_events": total,
        "distinct_event_ids": distinct,
        "by_tag": by_tag,
        "deliveries": deliveries[0] if deliveries else 0,
        "bare_rows": bare[0] if bare else 0,
    }


def queued_tasks(broker_url: str) -> int:
    import redis

    client = redis.Redis.from_url(broker_url)
    queued = int(client.llen("celery"))
    client.flushdb()
    return queued


# --- the report -----------------------------------------------------------------------------


def machine() -> dict[str, str]:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    return {"nproc": str(os.cpu_count()), "cpu": model, "python": platform.python_version()}


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def build_report(
    args: argparse.Namespace, results: dict[str, Any]
) -> list[tuple[str, str, str, str, str, str]]:
    product, bare, copy, counts = results["product"], results["bare"], results["copy"], results["counts"]
    batched = product["batched"]
    batched_rate = batched["accepted"] / batched["elapsed"]
    copy_rate = copy["rows"] / copy["elapsed"]
    single = product["single"]
    single_rate = single["requests"] / single["elapsed"]
    bare_single = bare["single"]
    bare_rate = bare_single["requests"] / bare_single["elapsed"]
    dedup = product["dedup"]
    acknowledged = sum(product[phase]["accepted"] for phase in ("warmup", "batched", "dedup", "single"))
    exactly_once = (
        counts["raw_events"] == acknowledged
        and counts["distinct_event_ids"] == counts["raw_events"]
        and dedup["duplicates"] == dedup["expected_duplicates"]
        and all(product[phase]["rejected"] == 0 for phase in ("warmup", "batched", "dedup", "single"))
        and all(
            set(product[phase]["statuses"]) == {"200"} for phase in ("warmup", "batched", "dedup", "single")
        )
    )
    batched_goal = (
        "PASS" if batched_rate >= GOAL_BATCHED else ("FLOOR" if batched_rate >= FLOOR_BATCHED else "FAIL")
    )
    ms = 1000.0
    return [
        (
            "batched events/s (1,000/request)",
            f"{batched_rate:,.0f}",
            f"COPY {copy_rate:,.0f} rows/s",
            f"{batched_rate / copy_rate:.2f}",
            f">= {GOAL_BATCHED:,} (floor {FLOOR_BATCHED:,}); >= {GOAL_COPY_RATIO} x COPY",
            f"{batched_goal} / {verdict(batched_rate >= GOAL_COPY_RATIO * copy_rate)}",
        ),
        (
            "  vs anchors (Lago 10k ev/s, Stripe 1k/s)",
            f"{batched_rate / LAGO_EVENTS_PER_SECOND:.1f}x Lago",
            f"{batched_rate / STRIPE_METER_EVENTS_PER_SECOND:.0f}x Stripe",
            "",
            "",
            "",
        ),
        (
            "dedup pass events/s (20% resent)",
            f"{(dedup['accepted'] + dedup['duplicates']) / dedup['elapsed']:,.0f}",
            "",
            "",
            f"{dedup['expected_duplicates']:,} duplicates acknowledged",
            verdict(dedup["duplicates"] == dedup["expected_duplicates"]),
        ),
        (
            "single-event requests/s",
            f"{single_rate:,.0f}",
            f"bare view {bare_rate:,.0f} req/s",
            f"{single_rate / bare_rate:.2f}",
            f">= {GOAL_BARE_RATIO} x bare view",
            verdict(single_rate >= GOAL_BARE_RATIO * bare_rate),
        ),
        (
            "single-event latency p50 / p99",
            f"{single['p50'] * ms:.1f} / {single['p99'] * ms:.1f} ms",
            f"bare {bare_single['p50'] * ms:.1f} / {bare_single['p99'] * ms:.1f} ms",
            f"{single['p50'] / bare_single['p50']:.2f} / {single['p99'] / bare_single['p99']:.2f}",
            f"at {args.single_concurrency} connections",
            "",
        ),
        (
            "stored exactly once",
            f"{counts['raw_events']:,} rows",
            f"{acknowledged:,} acknowledged",
            f"{counts['distinct_event_ids']:,} distinct",
            "rows == acknowledged, no id twice",
            verdict(exactly_once),
        ),
    ]


def cpu_report(results: dict[str, Any]) -> list[tuple[str, ...]]:
    """CPU seconds per group of processes in each timed phase, and per unit of work."""
    cores = int(results["machine"]["nproc"] or 1)
    phases = [
        (
            "batched",
            results["product"]["batched"],
            results["product"]["batched"]["accepted"] / 1000,
            "1,000 events",
        ),
        ("dedup pass", results["product"]["dedup"], results["product"]["dedup"]["requests"], "request"),
        ("single-event", results["product"]["single"], results["product"]["single"]["requests"], "request"),
        ("bare view", results["bare"]["single"], results["bare"]["single"]["requests"], "request"),
        ("COPY", results["copy"], results["copy"]["rows"] / 1000, "1,000 rows"),
    ]
    rows: list[tuple[str, ...]] = []
    for name, phase, units, unit in phases:
        used, elapsed = phase.get("cpu") or {}, phase["elapsed"]
        if not used or not units:
            continue
        per = {group: used[group] / units * 1000 for group in used}
        rows.append(
            (
                name,
                f"{elapsed:.1f} s",
                f"{used['gunicorn']:.1f} s ({per['gunicorn']:.1f} ms)",
                f"{used['postgres']:.1f} s ({per['postgres']:.1f} ms)",
                f"{used['loadgen']:.1f} s ({per['loadgen']:.1f} ms)",
                f"{used['other']:.1f} s ({used['other'] / (cores * elapsed):.0%} of the box)",
                unit,
            )
        )
    return rows


def capacity_report(results: dict[str, Any]) -> list[tuple[str, ...]]:
    """The figures as CPU cost: what each side would do alone on this machine's idle cores.

    The box is shared (other processes take their share, differently in each phase), so next to
    the measured ratios this compares the CPU each unit of work took, all processes counted.
    """
    cores = int(results["machine"]["nproc"] or 1)

    def cost(phase: dict[str, Any], units: float) -> float:  # CPU seconds per unit, other processes excluded
        used = phase.get("cpu") or {}
        return (
            sum(used.get(group, 0.0) for group in ("gunicorn", "postgres", "loadgen")) / units
            if units
            else 0.0
        )

    product, bare, copy = results["product"], results["bare"], results["copy"]
    batched = cost(product["batched"], product["batched"]["accepted"])
    copy_rows = cost(copy, copy["rows"])
    single = cost(product["single"], product["single"]["requests"])
    bare_single = cost(bare["single"], bare["single"]["requests"])
    if not (batched and copy_rows and single and bare_single):
        return []
    return [
        (
            "batched events/s",
            f"{batched * 1e6:.0f} us/event",
            f"{cores / batched:,.0f}",
            f"COPY {copy_rows * 1e6:.0f} us/row -> {cores / copy_rows:,.0f}",
            f"{copy_rows / batched:.2f}",
        ),
        (
            "single-event requests/s",
            f"{single * 1e3:.2f} ms/request",
            f"{cores / single:,.0f}",
            f"bare {bare_single * 1e3:.2f} ms/request -> {cores / bare_single:,.0f}",
            f"{bare_single / single:.2f}",
        ),
    ]


def print_table(
    rows: Sequence[tuple[str, ...]],
    markdown: bool,
    header: tuple[str, ...] = ("figure", "value", "ceiling", "ratio", "goal", "result"),
) -> None:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(cell.strip() or " " for cell in row) + " |" for row in rows]
    else:
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            for row in [header, *rows]
        ]
        lines.insert(1, "  ".join("-" * width for width in widths))
    print("\n".join(lines))  # noqa: T201


def add_server_arguments(parser: argparse.ArgumentParser, *, db_name: str, broker_url: str) -> None:
    """The gunicorn, database and broker options the ingestion and soak benchmarks share."""
    parser.add_argument("--worker-class", default="gthread")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--db-host", default="127.0.0.1")
    parser.add_argument("--db-port", default="5432")
    parser.add_argument("--db-user", default="postgres")
    parser.add_argument("--db-name", default=db_name)
    parser.add_argument("--broker-url", default=broker_url)
    parser.add_argument("--keep-db", action="store_true", help="keep the benchmark's database afterwards")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--batches", type=int, default=300, help="batched requests of 1,000 events (default 300)"
    )
    parser.add_argument("--dup-batches", type=int, default=30, help="dedup-pass requests (default 30)")
    parser.add_argument("--singles", type=int, default=15000, help="single-event requests (default 15000)")
    parser.add_argument("--seconds", type=float, default=60.0, help="cap on each timed phase (default 60)")
    parser.add_argument("--batch-concurrency", type=int, default=4)
    parser.add_argument("--single-concurrency", type=int, default=8)
    add_server_arguments(parser, db_name="verity_bench", broker_url="redis://127.0.0.1:6379/13")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--json", type=Path, default=ROOT / "var" / "bench-ingest.json", help="raw results")
    args = parser.parse_args(argv)
    # A SIGTERM (a CI timeout) unwinds like Ctrl-C does, so the gunicorn we started is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    run = uuid.uuid4().hex[:6]
    database_url = f"postgres://{args.db_user}@{args.db_host}:{args.db_port}/{args.db_name}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": "bench",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": database_url,
        "CONN_MAX_AGE": "600",
        # A broker makes the request path store and enqueue only (no broker = outcomes built eagerly
        # inside the request, which is not what is measured). No worker consumes; purged afterwards.
        "CELERY_BROKER_URL": args.broker_url,
        "LOG_LEVEL": "WARNING",
        "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback
        "PYTHONPATH": str(ROOT),
    }
    conninfo = admin_conninfo(args, args.db_name)
    results: dict[str, Any] = {"machine": machine(), "options": vars(args) | {"json": str(args.json)}}
    results["gunicorn"] = shlex.join(gunicorn_command(args, 0)[1:]).replace("127.0.0.1:0", "127.0.0.1:<port>")

    log(f"database {args.db_name}: drop, create, migrate, seed")
    recreate_database(args)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], env=env, cwd=ROOT, check=True
    )
    seed = run_json([sys.executable, "-m", "bench.seed"], env)
    with psycopg.connect(conninfo) as conn:
        conn.execute(
            f"CREATE TABLE {BARE_TABLE} (id bigserial PRIMARY KEY, body jsonb NOT NULL, received_at timestamptz NOT NULL)"
        )
    queued_tasks(args.broker_url)

    port = free_port()
    log(f"product: {results['gunicorn']} (port {port})")
    with served(args, env, port, "/-/probe"):
        log("load: warm-up, batched, dedup pass, single-event")
        results["product"] = loadgen(
            args,
            "ingest",
            port,
            [
                "--source-id",
                seed["source_id"],
                "--secret",
                seed["secret"],
                "--contract",
                seed["contract"],
                "--outcome-type",
                seed["outcome_type"],
                "--run",
                run,
            ],
        )
    results["queued_build_tasks"] = queued_tasks(args.broker_url)

    port = free_port()
    log("bare-view ceiling: same gunicorn command, bench.bare_settings")
    with served(args, env | {"DJANGO_SETTINGS_MODULE": "bench.bare_settings"}, port, "/-/probe"):
        results["bare"] = loadgen(args, "bare", port, [])

    log("COPY ceiling")
    results["copy"] = copy_ceiling(
        conninfo, args.db_name, seed, run, results["product"]["batched"]["accepted"]
    )
    results["counts"] = stored_counts(conninfo)
    if not args.keep_db:
        drop_database(args)

    rows = build_report(args, results)
    results["table"] = rows
    results["cpu_table"] = cpu_report(results)
    results["capacity_table"] = capacity_report(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    info = results["machine"]
    print(f"\nVerity ingestion benchmark — {info['nproc']} cores ({info['cpu']}), Python {info['python']}")  # noqa: T201
    print(f"server: gunicorn {results['gunicorn']}")  # noqa: T201
    print_table(rows, args.markdown)
    print("\nCPU used during each timed phase (per unit of work in brackets):")  # noqa: T201
    print_table(
        results["cpu_table"],
        args.markdown,
        ("phase", "wall", "gunicorn", "postgres", "load generator", "other processes", "unit"),
    )
    print(f"\nThe same as CPU cost (gunicorn + postgres + load generator) and {info['nproc']}-core capacity:")  # noqa: T201
    print_table(
        results["capacity_table"],
        args.markdown,
        ("figure", "CPU per unit", "capacity", "ceiling", "ratio by cost"),
    )
    return 0 if all(row[5] in ("", "PASS", "PASS / PASS") for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

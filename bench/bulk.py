"""Bulk SQL seeding and report helpers shared by bench.verify and bench.close.

Contracts are written with set-based SQL (one statement per table, however many contracts), with
the very JSON the services store: terms are validated and normalized by contracts.terms, exactly as
contracts.services.contracts._write_terms does. Every contract has its own customer, a customer
system-of-record source and a vendor-agent source. `bench_contracts` (n, ids) maps a contract's
number to its rows, so outcome seeding can spread rows over contracts arithmetically.

Everything runs on Django's default connection: the benchmarks' own database, or the test database
in the smoke tests (tests/bench).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import io
import json
import os
import platform
import pstats
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import psycopg

OUTCOME_TYPE = "ticket.resolved"
ROOT = Path(__file__).resolve().parent.parent
VENDOR_SLUG = "bench-vendor"


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)  # noqa: T201


# --- the benchmark's own database ----------------------------------------------------------


@dataclass(frozen=True)
class Server:
    host: str
    port: str
    user: str

    @classmethod
    def from_url(cls, url: str) -> Server:
        """The server of a database URL (postgres://user@host:port/name); its database is not used."""
        parts = urlsplit(url)
        return cls(parts.hostname or "127.0.0.1", str(parts.port or 5432), parts.username or "postgres")

    def conninfo(self, dbname: str) -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname={dbname}"

    def url(self, dbname: str) -> str:
        return f"postgres://{self.user}@{self.host}:{self.port}/{dbname}"


def recreate_database(server: Server, name: str) -> None:
    with psycopg.connect(server.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(server: Server, name: str) -> None:
    with psycopg.connect(server.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def django_setup(server: Server, name: str) -> None:
    """Point Django at the bench database (production settings: DEBUG off, no query log) and migrate."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "false",
            "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench",
            "DATABASE_URL": server.url(name),
            "CELERY_BROKER_URL": "",
            "LOG_LEVEL": "WARNING",
        }
    )
    if not os.environ.get("FIELD_ENCRYPTION_KEYS"):
        from cryptography.fernet import Fernet

        os.environ["FIELD_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--no-input", verbosity=0)


# --- SQL helpers -----------------------------------------------------------------------------


def execute(sql: str, params: dict[str, Any] | Sequence[Any] | None = None) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def fetchall(sql: str, params: dict[str, Any] | Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def vacuum_analyze(*tables: str) -> None:
    """What autovacuum would have done to tables this size (planner statistics, visibility map)."""
    from django.db import connection

    if connection.in_atomic_block:  # inside a test's transaction: statistics only
        for table in tables:
            execute(f"ANALYZE {table}")
        return
    for table in tables:
        execute(f"VACUUM (ANALYZE) {table}")


@contextlib.contextmanager
def indexes_deferred(tables: Sequence[str], enabled: bool = True) -> Iterator[None]:
    """Load data with the tables' secondary indexes, unique and foreign-key constraints dropped, then
    put every one back exactly as it was (pg_get_indexdef / pg_get_constraintdef): building an index
    once is far cheaper than maintaining it row by row. Primary keys stay."""
    if not enabled:
        yield
        return
    constraints = fetchall(
        """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
        FROM pg_constraint
        WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('u', 'f')
        ORDER BY contype DESC, conname
        """,
        [list(tables)],
    )
    indexes = fetchall(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype = 'u')
        """,
        [list(tables)],
    )
    for table, name, _ in constraints:
        execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        execute(f"DROP INDEX {name}")
    try:
        yield
    finally:
        execute("SET maintenance_work_mem = '256MB'")
        for _, definition in indexes:
            execute(definition)
        for table, name, definition in reversed(constraints):  # unique ones first: foreign keys may use them
            execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        execute("RESET maintenance_work_mem")


@contextlib.contextmanager
def counted_queries() -> Iterator[list[int]]:
    """Count the SQL statements run on the default connection (cheap: no query log)."""
    from django.db import connection

    box = [0]

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        box[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield box


# --- contracts ---------------------------------------------------------------------------


def normalized_terms(outcome_type: dict[str, Any]) -> tuple[str, str, str]:
    """pricing_model, pricing JSON and verification_policy JSON as the services store them."""
    from contracts.terms import OutcomeTypeTerms, parse

    item = parse(
        OutcomeTypeTerms,
        {
            "key": OUTCOME_TYPE,
            "natural_key_field": "ticket_id",
            "billing_basis": "per_outcome",
            **outcome_type,
        },
    )
    return (
        item.pricing.model,
        json.dumps(item.pricing.model_dump(mode="json")),
        json.dumps(item.verification_policy.model_dump(mode="json")),
    )


def seed_contracts(
    count: int,
    *,
    starts_at: dt.datetime,
    outcome_types: Sequence[dict[str, Any]],
    platform_fee_minor: int = 50_000,
    timezone: str = "UTC",
) -> str:
    """`count` active contracts of one vendor, each with a customer, two sources and one locked version
    with one outcome type; contract n takes outcome_types[n % len(outcome_types)]. Returns the vendor id."""
    from contracts.models import Vendor

    vendor, _ = Vendor.objects.get_or_create(slug=VENDOR_SLUG, defaults={"name": "Bench Vendor"})
    execute("DROP TABLE IF EXISTS bench_contracts")
    execute(
        """
        CREATE TABLE bench_contracts (
            n integer PRIMARY KEY,
            vendor_id uuid NOT NULL,
            customer_id uuid NOT NULL,
            contract_id uuid NOT NULL UNIQUE,
            version_id bigint NOT NULL,
            outcome_type_id bigint NOT NULL,
            customer_source uuid NOT NULL,
            agent_source uuid NOT NULL,
            terms integer NOT NULL
        )
        """
    )
    execute(
        """
        INSERT INTO bench_contracts
        SELECT g, %(vendor)s, gen_random_uuid(), gen_random_uuid(),
               nextval(pg_get_serial_sequence('contracts_contractversion', 'id')),
               nextval(pg_get_serial_sequence('contracts_outcometype', 'id')),
               gen_random_uuid(), gen_random_uuid(), g %% %(kinds)s
        FROM generate_series(0, %(count)s - 1) AS g
        """,
        {"vendor": vendor.pk, "count": count, "kinds": len(outcome_types)},
    )
    execute(
        """
        INSERT INTO contracts_customer
            (id, vendor_id, name, external_ref, billing_email, stripe_customer_id,
             stripe_default_payment_method, tax_ids, tax_exempt, created_at, updated_at)
        SELECT customer_id, vendor_id, 'Bench customer ' || n, 'bench-' || n,
               'billing' || n || '@bench.test', '', '', '[]'::jsonb, 'none', now(), now()
        FROM bench_contracts
        """
    )
    execute(
        """
        INSERT INTO contracts_webhooksource
            (id, vendor_id, customer_id, name, kind, created_at, approved_at, approved_by)
        SELECT customer_source, vendor_id, customer_id, 'helpdesk', 'customer_system', now(),
               timestamptz '2000-01-01T00:00:00Z', 'bench'  -- approved before the history inserted below
        FROM bench_contracts
        UNION ALL
        SELECT agent_source, vendor_id, customer_id, 'agent', 'vendor_agent', now(), NULL, ''
        FROM bench_contracts
        """
    )
    execute(
        """
        INSERT INTO contracts_contract
            (id, vendor_id, customer_id, reference, currency, timezone, period_unit, period_count,
             anchor_day, starts_at, ends_at, collection_method, days_until_due, grace_period_hours,
             credit_after_payment, status, activated_at, created_at, updated_at)
        SELECT contract_id, vendor_id, customer_id, 'BENCH-' || lpad(n::text, 6, '0'), 'USD', %(tz)s,
               'month', 1, 1, %(starts)s, NULL, 'charge_automatically', NULL, 72,
               'customer_balance', 'active', %(starts)s, now(), now()
        FROM bench_contracts
        """,
        {"tz": timezone, "starts": starts_at},
    )
    execute(
        """
        INSERT INTO contracts_contractversion
            (id, contract_id, number, effective_from, platform_fee_minor, minimum_commitment_minor,
             cap_amount_minor, budget_alert_percents, notes, locked_at, created_at)
        SELECT version_id, contract_id, 1, %(starts)s, %(fee)s, 0, NULL, '[80, 95]', '', %(starts)s, now()
        FROM bench_contracts
        """,
        {"starts": starts_at, "fee": platform_fee_minor},
    )
    for index, terms in enumerate(outcome_types):
        model, pricing, policy = normalized_terms(terms)
        execute(
            """
            INSERT INTO contracts_outcometype
                (id, version_id, key, description, natural_key_field, billing_basis, pricing_model,
                 pricing, free_units, cap_units, cap_amount_minor, verification_policy)
            SELECT outcome_type_id, version_id, %(key)s, 'Bench outcome', 'ticket_id', 'per_outcome',
                   %(model)s, %(pricing)s, %(free)s, NULL, NULL, %(policy)s
            FROM bench_contracts WHERE terms = %(index)s
            """,
            {
                "key": OUTCOME_TYPE,
                "model": model,
                "pricing": pricing,
                "free": int(terms.get("free_units", 0)),
                "policy": policy,
                "index": index,
            },
        )
    vacuum_analyze(
        "bench_contracts",
        "contracts_customer",
        "contracts_webhooksource",
        "contracts_contract",
        "contracts_contractversion",
        "contracts_outcometype",
    )
    return str(vendor.pk)


# --- the report -----------------------------------------------------------------------------


def machine() -> dict[str, str]:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    postgres = ""
    with contextlib.suppress(Exception):
        postgres = str(fetchall("SHOW server_version")[0][0])
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "postgres": postgres,
    }


def print_table(rows: Sequence[Sequence[str]], header: Sequence[str], markdown: bool = False) -> None:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(cell.strip() or " " for cell in row) + " |" for row in rows]
    else:
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in [header, *rows]
        ]
        lines.insert(1, "  ".join("-" * width for width in widths))
    print("\n".join(lines))  # noqa: T201


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
CpuSnapshot = dict[tuple[int, str], float]


def _cpu_snapshot() -> CpuSnapshot:
    """CPU seconds (user + system) so far of every live process, as (pid, group): "bench" (this process
    and its worker processes), "postgres", or "other" (whatever else shares the machine)."""
    me, result = os.getpid(), {}
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{name}/cmdline", "rb") as handle:
                    command = handle.read()
            except (OSError, IndexError):
                continue
            pid, parent = int(name), int(fields[1])
            group = (
                "bench" if me in (pid, parent) else "postgres" if command.startswith(b"postgres") else "other"
            )
            result[(pid, group)] = (int(fields[11]) + int(fields[12])) / _TICKS
    return result


class Timer:
    """Wall-clock seconds of a block (`with Timer() as t: ...; t.elapsed`), and the CPU seconds each
    group of processes used meanwhile (`t.cpu`: bench, postgres, other), read from /proc on Linux."""

    def __enter__(self) -> Timer:
        self.began = time.perf_counter()
        self.elapsed = 0.0
        self.cpu: dict[str, float] = {}
        self._before = _cpu_snapshot()
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.perf_counter() - self.began
        after = _cpu_snapshot()
        # A process that ended meanwhile is gone from `after`: end the block before worker processes
        # (and their database connections) exit, as bench.close does, or their CPU is not counted.
        self.cpu = {"bench": 0.0, "postgres": 0.0, "other": 0.0}
        for key, seconds in after.items():
            self.cpu[key[1]] += seconds - self._before.get(key, 0.0)


def cpu_cell(timer: Timer) -> str:
    """`bench / postgres / other` CPU seconds of a timed block, and the share of the machine others took."""
    cpu, cores = timer.cpu, os.cpu_count() or 1
    if not cpu or not timer.elapsed:
        return ""
    return (
        f"{cpu['bench']:.1f} / {cpu['postgres']:.1f} / {cpu['other']:.1f} s "
        f"(others {cpu['other'] / (cores * timer.elapsed):.0%})"
    )


# --- worker processes ----------------------------------------------------------------------


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def run_parallel(
    function: Callable[..., tuple[int, int]],
    items: Sequence[Any],
    workers: int,
    *args: Any,
    chunk: int = 50,  # items per task handed to a worker process
) -> tuple[int, int, Timer]:
    """Run `function(chunk, *args)` over chunks of `items`: in this process when workers <= 1 (the smoke
    tests, inside their transaction), else on a pool of forked worker processes. Returns the items
    done, the queries run and the timing (taken before the workers and their connections go away)."""
    if workers <= 1:
        with Timer() as timer:
            done, queries = function(items, *args)
        return done, queries, timer
    from django.db import connections

    connections.close_all()  # each forked worker opens its own connection
    done = queries = 0
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork")) as pool, Timer() as timer:
        futures = [pool.submit(function, chunk, *args) for chunk in chunks(items, chunk)]
        for future in futures:
            count, used = future.result()
            done, queries = done + count, queries + used
    return done, queries, timer


@contextlib.contextmanager
def profiled(path: Path | None, *, sort: str = "cumulative", lines: int = 30) -> Iterator[None]:
    """cProfile the block when `path` is given: the stats written there, the top `lines` functions (by
    `sort`) logged; nothing when it is None."""
    if path is None:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
    path.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(path)
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats(sort).print_stats(lines)
    log(f"profile written to {path}\n{text.getvalue()}")


# --- command lines -------------------------------------------------------------------------


def add_database_arguments(parser: argparse.ArgumentParser, *, name: str) -> None:
    """The options the database benchmarks share: where, their own database `verity_bench_<name>`,
    and their outputs (var/bench-<name>.json)."""
    parser.add_argument(
        "--server-url",
        default="postgres://postgres@127.0.0.1:5432/postgres",
        help="a database URL naming the Postgres server to use (host, port, user); "
        "the benchmark creates, and then drops, its own database --db-name there",
    )
    parser.add_argument("--db-name", default=f"verity_bench_{name}")
    parser.add_argument("--keep-db", action="store_true", help="keep the bench database afterwards")
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    parser.add_argument("--json", type=Path, default=ROOT / "var" / f"bench-{name}.json", help="raw results")


def sizes_of(text: str) -> list[int]:
    """`--sizes 10000,100_000` -> [10000, 100000], ascending."""
    return sorted(int(size.replace("_", "")) for size in text.split(","))


def save_results(args: argparse.Namespace, info: dict[str, str], **results: Any) -> None:
    """Raw results to `--json`, with the machine and the options of the run."""
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_bytes(
        orjson.dumps(
            {"machine": info, "options": vars(args) | {"json": str(args.json)}, **results},
            option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS,
        )
    )


def print_title(title: str, info: dict[str, str]) -> None:
    print(  # noqa: T201
        f"\nVerity {title} — {info['nproc']} cores ({info['cpu']}), Python {info['python']}, "
        f"PostgreSQL {info['postgres']}"
    )

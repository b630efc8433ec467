"""What monthly partitions of the raw inbox would cost (`make bench-partitions`): a model, not the product's schema.

docs/scaling.md says why the raw inbox is not partitioned yet and what it would take. This measures the
two costs that decide it, on a table with the raw event table's columns and indexes (outcomes_rawevent)
in a database of its own:

1. a lone event's insert (PostgreSQL CPU per event) after 1, 12, 36… months of history, into one table
   as today (unique per (source, event id), ON CONFLICT DO NOTHING) and into a table partitioned by
   month on received_at, one partition per month: a unique index of a partitioned table must include
   the partition key, so there the idempotency key moves to a table of its own, written by the same
   statement;
2. a lookup by id alone, as a join from outcomes_outcomeevent reads a raw event today, and by (id,
   received_at), which lets PostgreSQL prune to one partition.
"""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import sys
from collections.abc import Sequence
from typing import Any

import orjson
import psycopg

from bench import cpu
from bench.bulk import (
    Server,
    add_database_arguments,
    drop_database,
    log,
    print_table,
    recreate_database,
    sizes_of,
)

TABLE, KEYS = "bench_inbox", "bench_inbox_key"
SOURCE = "00000000-0000-0000-0000-000000000001"
CONTRACT = "00000000-0000-0000-0000-000000000002"
# outcomes_rawevent's columns (tests/bench/test_partitions_bench_smoke.py keeps them the same).
COLUMNS = {
    "id": "bigint NOT NULL DEFAULT nextval('bench_inbox_id')",
    "source_id": "uuid NOT NULL",
    "delivery_id": "bigint NOT NULL",
    "event_id": "varchar(200) NOT NULL",
    "body_sha256": "varchar(64) NOT NULL",
    "payload": "jsonb NOT NULL",
    "kind": "varchar(32) NOT NULL",
    "contract_id": "uuid NOT NULL",
    "outcome_type_key": "varchar(64) NOT NULL",
    "natural_key": "varchar(200) NOT NULL",
    "occurred_at": "timestamptz NOT NULL",
    "received_at": "timestamptz NOT NULL",
}
# Its indexes besides the primary key and the unique (source, event id) (outcomes.models.RawEvent.Meta).
INDEXES = (
    "(delivery_id)",
    "(contract_id, outcome_type_key, natural_key)",
    "(contract_id, received_at) WHERE kind = 'outcome.reversed'",
)
INSERT_TODAY = f"""
INSERT INTO {TABLE} (source_id, delivery_id, event_id, body_sha256, payload, kind, contract_id,
                     outcome_type_key, natural_key, occurred_at, received_at)
VALUES (%(source)s, %(delivery)s, %(event_id)s, %(sha)s, %(payload)s::jsonb, 'outcome.claimed', %(contract)s,
        'ticket.resolved', %(natural_key)s, %(at)s, %(at)s)
ON CONFLICT (source_id, event_id) DO NOTHING RETURNING id
"""  # noqa: S608
INSERT_PARTITIONED = f"""
WITH fresh AS (
    INSERT INTO {KEYS} (source_id, event_id) VALUES (%(source)s, %(event_id)s)
    ON CONFLICT DO NOTHING RETURNING source_id
)
INSERT INTO {TABLE} (source_id, delivery_id, event_id, body_sha256, payload, kind, contract_id,
                     outcome_type_key, natural_key, occurred_at, received_at)
SELECT %(source)s, %(delivery)s, %(event_id)s, %(sha)s, %(payload)s::jsonb, 'outcome.claimed', %(contract)s,
       'ticket.resolved', %(natural_key)s, %(at)s, %(at)s
FROM fresh RETURNING id
"""  # noqa: S608


def month_start(at: dt.datetime, back: int) -> dt.datetime:
    """The first instant of the month `back` months before `at`'s, in UTC."""
    index = at.year * 12 + at.month - 1 - back
    return dt.datetime(index // 12, index % 12 + 1, 1, tzinfo=dt.UTC)


def create_inbox(conn: psycopg.Connection[Any], months: int, *, partitioned: bool, now: dt.datetime) -> None:
    """The inbox as one table, or partitioned by month with a partition for each of `months` up to now's."""
    conn.execute(f"DROP TABLE IF EXISTS {TABLE}, {KEYS}")
    conn.execute("DROP SEQUENCE IF EXISTS bench_inbox_id")
    conn.execute("CREATE SEQUENCE bench_inbox_id")
    columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
    if not partitioned:
        conn.execute(f"CREATE TABLE {TABLE} ({columns}, PRIMARY KEY (id), UNIQUE (source_id, event_id))")
    else:
        conn.execute(
            f"CREATE TABLE {TABLE} ({columns}, PRIMARY KEY (id, received_at)) PARTITION BY RANGE (received_at)"
        )
        conn.execute(
            f"CREATE TABLE {KEYS} (source_id uuid, event_id varchar(200), PRIMARY KEY (source_id, event_id))"
        )
        for back in range(months):
            lower, upper = month_start(now, back), month_start(now, back - 1)
            conn.execute(
                f"CREATE TABLE {TABLE}_{lower:%Y%m} PARTITION OF {TABLE} "
                f"FOR VALUES FROM ('{lower.isoformat()}') TO ('{upper.isoformat()}')"
            )
    for index in INDEXES:
        conn.execute(f"CREATE INDEX ON {TABLE} {index}")


def fill_history(conn: psycopg.Connection[Any], months: int, rows_per_month: int, now: dt.datetime) -> None:
    """`rows_per_month` events in each of the `months` months before now (the same total either way)."""
    for back in range(months):
        at = month_start(now, back) + dt.timedelta(days=1)
        conn.execute(
            f"""INSERT INTO {TABLE} (source_id, delivery_id, event_id, body_sha256, payload, kind, contract_id,
                                    outcome_type_key, natural_key, occurred_at, received_at)
                SELECT %(source)s, g, 'h{back}_' || g, md5(g::text), '{{"id": 1}}', 'outcome.claimed', %(contract)s,
                       'ticket.resolved', 'h{back}_' || g, %(at)s, %(at)s
                FROM generate_series(1, %(rows)s) g""",  # noqa: S608
            {"source": SOURCE, "contract": CONTRACT, "at": at, "rows": rows_per_month},
        )
    if conn.execute(f"SELECT to_regclass('{KEYS}')").fetchone() != (None,):
        conn.execute(f"INSERT INTO {KEYS} SELECT source_id, event_id FROM {TABLE}")  # noqa: S608
    conn.execute(f"VACUUM ANALYZE {TABLE}")


def measure(
    conninfo: str,
    database: str,
    months: int,
    *,
    partitioned: bool,
    rows_per_month: int,
    inserts: int,
    lookups: int,
) -> dict[str, Any]:
    """One layout: its history, then the timed inserts and lookups (PostgreSQL's CPU, as bench.cpu counts
    it: the database's backends and the server's shared processes); its tables are dropped afterwards."""
    now = dt.datetime.now(dt.UTC)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        create_inbox(conn, months, partitioned=partitioned, now=now)
        fill_history(conn, months, rows_per_month, now)
        payload = orjson.dumps({"id": "evt", "kind": "outcome.claimed", "natural_key": "T-1"}).decode()
        sql = INSERT_PARTITIONED if partitioned else INSERT_TODAY
        before = cpu.snapshot(database)
        inserted = 0
        for index in range(inserts):
            row = conn.execute(
                sql,
                {
                    "source": SOURCE,
                    "delivery": index,
                    "event_id": f"new_{index}",
                    "sha": "0" * 64,
                    "payload": payload,
                    "contract": CONTRACT,
                    "natural_key": f"new_{index}",
                    "at": now,
                },
                prepare=True,
            ).fetchone()
            inserted += row is not None
        insert_cpu = cpu.used(before, cpu.snapshot(database))["postgres"]
        sample = conn.execute(
            f"SELECT id, received_at FROM {TABLE} ORDER BY random() LIMIT %s",  # noqa: S608
            [lookups],
        ).fetchall()
        sample = (sample * (lookups // max(len(sample), 1) + 1))[:lookups]
        timings = {}
        for name, where in (("by_id", "id = %s"), ("by_id_and_time", "id = %s AND received_at = %s")):
            before = cpu.snapshot(database)
            for event_id, received_at in sample:
                conn.execute(
                    f"SELECT event_id FROM {TABLE} WHERE {where}",  # noqa: S608
                    [event_id] if name == "by_id" else [event_id, received_at],
                    prepare=True,
                ).fetchone()
            timings[name] = cpu.used(before, cpu.snapshot(database))["postgres"] / max(len(sample), 1)
        history = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]  # type: ignore[index]  # noqa: S608
        conn.execute(f"DROP TABLE {TABLE}")
        conn.execute(f"DROP TABLE IF EXISTS {KEYS}")
        conn.execute("DROP SEQUENCE bench_inbox_id")
    return {
        "months": months,
        "partitioned": partitioned,
        "rows": history,
        "inserted": inserted,
        "insert_us": insert_cpu / inserts * 1e6,
        "lookup_by_id_us": timings["by_id"] * 1e6,
        "lookup_by_id_and_time_us": timings["by_id_and_time"] * 1e6,
    }


HEADER = (
    "months",
    "layout",
    "history rows",
    "insert µs (PG CPU)",
    "x its fewest months",
    "lookup by id µs",
    "by id + received_at µs",
)


def report(results: Sequence[dict[str, Any]]) -> list[tuple[str, ...]]:
    first = {r["partitioned"]: r["insert_us"] for r in reversed(results)}  # each layout's fewest months
    return [
        (
            str(r["months"]),
            "monthly partitions" if r["partitioned"] else "one table (today)",
            f"{r['rows']:,}",
            f"{r['insert_us']:.0f}",
            f"{r['insert_us'] / first[r['partitioned']]:.2f}",
            f"{r['lookup_by_id_us']:.0f}",
            f"{r['lookup_by_id_and_time_us']:.0f}",
        )
        for r in results
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--months", default="1,12,36", help="months of history, ascending, comma-separated")
    parser.add_argument("--rows-per-month", type=int, default=20_000, help="history in each month")
    parser.add_argument("--inserts", type=int, default=3_000, help="lone events inserted, timed")
    parser.add_argument("--lookups", type=int, default=10_000, help="raw events read by id, timed")
    add_database_arguments(parser, name="partitions")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    server = Server.from_url(args.server_url)
    recreate_database(server, args.db_name)
    results = []
    try:
        for months in sizes_of(args.months):
            for partitioned in (False, True):
                log(
                    f"{months} months, {'partitioned' if partitioned else 'one table'}: history, timed inserts"
                )
                results.append(
                    measure(
                        server.conninfo(args.db_name),
                        args.db_name,
                        months,
                        partitioned=partitioned,
                        rows_per_month=args.rows_per_month,
                        inserts=args.inserts,
                        lookups=args.lookups,
                    )
                )
    finally:
        if not args.keep_db:
            drop_database(server, args.db_name)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    print_table(
        report(results),
        HEADER,
        markdown=args.markdown,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

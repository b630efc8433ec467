"""The ingestion benchmark's core at a tiny size (bench.ingest; `make bench-ingest` runs it under gunicorn for
minutes): the same signed batches, dedup pass and lone events against the live test server, the bare view
(bench.bare_urls) on the same server, the COPY ceiling and the exactly-once count. Counts, never timings."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import orjson
import pytest
from django.db import connection
from django.test import override_settings

from bench import ingest, loadgen
from bench.bare_urls import BARE_TABLE
from bench.seed import seed

pytestmark = pytest.mark.django_db(transaction=True)


def conninfo() -> str:
    db = connection.settings_dict
    return f"host={db['HOST']} port={db['PORT']} user={db['USER']} dbname={db['NAME']}"


def as_reported(phases: dict[str, Any]) -> Any:
    """As bench.ingest reads it from the load generator's output (JSON: status codes become strings)."""
    return orjson.loads(orjson.dumps(phases, option=orjson.OPT_NON_STR_KEYS))


@pytest.fixture
def bare_table() -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {BARE_TABLE} (id bigserial PRIMARY KEY, body jsonb NOT NULL, received_at timestamptz NOT NULL)"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {BARE_TABLE}")


def test_ingestion_bench_core_stores_every_acknowledged_event_once(
    live_server: Any, bare_table: None
) -> None:
    # given the bench's contract and source, and tiny phases
    seeded = seed()
    args = argparse.Namespace(
        port=urlparse(live_server.url).port,
        source_id=seeded["source_id"],
        secret=seeded["secret"],
        contract=seeded["contract"],
        outcome_type=seeded["outcome_type"],
        run="smoke",
        batches=3,
        batch_size=20,
        batch_concurrency=2,
        dup_batches=2,
        dup_share=0.25,
        singles=12,
        single_concurrency=3,
        warmup=1,
        seconds=60.0,
    )

    # when the load generator drives the product, then the bare view, and COPY loads the batched rows
    product = as_reported(loadgen.ingest(args))
    with override_settings(ROOT_URLCONF="bench.bare_urls"):
        bare = as_reported(loadgen.bare(args))
    database = connection.settings_dict["NAME"]
    copy = ingest.copy_ceiling(conninfo(), database, seeded, args.run, product["batched"]["accepted"])
    counts = ingest.stored_counts(conninfo())

    # then each phase got what it sent, all 200, resent events acknowledged as duplicates
    assert {phase: product[phase]["requests"] for phase in ("warmup", "batched", "dedup", "single")} == {
        "warmup": 11,
        "batched": 3,
        "dedup": 2,
        "single": 12,
    }
    assert product["batched"]["accepted"] == 60
    assert (product["dedup"]["accepted"], product["dedup"]["duplicates"]) == (30, 10)
    assert product["dedup"]["expected_duplicates"] == 10
    assert product["single"]["accepted"] == 12
    assert all(
        product[phase]["statuses"] == {"200": product[phase]["requests"]} for phase in ("batched", "single")
    )
    assert bare["single"]["requests"] == 12
    assert bare["single"]["statuses"] == {"200": 12}
    # and the raw inbox holds every acknowledged event once; the bare view and COPY wrote theirs
    assert counts["raw_events"] == counts["distinct_event_ids"] == 20 + 10 + 60 + 30 + 12
    assert counts["deliveries"] == 11 + 3 + 2 + 12
    assert counts["bare_rows"] == 10 + 12  # its warm-up and its phase
    assert (copy["rows"], copy["stored"]) == (60, 60)
    # and the report says so
    report = ingest.build_report(args, {"product": product, "bare": bare, "copy": copy, "counts": counts})
    assert report[-1][0] == "stored exactly once"
    assert report[-1][1:4] == ("132 rows", "132 acknowledged", "132 distinct")
    assert report[-1][5] == "PASS"

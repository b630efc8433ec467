"""The partitions benchmark at a tiny size (bench.partitions, `make bench-partitions`): its model of the raw
event table is the raw event table, both layouts store every event inserted once, and a resent event id is
refused by either. Counts only, never timings."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from django.db import connection

from bench import partitions
from outcomes.models import RawEvent

pytestmark = pytest.mark.django_db


def conninfo() -> str:
    db = connection.settings_dict
    return f"host={db['HOST']} port={db['PORT']} user={db['USER']} dbname={db['NAME']}"


def test_the_model_has_the_raw_event_tables_columns_and_indexes() -> None:
    assert list(partitions.COLUMNS) == [field.column for field in RawEvent._meta.concrete_fields]
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'outcomes_rawevent'")
        definitions = {row[0].split(" USING btree ", 1)[1] for row in cursor.fetchall()}
    assert definitions == {
        "(id)",
        "(source_id, event_id)",
        *(
            index.replace("kind = 'outcome.reversed'", "((kind)::text = 'outcome.reversed'::text)")
            for index in partitions.INDEXES
        ),
    }


@pytest.mark.parametrize("partitioned", [False, True])
def test_each_layout_stores_every_new_event_once(partitioned: bool) -> None:
    result = partitions.measure(
        conninfo(),
        connection.settings_dict["NAME"],
        3,
        partitioned=partitioned,
        rows_per_month=5,
        inserts=7,
        lookups=4,
    )

    assert (result["months"], result["partitioned"], result["rows"], result["inserted"]) == (
        3,
        partitioned,
        22,
        7,
    )
    with psycopg.connect(conninfo()) as conn:  # and it left nothing behind
        assert conn.execute(
            "SELECT to_regclass(%s), to_regclass(%s)", [partitions.TABLE, partitions.KEYS]
        ).fetchone() == (None, None)


def test_a_partitioned_inbox_refuses_an_event_id_stored_in_an_earlier_month() -> None:
    now = dt.datetime.now(dt.UTC)
    with psycopg.connect(conninfo(), autocommit=True) as conn:
        partitions.create_inbox(conn, 2, partitioned=True, now=now)
        partitions.fill_history(conn, 2, 3, now)
        try:
            again = {
                "source": partitions.SOURCE,
                "delivery": 1,
                "event_id": "h1_1",
                "sha": "0" * 64,
                "payload": "{}",
                "contract": partitions.CONTRACT,
                "natural_key": "x",
                "at": now,
            }
            assert conn.execute(partitions.INSERT_PARTITIONED, again).fetchone() is None
            assert conn.execute(
                f"SELECT count(*) FROM {partitions.TABLE} WHERE event_id = 'h1_1'"  # noqa: S608
            ).fetchone() == (1,)
        finally:
            conn.execute(f"DROP TABLE {partitions.TABLE}, {partitions.KEYS}")
            conn.execute("DROP SEQUENCE bench_inbox_id")

"""Append-only tables, enforced by PostgreSQL: the migration operations that install the trigger.

The audit log, the raw webhook inbox and Stripe's raw events are evidence: a trigger refuses every
DELETE, and every UPDATE that changes a column other than the few named as processing state. It binds
the application too (a bug, a careless shell session), not only the API. TRUNCATE fires no row
trigger, so test teardown and an operator's deliberate purge still work, and an operator may lift it
for one transaction with `SET LOCAL session_replication_role = replica` (superuser only). SQLite (the
embedded demo) gets no trigger.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

FUNCTION = """
CREATE OR REPLACE FUNCTION verity_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changeable text[] := CASE WHEN TG_NARGS = 0 THEN '{}'::text[] ELSE TG_ARGV END;
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'verity: % is append-only: rows cannot be deleted', TG_TABLE_NAME;
    END IF;
    IF (to_jsonb(NEW) - changeable) IS DISTINCT FROM (to_jsonb(OLD) - changeable) THEN
        RAISE EXCEPTION 'verity: % is append-only: only % may change', TG_TABLE_NAME, changeable;
    END IF;
    RETURN NEW;
END
$$;
"""


def _on_postgres(sql: str) -> Callable[[StateApps, BaseDatabaseSchemaEditor], None]:
    def apply(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)  # no parameters: % stays a character

    return apply


def append_only_function() -> migrations.RunPython:
    """Creates verity_append_only(), which every append-only table's trigger calls."""
    return migrations.RunPython(_on_postgres(FUNCTION), migrations.RunPython.noop)


def append_only_trigger(table: str, *changeable: str) -> migrations.RunPython:
    """The trigger on one table; UPDATEs may change only the `changeable` columns."""
    arguments = ", ".join(f"'{column}'" for column in changeable)
    create = (
        f"CREATE TRIGGER verity_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION verity_append_only({arguments})"
    )
    drop = f"DROP TRIGGER IF EXISTS verity_append_only ON {table}"
    return migrations.RunPython(_on_postgres(create), _on_postgres(drop))

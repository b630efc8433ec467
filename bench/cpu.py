"""Where the CPU went during a phase: seconds per group of processes, read from /proc (Linux).

The load generator shares the machine's cores with the server and Postgres (and with whatever
else runs there), so every phase reports what each side used. "postgres" is the server's shared
processes (WAL writer, checkpointer, ...) and the backends of the bench's own database; backends
of other databases count as "other", with everything that is neither gunicorn, nor Postgres, nor
the load generator itself. Given the port the bench serves on, only the gunicorn bound to it counts
as "gunicorn" (on a shared machine, another benchmark's gunicorn is "other").
"""

from __future__ import annotations

import os

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
Snapshot = dict[tuple[int, str], float]


def _group(pid: int, me: int, database: bytes, bind: bytes) -> str:
    if pid == me:
        return "loadgen"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read()
    except OSError:
        return "other"
    if b"gunicorn" in command:
        return "gunicorn" if bind in command else "other"
    if command.startswith(b"postgres"):
        # A backend's title reads "postgres: 15/main: <user> <database> <client>(<port>) <state>".
        is_backend = b"(" in command or b"[local]" in command
        return "other" if is_backend and database not in command.split() else "postgres"
    return "other"


def snapshot(database: str = "", port: int | None = None) -> Snapshot:
    """CPU seconds (user + system) used so far by every live process, keyed by (pid, group)."""
    me, result, name = os.getpid(), {}, database.encode()
    bind = f"127.0.0.1:{port}".encode() if port else b""
    try:
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        result[(pid, _group(pid, me, name, bind))] = (int(fields[11]) + int(fields[12])) / _TICKS
    return result


def used(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """CPU seconds per group between two snapshots (processes gone by `after` are not counted)."""
    groups = {"gunicorn": 0.0, "postgres": 0.0, "loadgen": 0.0, "other": 0.0}
    for key, seconds in after.items():
        groups[key[1]] += seconds - before.get(key, 0.0)
    return {group: round(seconds, 2) for group, seconds in groups.items()}

"""`make run`'s embedded default, for real: migrate, seed and a simulated month on SQLite with in-process
tasks, in a process of their own (the suite itself runs on PostgreSQL, so nothing else here would meet
SQLite's own behaviour, such as how ids are reserved from a table's AUTOINCREMENT counter)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from devtools.stripe_server import RunningServer

ROOT = Path(settings.BASE_DIR)


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter, manage.py and fixed arguments
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_demo_runs_on_the_embedded_sqlite_without_an_error(
    tmp_path: Path, stripe_server: RunningServer
) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "STRIPE_API_KEY", "STRIPE_API_BASE"}
    }
    env |= {
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'verity.sqlite3'}",
        "STRIPE_API_KEY": "sk_test_local_demo",
        "STRIPE_API_BASE": stripe_server.base_url,
        "STRIPE_WEBHOOK_SECRET": "whsec_local_demo_only_not_a_secret",
        "LOG_LEVEL": "WARNING",
    }

    steps = [
        manage(*args, env=env) for args in (("migrate", "--no-input"), ("seed_demo",), ("demo_activity",))
    ]

    for step in steps:
        assert step.returncode == 0, step.stderr[-3000:]
        assert "Traceback" not in step.stderr, step.stderr[-3000:]
        assert " ERROR " not in step.stderr, step.stderr[-3000:]
    simulated = steps[-1].stdout
    assert "Simulated " in simulated
    assert " billed" in simulated
    assert "Stripe not reached" not in simulated

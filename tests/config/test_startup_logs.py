"""What `make run` logs as it starts, under its own environment (devtools/run-demo.sh): no database or
broker configured, DEBUG on. Each process starts quietly: no warning, no banner repeated per command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# An eager task, as the demo runs every task in-process: Celery takes a producer from the broker's pool
# even then, which is where kombu warned "No hostname was supplied".
EAGER_TASK = """
from config.celery import app

@app.task
def ping():
    return "pong"

print(ping.delay().get())
"""


def manage(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "LOG_LEVEL"}}
    env |= {"DEBUG": "true", "DJANGO_SETTINGS_MODULE": "config.settings"}
    return subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_a_command_under_make_run_logs_nothing() -> None:
    checked = manage("check")

    assert checked.returncode == 0, checked.stderr
    assert checked.stdout == "System check identified no issues (0 silenced).\n"
    assert checked.stderr == ""  # no "AXES: BEGIN version …" line from every command


def test_an_eager_task_under_make_run_logs_nothing() -> None:
    ran = manage("shell", "--no-imports", "-c", EAGER_TASK)

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "pong\n"
    # Celery's INFO line for the task, and nothing else: no kombu "No hostname was supplied" warning.
    assert [line for line in ran.stderr.splitlines() if " INFO celery.app.trace Task " not in line] == []


def test_a_django_log_line_is_printed_once() -> None:
    ran = manage(
        "shell",
        "--no-imports",
        "-c",
        "import logging; logging.getLogger('django.request').warning('Unauthorized: /api/v1/customers')",
    )

    assert ran.returncode == 0, ran.stderr
    lines = ran.stderr.splitlines()
    assert len(lines) == 1, lines  # not Django's own console handler's copy beside ours
    assert lines[0].endswith(" WARNING django.request Unauthorized: /api/v1/customers")

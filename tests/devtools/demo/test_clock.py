"""The demo's clock: it moves what Verity reads as now, and nothing else is needed at run time."""

from __future__ import annotations

import ast
import datetime as dt
import re
import tomllib
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from devtools.demo.clock import clock_at

ROOT = Path(settings.BASE_DIR)
PRODUCT = ("config", "contracts", "outcomes", "settlement")
# A wall-clock read that would not follow the demo's clock (time.monotonic, for caches, is no date).
WALL_CLOCK = re.compile(
    r"\b(?:datetime\.now|datetime\.utcnow|date\.today|time\.time|time\.time_ns)\(|"
    r"from django\.utils\.timezone import|from django\.utils import timezone as"
)


def test_the_clock_stands_at_the_given_instant_inside_and_is_real_again_after() -> None:
    at = dt.datetime(2026, 3, 14, 12, tzinfo=dt.UTC)

    with clock_at(at):
        inside = (timezone.now(), timezone.now())
    after = timezone.now()

    assert inside == (at, at)
    assert abs(after - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"), clock_at(dt.datetime(2026, 3, 14, 12)):  # noqa: DTZ001
        pass


def test_verity_reads_the_wall_clock_only_through_timezone_now() -> None:
    readers = [
        f"{path.relative_to(ROOT)}:{number}"
        for app in PRODUCT
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if WALL_CLOCK.search(line)
    ]

    assert readers == []


def test_the_demo_runs_on_the_runtime_dependencies_alone() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {re.split(r"[<>=\[ ]", spec)[0].lower() for spec in project["dependencies"]}
    dev = {re.split(r"[<>=\[ ]", spec)[0].lower() for spec in project["optional-dependencies"]["dev"]}
    imported: set[str] = set()
    for path in (ROOT / "devtools" / "demo").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])

    assert "time-machine" in dev
    assert "time-machine" not in runtime
    assert "time_machine" not in imported

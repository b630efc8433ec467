"""Shared by the settlement commands: a progress bar over items, then a one-line summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

T = TypeVar("T")


def run_with_progress(
    items: Sequence[T], action: Callable[[T], str], *, title: str, stdout: Any
) -> Counter[str]:
    """Apply `action` to each item (it returns an outcome label), showing progress; returns the counts."""
    console = Console(file=stdout, force_terminal=False)
    outcomes: Counter[str] = Counter()
    with Progress(
        TextColumn(title),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(title, total=len(items))
        for item in items:
            try:
                outcomes[action(item)] += 1
            except Exception as exc:
                outcomes[f"failed ({type(exc).__name__})"] += 1
            progress.advance(task)
    summary = ", ".join(f"{count} {label}" for label, count in sorted(outcomes.items())) or "nothing to do"
    console.print(f"{title}: {summary}.")
    return outcomes

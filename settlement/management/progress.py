"""Shared by the settlement commands: a progress bar over items, then a one-line summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

T = TypeVar("T")


def run_batches_with_progress(
    batches: Sequence[Sequence[T]],
    action: Callable[[Sequence[T]], list[str]],
    *,
    title: str,
    stdout: Any,
) -> Counter[str]:
    """Apply `action` to each batch of items (it returns an outcome label per item), showing progress
    per item; returns the counts. A batch that raises counts each of its items as failed."""
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
        task = progress.add_task(title, total=sum(len(batch) for batch in batches))
        for batch in batches:
            try:
                outcomes.update(action(batch))
            except Exception as exc:
                outcomes[f"failed ({type(exc).__name__})"] += len(batch)
            progress.advance(task, len(batch))
    summary = ", ".join(f"{count} {label}" for label, count in sorted(outcomes.items())) or "nothing to do"
    console.print(f"{title}: {summary}.")
    return outcomes


def run_with_progress(
    items: Sequence[T], action: Callable[[T], str], *, title: str, stdout: Any
) -> Counter[str]:
    """Apply `action` to each item (it returns an outcome label), showing progress; returns the counts."""
    return run_batches_with_progress(
        [[item] for item in items], lambda batch: [action(batch[0])], title=title, stdout=stdout
    )

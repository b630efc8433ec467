"""The demo's clock: a month of activity simulated in a minute, each timestamp reading as on its day.

Verity reads the wall clock only through `django.utils.timezone.now` (tests/devtools/demo/test_clock.py
keeps it so), so setting that one function moves every service, model default and audit entry, with no
time-travel library at run time (time-machine is a test dependency only). Outside the `with`, the real
clock is back. Not thread-safe: the demo runs in one thread, its tasks eagerly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

from django.utils import timezone


@contextmanager
def clock_at(at: dt.datetime) -> Iterator[None]:
    """Within the block, Verity's clock reads `at` (an aware datetime), standing still."""
    if timezone.is_naive(at):
        raise ValueError("clock_at needs an aware datetime")
    with mock.patch.object(timezone, "now", return_value=at):
        yield

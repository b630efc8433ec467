"""A per-process cache of a few values: bounded, each value kept for a while, emptied when full. Hand-written
(a dict of (deadline, value)) rather than cachetools' TTLCache: gunicorn's threads read these caches without
a lock, which single dict reads and writes tolerate, while cachetools' reads reorder and expire entries and
need one (its documentation says its caches are not thread-safe).

Every module-level cache uses it (a webhook source's secrets, a contract's facts, parsed policies),
so each says in one line how long a copy may answer and how many it keeps. Expiry reads
time.monotonic, never the wall clock (which the demo moves); a full cache starts over rather than
choosing what to evict, as the caches hold copies that are cheap to read again.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """Values by key, each for `seconds` after it was put (for ever with None), at most `max_entries`."""

    def __init__(self, *, seconds: float | None, max_entries: int) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K, *, now: float | None = None) -> V | None:
        """The value kept for `key`, None when there is none or it has expired.

        `now` (a time.monotonic reading) lets a caller looking up many keys read the clock once.
        """
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if self.seconds is not None and expires <= (time.monotonic() if now is None else now):
            return None
        return value

    def put(self, key: K, value: V, *, now: float | None = None) -> None:
        """Keep `value` for `key`; a full cache is emptied first."""
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        expires = 0.0
        if self.seconds is not None:
            expires = (time.monotonic() if now is None else now) + self.seconds
        self._entries[key] = (expires, value)

    def forget(self, key: K) -> None:
        """Drop the value kept for `key`, if any (after a change this process made)."""
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

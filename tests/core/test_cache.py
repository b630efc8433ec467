"""The per-process TTL cache: a value answers until it expires, a full cache starts over, forget drops one."""

from __future__ import annotations

import time

import pytest

from core.cache import TTLCache


def test_a_value_answers_until_its_seconds_have_passed() -> None:
    cache: TTLCache[str, int] = TTLCache(seconds=5.0, max_entries=10)

    cache.put("a", 1, now=100.0)

    assert cache.get("a", now=104.9) == 1
    assert cache.get("a", now=105.0) is None
    assert cache.get("b", now=100.0) is None


def test_without_a_clock_reading_the_cache_reads_time_monotonic(monkeypatch: pytest.MonkeyPatch) -> None:
    cache: TTLCache[str, int] = TTLCache(seconds=5.0, max_entries=10)
    monkeypatch.setattr(time, "monotonic", lambda: 50.0)
    cache.put("a", 1)

    monkeypatch.setattr(time, "monotonic", lambda: 54.0)
    assert cache.get("a") == 1
    monkeypatch.setattr(time, "monotonic", lambda: 55.0)
    assert cache.get("a") is None


def test_a_cache_without_seconds_keeps_values_for_ever() -> None:
    cache: TTLCache[str, int] = TTLCache(seconds=None, max_entries=10)

    cache.put("a", 1, now=0.0)

    assert cache.get("a", now=1e12) == 1


def test_a_full_cache_is_emptied_before_the_next_value_is_kept() -> None:
    cache: TTLCache[int, str] = TTLCache(seconds=60.0, max_entries=3)
    for key in range(3):
        cache.put(key, str(key), now=0.0)
    assert len(cache) == 3

    cache.put(3, "3", now=0.0)

    assert len(cache) == 1
    assert cache.get(3, now=0.0) == "3"
    assert cache.get(0, now=0.0) is None


def test_putting_a_key_again_replaces_its_value_and_its_expiry() -> None:
    cache: TTLCache[str, int] = TTLCache(seconds=5.0, max_entries=10)
    cache.put("a", 1, now=0.0)

    cache.put("a", 2, now=4.0)

    assert cache.get("a", now=8.0) == 2


def test_forget_drops_one_value_and_leaves_the_others() -> None:
    cache: TTLCache[str, int] = TTLCache(seconds=5.0, max_entries=10)
    cache.put("a", 1, now=0.0)
    cache.put("b", 2, now=0.0)

    cache.forget("a")
    cache.forget("missing")  # forgetting nothing is no error

    assert cache.get("a", now=0.0) is None
    assert cache.get("b", now=0.0) == 2


def test_clear_drops_every_value() -> None:
    cache: TTLCache[str, int] = TTLCache(seconds=5.0, max_entries=10)
    cache.put("a", 1, now=0.0)

    cache.clear()

    assert len(cache) == 0
    assert cache.get("a", now=0.0) is None

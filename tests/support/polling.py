"""The one way tests wait for something another process does (a Celery worker, a web process, Stripe's
webhook delivery): poll a read until it holds, and fail with what was awaited if it never does."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def _poll(
    read: Callable[[], T], done: Callable[[T], bool], *, timeout: float, interval: float
) -> tuple[bool, T]:
    """Read every `interval` seconds until `done(value)`; (whether it got done, the last value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return True, value
        if time.monotonic() > deadline:
            return False, value
        time.sleep(interval)


def wait_until(
    predicate: Callable[[], T], *, timeout: float = 60, interval: float = 0.1, message: str = "the condition"
) -> T:
    """Poll `predicate()` until its value is truthy and return that value; fail the test with `message`
    (what was awaited) after `timeout` seconds."""
    done, value = _poll(predicate, bool, timeout=timeout, interval=interval)
    if not done:
        pytest.fail(f"timed out after {timeout:g} s waiting for {message}")
    return value


def until_equal(read: Callable[[], T], expected: T, *, timeout: float = 60, interval: float = 0.2) -> T:
    """Poll `read()` until it equals `expected` or `timeout` passes; returns the last value read, so the
    caller's `assert ... == expected` shows what differs."""
    return _poll(read, lambda value: value == expected, timeout=timeout, interval=interval)[1]

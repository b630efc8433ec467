"""Hardening fixtures: one vendor's estate to aim bad requests at (tests/support/estate.py), and rate
limits reset around each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache

from tests.support.estate import STRIPE_WEBHOOK_SECRET, Estate, make_estate


@pytest.fixture
def estate(db: None, settings: object) -> Estate:
    settings.STRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET  # type: ignore[attr-defined]
    return make_estate()


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> Iterator[None]:
    """Rate-limit counters live in the cache: every test starts with none."""
    cache.clear()
    yield
    cache.clear()

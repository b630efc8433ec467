"""Shared fixtures: vendors with API keys, an API client bound to one vendor's key, the local Stripe
server, and Celery run eagerly unless a test starts a real worker (tests/support/workers.py)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from fnmatch import fnmatch
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import hashers
from pytest_django.fixtures import Settings as SettingsWrapper

from config.celery import app as celery_app
from devtools.stripe_server import RunningServer, running_server
from tests.support.stripe import STRIPE_WEBHOOK_SECRET
from tests.support.vendors import VendorApi, make_vendor_api

TESTS = Path(__file__).resolve().parent

# What `make test-fast` (pytest -m "not slow") leaves out: tests that drive a real browser, start a real
# Celery worker or web process, inject faults, run benchmarks, or walk the operations guide with curl.
SLOW_TESTS = (
    "*/test_*browser*.py",
    "reliability/*",
    "bench/*",
    "docs/test_operations_walk.py",
    "outcomes/test_worker_e2e.py",
    "notifications/test_worker_e2e.py",
    "e2e/test_month_end_to_end.py",
    "e2e/test_settlement_under_faults.py",
    "devtools/demo/test_embedded_sqlite.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests of SLOW_TESTS' paths (relative to tests/) `slow`."""
    for item in items:
        path = Path(item.path).resolve()
        if path.is_relative_to(TESTS) and any(
            fnmatch(path.relative_to(TESTS).as_posix(), pattern) for pattern in SLOW_TESTS
        ):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing() -> None:
    """Passwords hashed with one MD5 round in tests: production's PBKDF2 (a million iterations, deliberately
    slow) costs ~0.3 s per member made or signed in, which the suite would pay thousands of times. What a
    password protects is tested through Django's own checks, whatever the hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Django caches the hashers (functools.lru_cache, which its type stubs do not declare).
    hashers.get_hashers.cache_clear()  # type: ignore[attr-defined]
    hashers.get_hashers_by_algorithm.cache_clear()  # type: ignore[attr-defined]


@pytest.fixture(scope="session", autouse=True)
def broker_per_worker(worker_id: str) -> None:
    """Each pytest-xdist worker gets its own Redis database, so a real Celery worker started by one
    test never takes another test database's tasks."""
    if settings.CELERY_TASK_ALWAYS_EAGER or worker_id == "master":
        return
    base, _, db = settings.CELERY_BROKER_URL.rpartition("/")
    # Counting down from the configured database (15 by default), so runs side by side on one Redis can
    # be kept apart by giving each its own starting database.
    url = f"{base}/{int(db or 15) - int(worker_id.removeprefix('gw'))}"
    settings.CELERY_BROKER_URL = url
    os.environ["CELERY_BROKER_URL"] = url  # Celery reads this before its own configuration


@pytest.fixture(autouse=True)
def eager_celery() -> Iterator[None]:
    """Tasks run in-process unless a test starts a real worker (those switch this off themselves)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture(scope="module")
def stripe_server() -> Iterator[RunningServer]:
    """The local Stripe-compatible server, one per test module (`stripe_api` resets it for each test)."""
    with running_server() as server:
        yield server


@pytest.fixture
def stripe_api(stripe_server: RunningServer, settings: SettingsWrapper) -> RunningServer:
    """The Stripe server, emptied, with Verity's settings pointing at it."""
    stripe_server.admin.reset()
    settings.STRIPE_API_KEY = "sk_test_verity"
    settings.STRIPE_API_BASE = stripe_server.base_url
    settings.STRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET
    settings.STRIPE_MAX_NETWORK_RETRIES = 3
    return stripe_server


@pytest.fixture
def vendor_api(db: None) -> VendorApi:
    return make_vendor_api()


@pytest.fixture
def other_vendor_api(db: None) -> VendorApi:
    return make_vendor_api()


@pytest.fixture
def vendor_api_factory(db: None) -> Callable[..., VendorApi]:
    return make_vendor_api

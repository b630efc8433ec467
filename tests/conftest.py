"""Shared fixtures: vendors with API keys and an API client bound to one vendor's key."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import stripe
from django.conf import settings
from django.db import connection
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from config.celery import app as celery_app
from contracts.models import ApiKey, Vendor
from contracts.services.credentials import api_key_create
from devtools.stripe_server import RunningServer, running_server
from tests.factories import VendorFactory

STRIPE_WEBHOOK_SECRET = "whsec_verity_tests_0123456789abcdef"


@dataclass
class VendorApi:
    """A vendor, one of its API keys, and a client that sends that key."""

    vendor: Vendor
    api_key: ApiKey
    raw_key: str
    client: APIClient


def make_vendor_api(vendor: Vendor | None = None, scope: str = ApiKey.Scope.WRITE) -> VendorApi:
    vendor = vendor if vendor is not None else VendorFactory.create()
    api_key, raw_key = api_key_create(vendor=vendor, name="tests", scope=scope, actor="system")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return VendorApi(vendor=vendor, api_key=api_key, raw_key=raw_key, client=client)


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


def stripe_sdk(server: RunningServer) -> stripe.StripeClient:
    """The SDK on the local Stripe server, as a test acting outside Verity (Stripe's dashboard, another app)."""
    return stripe.StripeClient("sk_test_verity", base_addresses={"api": server.base_url})


def stripe_customer_made_outside(
    server: RunningServer, *, card: str | None = None, metadata: dict[str, str] | None = None
) -> str:
    """A Stripe customer Verity did not make, with `card` (a test token) as its default for invoices if given."""
    if card is None:
        created = stripe_sdk(server).v1.customers.create(
            params={"email": "ap@acme.test", "metadata": metadata or {}}
        )
    else:
        created = stripe_sdk(server).v1.customers.create(
            params={
                "email": "ap@acme.test",
                "metadata": metadata or {},
                "payment_method": card,
                "invoice_settings": {"default_payment_method": card},
            }
        )
    return str(created.id)


def stripe_default_payment_method(server: RunningServer, stripe_customer_id: str) -> str | None:
    """The customer's default payment method for invoices, as the server holds it."""
    default: str | None = server.admin.state()["customers"][stripe_customer_id]["invoice_settings"][
        "default_payment_method"
    ]
    return default


@pytest.fixture
def vendor_api(db: None) -> VendorApi:
    return make_vendor_api()


@pytest.fixture
def other_vendor_api(db: None) -> VendorApi:
    return make_vendor_api()


@pytest.fixture
def vendor_api_factory(db: None) -> Callable[..., VendorApi]:
    return make_vendor_api


@contextmanager
def real_celery_worker(*, pool: str = "solo", **extra_env: str) -> Iterator[subprocess.Popen[bytes]]:
    """A Celery worker process on the test database and this pytest worker's Redis database.

    Tasks published while it runs go through the broker to it (not eagerly); for transactional tests.
    `pool="prefork"` runs the tasks in one child process (the production pool) instead of in the worker.
    """
    if settings.CELERY_TASK_ALWAYS_EAGER:
        pytest.fail("CELERY_BROKER_URL must point at Redis for this test (make test sets it).")
    db = connection.settings_dict
    env = {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        **extra_env,
    }
    celery_app.control.purge()
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", f"--pool={pool}", "--concurrency=1"]
    worker = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [*command, "--loglevel=WARNING"],
        env=env,
        cwd=settings.BASE_DIR,
    )
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        yield worker
    finally:
        celery_app.conf.task_always_eager = previous
        worker.terminate()
        worker.wait(timeout=20)

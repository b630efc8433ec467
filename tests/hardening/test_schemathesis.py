"""Schemathesis against our OpenAPI schema, in-process over WSGI: for every operation, generated requests
(a fixed number, derandomized, so CI runs the same bounded set) never get a 5xx, and every response
conforms to the schema: documented status, content type, headers and body.

Two of schemathesis' default checks are left out, as they judge validation rather than robustness:
negative_data_rejection (DRF is lenient where the schema is strict: a number where a string is
expected is taken as its text, an empty filter is no filter) and positive_data_acceptance (schema-valid
data may still name a customer that does not exist, or an email that is none: a 400 is right there)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from devtools.stripe_server import RunningServer
from tests.support.estate import Estate

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())

EXAMPLES = 8


@pytest.fixture
def keys(estate: Estate, stripe_api: RunningServer) -> Iterator[dict[str, str]]:
    """The estate's keys, by who may call what (operations that call Stripe reach the local Stripe server,
    never Stripe). Requests go straight to the WSGI app, which would close the test's connection at each
    one; Django's test client keeps it the same way as this does (and reconnects the signal after each of
    its own requests, so this comes after the estate is made)."""
    customer = estate.customer_client._credentials["HTTP_AUTHORIZATION"]  # type: ignore[attr-defined]
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield {"vendor": f"Bearer {estate.ingest.api.raw_key}", "customer": customer}
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_the_api_answers_as_its_schema_says_and_never_with_a_5xx(case: Any, keys: dict[str, str]) -> None:
    key = keys["customer"] if case.path.startswith("/api/v1/customer/") else keys["vendor"]
    case.call_and_validate(
        headers={"Authorization": key}, excluded_checks=[negative_data_rejection, positive_data_acceptance]
    )

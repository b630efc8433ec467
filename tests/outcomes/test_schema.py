"""The OpenAPI document publishes the webhook endpoint with the very schema the validator uses."""

import pytest
from rest_framework.test import APIClient

from outcomes.events import EVENT_SCHEMA

pytestmark = pytest.mark.django_db


def test_openapi_publishes_the_webhook_endpoint_and_event_schema() -> None:
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    operation = schema["paths"]["/webhooks/v1/sources/{source_id}/events"]["post"]
    assert {p["name"] for p in operation["parameters"] if p["in"] == "header"} == {
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
    assert set(operation["responses"]) == {"200", "400", "401", "404", "409", "413", "415", "422"}
    published = schema["components"]["schemas"]["OutcomeEvent"]
    assert published["required"] == EVENT_SCHEMA["required"]
    assert published["properties"] == EVENT_SCHEMA["properties"]

"""budget_alert_percents is stored for alerts that are not sent yet: the words and the API say so."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from contracts.models import ContractVersion
from contracts.wording import version_sentences

NOT_SENT = "(not sent yet: alerts arrive with outbound webhooks)"


def test_the_contract_words_say_the_budget_alerts_are_not_sent_yet() -> None:
    version = ContractVersion(cap_amount_minor=1_000_000, budget_alert_percents=[50, 80])

    assert version_sentences(version, "USD") == [
        f"Billing capped at 10,000.00 USD per period; budget alerts at 50%, 80% {NOT_SENT}."
    ]


def test_without_alerts_the_cap_is_shown_alone() -> None:
    version = ContractVersion(cap_amount_minor=1_000_000, budget_alert_percents=[])

    assert version_sentences(version, "USD") == ["Billing capped at 10,000.00 USD per period."]


@pytest.mark.django_db
def test_the_api_schema_says_budget_alerts_are_stored_and_nothing_is_sent_yet() -> None:
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = schema["components"]["schemas"]

    written = components["VersionTerms"]["properties"]["budget_alert_percents"]["description"]
    read = components["ContractVersionOut"]["properties"]["budget_alert_percents"]["description"]

    for description in (written, read):
        assert "Stored for the upcoming budget alerts" in description
        assert description.endswith("nothing is sent yet.")

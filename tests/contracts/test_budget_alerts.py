"""budget_alert_percents: the words and the API say what a threshold reached does (a webhook and an email,
once per period and threshold), and reaching one records its event."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from contracts.models import ContractVersion
from contracts.wording import version_sentences
from notifications.models import Event
from settlement.services.announcements import deadlines_announce
from tests.factories import outcome_type_terms, version_terms
from tests.support.ingest import make_ingest
from tests.support.settlement import FAST, MARCH, billable

SENT = "(a budget.threshold_reached webhook and an email to the vendor's owners and admins, once per period and threshold)"


def test_the_contract_words_say_what_a_budget_alert_sends() -> None:
    version = ContractVersion(cap_amount_minor=1_000_000, budget_alert_percents=[50, 80])

    assert version_sentences(version, "USD") == [
        f"Billing capped at 10,000.00 USD per period; budget alerts at 50%, 80% {SENT}."
    ]


def test_without_alerts_the_cap_is_shown_alone() -> None:
    version = ContractVersion(cap_amount_minor=1_000_000, budget_alert_percents=[])

    assert version_sentences(version, "USD") == ["Billing capped at 10,000.00 USD per period."]


@pytest.mark.django_db
def test_the_api_schema_says_what_a_budget_alert_sends() -> None:
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = schema["components"]["schemas"]

    written = components["VersionTerms"]["properties"]["budget_alert_percents"]["description"]
    read = components["ContractVersionOut"]["properties"]["budget_alert_percents"]["description"]

    for description in (written, read):
        assert description == (
            "Percents of cap_amount_minor at which to alert: when what the current period bills so far "
            "reaches one, a budget.threshold_reached webhook and an email to the vendor's owners and "
            "admins, once per period and threshold."
        )


@pytest.mark.django_db
def test_a_threshold_reached_is_recorded_once_and_one_not_reached_is_not() -> None:
    terms = version_terms(
        cap_amount_minor=1_000,
        budget_alert_percents=[50, 80],
        outcome_types=[
            outcome_type_terms(pricing={"model": "per_unit", "unit_price": "1.00"}, verification_policy=FAST)
        ],
    )
    ingest = make_ingest(terms=terms)
    billable(ingest, 6, MARCH + dt.timedelta(days=2))  # 6.00 of a 10.00 cap: 50% reached, 80% not

    deadlines_announce(now=MARCH + dt.timedelta(days=3))
    deadlines_announce(now=MARCH + dt.timedelta(days=4))

    assert list(
        Event.objects.filter(type="budget.threshold_reached").values_list("contract_id", "dedup_key")
    ) == [
        (
            ingest.contract.pk,
            f"budget.threshold_reached:{ingest.contract.pk}:2026-03-01T05:00:00+00:00:50",
        )
    ]

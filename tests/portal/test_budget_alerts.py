"""The contract form does not promise budget alerts it cannot send yet."""

from __future__ import annotations

import html

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_contract_form_says_budget_alerts_are_not_sent_yet(owner_client: Client) -> None:
    content = html.unescape(owner_client.get("/contracts/new/").content.decode())

    assert "Budget alerts (% of cap)" in content
    assert "e.g. 80, 95. Not sent yet: alerts arrive with outbound webhooks." in content

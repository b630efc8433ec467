"""Rule 17 through signed webhooks: a vendor that holds the customer's secret and confirms its own claims
from the address its agent posts from has them flagged for the customer, not confirmed; a claim from an
anonymising network is flagged; an honest month, each side from its own address, flags nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import override_settings

from core.errors import DomainError
from outcomes.models import Delivery, OutcomeState, Party, ReviewDecision
from outcomes.services.review import review_decide
from outcomes.verdict_trail import verdicts_recorded
from tests.support.rule_stories import DAY, HOUR, T0, make_story

pytestmark = pytest.mark.django_db

POLICY = {"maturation": {"hold_hours": 0}}
VENDOR = "81.2.69.160"  # the vendor's agent posts from here
CUSTOMER = "2.16.0.1"  # the customer's helpdesk posts from here
TOR_EXIT = "185.220.101.7"


def test_the_vendor_confirming_as_the_customer_from_its_agents_address_is_flagged_for_the_customer(
    tmp_path: Path,
) -> None:
    tor = tmp_path / "tor-exits.txt"
    tor.write_text("185.220.101.0/24\n")
    story = make_story(POLICY)
    with override_settings(SENDER_ANONYMISING_NETWORKS_FILE=str(tor)):
        story.claim(T0, "T-forged", sender=VENDOR)
        story.claim(T0, "T-honest", sender=VENDOR)
        story.claim(T0, "T-hidden", sender=TOR_EXIT)
        # Days later, "the customer" confirms T-forged: signed with its secret, sent from the agent's address.
        story.confirm(T0 + 2 * DAY, "T-forged", occurred_at=T0 + HOUR, sender=VENDOR)
        story.confirm(T0 + HOUR, "T-honest", sender=CUSTOMER)
        story.confirm(T0 + HOUR, "T-hidden", sender=CUSTOMER)
        story.evaluate(T0 + 2 * DAY + HOUR)

    assert story.state("T-forged") == OutcomeState.FLAGGED
    assert story.decided("T-forged", "confirmation") == ("accept", "confirmed")
    assert story.decided("T-forged", "sender") == ("flag", "sender_shared_with_vendor")
    assert story.verdict("T-forged", "sender").facts["agent_days"] == [T0.date().isoformat()]
    assert story.state("T-hidden") == OutcomeState.FLAGGED
    assert story.decided("T-hidden", "sender") == ("flag", "sender_anonymised")
    assert story.state("T-honest") == OutcomeState.BILLABLE
    assert "sender" not in story.rules("T-honest")
    assert set(Delivery.objects.values_list("sender", flat=True)) == {VENDOR, CUSTOMER, TOR_EXIT}

    # The vendor, whose traffic is suspected, clears it in neither way; the customer may accept it.
    with pytest.raises(DomainError) as refused:
        review_decide(
            outcome=story.outcome("T-forged"),
            flag_reason="sender_shared_with_vendor",
            verdict=ReviewDecision.Verdict.ACCEPT,
            party=Party.VENDOR,
            actor="vendor:ops",
        )
    assert refused.value.code in {"not_your_decision", "decision_needs_other_party"}
    assert story.state("T-forged") == OutcomeState.FLAGGED
    review_decide(
        outcome=story.outcome("T-forged"),
        flag_reason="sender_shared_with_vendor",
        verdict=ReviewDecision.Verdict.ACCEPT,
        party=Party.CUSTOMER,
        actor="customer:ops",
    )
    assert story.decided("T-forged", "sender") == ("accept", "sender_shared_with_vendor_cleared")


@override_settings(WEBHOOK_TRUSTED_PROXY_HOPS=1)
def test_behind_a_trusted_proxy_the_sender_is_what_the_proxy_saw() -> None:
    story = make_story(POLICY)
    response = story.ingest.post(
        story.event(key="T-1", at=T0), sender="10.0.0.5", HTTP_X_FORWARDED_FOR=f"6.6.6.6, {CUSTOMER}"
    )
    assert response.status_code == 200, response.content
    assert Delivery.objects.get().sender == CUSTOMER


def test_an_honest_month_each_side_from_its_own_address_flags_nothing() -> None:
    story = make_story(POLICY)
    for day in range(30):
        at = T0 + day * DAY
        keys = [f"T-{day}-{n}" for n in range(3)]
        story.send(at, {"events": [story.event(key=k, at=at) for k in keys]}, as_agent=True, sender=VENDOR)
        confirmations = [story.event(key=k, at=at, kind="outcome.confirmed") for k in keys]
        story.send(at + HOUR, {"events": confirmations}, sender=CUSTOMER)
    story.evaluate(T0 + 30 * DAY)

    assert story.outcomes().filter(state=OutcomeState.BILLABLE).count() == 90
    assert not [v for v in verdicts_recorded() if v.rule == "sender"]

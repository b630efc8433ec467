"""Rule 17 on in-memory facts: a claim or confirmation from an anonymising network is flagged (or
refused), and a confirmation from an address the vendor's agent posted from within the window is
flagged; the statistics `prepare` computes are given here."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.networks import NetworkSet
from outcomes.models import EventKind
from outcomes.rules.base import flag, reject
from outcomes.rules.sender import Sender, SenderParams, SenderStats, telling
from tests.support.facts import DAY, T0, fact, outcome_facts, policy

RULE = Sender()
TOR = NetworkSet(["185.220.101.0/24"])
SHARED = "81.2.69.160"


def evaluate(*events: Any, stats: SenderStats | None = None, **sender: Any) -> Any:
    facts = outcome_facts(*events, rules=policy(sender=sender))
    return RULE.evaluate(facts, {"sender": stats or SenderStats(TOR)}, T0)


def claim(sender: str | None) -> Any:
    return fact(sender=sender, event_id="evt_claim")


def confirmation(sender: str | None, at: dt.datetime = T0) -> Any:
    return fact(EventKind.OUTCOME_CONFIRMED, at, from_customer=True, sender=sender, event_id="evt_conf")


def described(event: Any) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "kind": event.kind,
        "sender": event.sender,
        "from_customer": event.from_customer,
    }


def test_an_event_from_inside_an_anonymising_network_is_flagged_and_one_just_outside_is_not() -> None:
    inside, outside = claim("185.220.101.255"), claim("185.220.102.0")
    assert evaluate(inside) == flag("sender_anonymised", events=[described(inside)])
    assert evaluate(outside) is None
    assert evaluate(claim(None)) is None  # a delivery stored before addresses were recorded


def test_the_contract_chooses_to_flag_refuse_or_ignore_anonymised_claims_and_confirmations() -> None:
    confirmed = confirmation("185.220.101.7")
    assert evaluate(claim(None), confirmed) == flag("sender_anonymised", events=[described(confirmed)])
    assert evaluate(confirmed, anonymising_networks="reject") == reject(
        "sender_anonymised_refused", events=[described(confirmed)]
    )
    assert evaluate(confirmed, anonymising_networks="ignore") is None
    assert evaluate(confirmed, stats=SenderStats(NetworkSet([]))) is None  # no list: nothing is anonymising


@pytest.mark.parametrize(("days_apart", "shared"), [(-30, True), (30, True), (-31, False), (31, False)])
def test_a_confirmation_is_flagged_when_the_agent_posted_from_its_address_within_the_window(
    days_apart: int, shared: bool
) -> None:
    confirmed = confirmation(SHARED, at=T0.replace(hour=23, minute=59, second=59))  # days are whole UTC days
    agent_day = (T0 + days_apart * DAY).date()
    stats = SenderStats(TOR, {(None, SHARED): {agent_day}})
    verdict = evaluate(claim("5.6.7.8"), confirmed, stats=stats)
    if shared:
        assert verdict == flag(
            "sender_shared_with_vendor",
            **described(confirmed),
            confirmed_on=T0.date().isoformat(),
            agent_days=[agent_day.isoformat()],
            window_days=30,
        )
    else:
        assert verdict is None
    assert evaluate(claim(None), confirmed, stats=stats, shared_with_vendor="ignore") is None


def test_the_window_is_the_contracts_and_zero_means_the_same_day() -> None:
    stats = SenderStats(TOR, {(None, SHARED): {T0.date() + dt.timedelta(days=1)}})
    assert evaluate(confirmation(SHARED), stats=stats, shared_window_days=1) is not None
    assert evaluate(confirmation(SHARED), stats=stats, shared_window_days=0) is None


def test_only_public_addresses_outside_the_shared_networks_tell_who_is_behind_them() -> None:
    shared = NetworkSet(["81.2.69.0/24"])
    assert telling("81.2.70.1", shared)
    assert telling("2a00:1450::1", shared)
    for address in ("81.2.69.160", "127.0.0.1", "10.1.2.3", "192.168.0.1", "203.0.113.9", "::1", None):
        assert not telling(address, shared), address


def test_the_policy_sentence_and_defaults() -> None:
    assert SenderParams() == SenderParams(
        anonymising_networks="flag", shared_with_vendor="flag", shared_window_days=30
    )
    assert SenderParams(anonymising_networks="ignore", shared_with_vendor="ignore").describe() is None
    assert SenderParams(anonymising_networks="reject", shared_with_vendor="ignore").describe() == (
        "Outcomes claimed or confirmed from anonymising networks are rejected."
    )


@settings(max_examples=40, deadline=None)
@given(
    window=st.integers(min_value=0, max_value=366),
    offsets=st.lists(st.integers(min_value=-400, max_value=400), max_size=4),
    hour=st.integers(min_value=0, max_value=23),
)
def test_whichever_side_posted_first_only_the_agents_days_within_the_window_count(
    window: int, offsets: list[int], hour: int
) -> None:
    at = T0.replace(hour=hour)
    days = {at.date() + dt.timedelta(days=n) for n in offsets}
    verdict = evaluate(
        confirmation(SHARED, at=at),
        stats=SenderStats(TOR, {(None, SHARED): days}),
        shared_window_days=window,
    )
    near = sorted(d for d in days if abs((d - at.date()).days) <= window)
    assert (verdict is None) == (not near)
    if near:
        assert verdict.facts["agent_days"] == [d.isoformat() for d in near]

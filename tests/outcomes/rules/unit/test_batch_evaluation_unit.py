"""A rule deciding a whole batch at once (`evaluate_batch`) gives each outcome exactly the verdict
`evaluate` gives it alone: here the velocity anomaly, whose verdicts are made once per contract, type,
day and parameters and shared, over generated batches mixing them (in memory: the daily counts as
`prepare` would give them)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from outcomes.models import EventKind, OutcomeState
from outcomes.rules.anomaly import Anomaly
from outcomes.rules.base import OutcomeFacts
from tests.support.facts import DAY, HOUR, T0, fact, outcome_facts, policy

RULE = Anomaly()
CONTRACTS = (uuid.UUID(int=1), uuid.UUID(int=2))
SOURCES = (uuid.UUID(int=11), uuid.UUID(int=12))
TYPES = ("ticket.resolved", "ticket.escalated")
# Two policies: the default, and one flagging sooner (two parameter groups in one batch).
POLICIES = (policy(), policy(anomaly={"z_threshold": 1.0, "min_history_days": 3}))

outcome_specs = st.fixed_dictionaries(
    {
        "contract": st.sampled_from(CONTRACTS),
        "type": st.sampled_from(TYPES),
        "day": st.integers(0, 2),
        "confirmed": st.booleans(),
        "billed": st.booleans(),
        "source": st.sampled_from(SOURCES),
        "policy": st.sampled_from(POLICIES),
    }
)
daily_counts = st.dictionaries(st.integers(0, 30), st.integers(0, 40), max_size=31)


def facts_of(spec: dict[str, Any]) -> OutcomeFacts:
    at = T0 - spec["day"] * DAY
    events = [fact(at=at)]
    if spec["confirmed"]:
        events.append(fact(EventKind.OUTCOME_CONFIRMED, at + HOUR, from_customer=True))
    billed = {"billed_at": T0, "state": OutcomeState.BILLED} if spec["billed"] else {}
    return outcome_facts(
        *events,
        rules=spec["policy"],
        outcome={"outcome_type_key": spec["type"], "source_id": spec["source"], **billed},
        contract={"id": spec["contract"]},
    )


@settings(max_examples=200, deadline=None)
@given(
    specs=st.lists(outcome_specs, min_size=1, max_size=30),
    counts=st.dictionaries(st.tuples(st.sampled_from(CONTRACTS), st.sampled_from(TYPES)), daily_counts),
    rates=st.dictionaries(st.sampled_from(SOURCES), st.tuples(st.integers(0, 30), st.integers(1, 30))),
)
def test_the_batch_gets_the_verdicts_each_outcome_gets_alone(
    specs: list[dict[str, Any]],
    counts: dict[tuple[uuid.UUID, str], dict[int, int]],
    rates: dict[uuid.UUID, tuple[int, int]],
) -> None:
    batch = [facts_of(spec) for spec in specs]
    velocity = {
        pair: {T0.date() - dt.timedelta(days=offset): n for offset, n in days.items()}
        for pair, days in counts.items()
    }
    prepared = {
        RULE.name: {"velocity": velocity, "rates": {s: (min(r, t), t) for s, (r, t) in rates.items()}}
    }

    alone = [RULE.evaluate(facts, prepared, T0) for facts in batch]

    assert RULE.evaluate_batch(batch, prepared, T0) == alone

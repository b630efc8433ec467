"""Properties of the verification pipeline, over generated claims (by the vendor's agent), confirmations
and reversals (by the customer's system) for a few natural keys:

1. the order in which events arrive does not change where the outcomes end up;
2. re-evaluating at the same instant with no new evidence writes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outcomes import counters
from outcomes.models import Decision, OutcomeState, OutcomeTransition
from outcomes.services.building import SWEEP_GRACE
from outcomes.verdict_trail import verdicts_recorded
from tests.support.rule_stories import DAY, HOUR, T0, Story, make_story

pytestmark = pytest.mark.django_db

KEYS = ("K-0", "K-1", "K-2")
MINUTE = dt.timedelta(minutes=1)
# Events happen in two clusters: the first days (arriving more than the 35-day late-arrival window
# later) and the last days before arrival; within a cluster, claims and confirmations fall inside or
# outside the 72-hour match window and the 24-hour maturation.
EARLY = st.integers(0, 5 * 24 * 60)
LATE = st.integers(35 * 24 * 60 + 120, 40 * 24 * 60)
ARRIVALS_START = T0 + 40 * DAY + HOUR


@dataclass(frozen=True)
class Spec:
    kind: str  # claim (agent), confirm or reverse (customer's system)
    key: str
    minute: int  # occurred at T0 + this many minutes
    reason: str | None  # a reversal's evidence.reason

    @property
    def occurred_at(self) -> dt.datetime:
        return T0 + self.minute * MINUTE


specs = st.builds(
    Spec,
    kind=st.sampled_from(["claim", "claim", "confirm", "confirm", "reverse"]),
    key=st.sampled_from(KEYS),
    minute=st.one_of(EARLY, LATE),
    reason=st.sampled_from(["reopened", "customer_said_thanks", None]),
)
histories = st.lists(specs, min_size=1, max_size=5)


def arrive(story: Story, history: list[Spec], order: list[int]) -> dt.datetime:
    """Post the events one by one in `order`, an hour apart; after each, a minute later, the sweep
    builds the outcome it touched and verifies it. Returns the last arrival."""
    at = ARRIVALS_START
    for position, index in enumerate(order):
        spec = history[index]
        at = ARRIVALS_START + position * HOUR
        fields: dict[str, Any] = {"id": f"evt-{index}"}
        if spec.kind == "reverse":
            fields["evidence"] = {} if spec.reason is None else {"reason": spec.reason}
        kind = {"claim": "outcome.claimed", "confirm": "outcome.confirmed", "reverse": "outcome.reversed"}[
            spec.kind
        ]
        story.send(
            at,
            story.event(key=spec.key, at=spec.occurred_at, kind=kind, **fields),
            as_agent=spec.kind == "claim",
        )
        story.build(at + SWEEP_GRACE)
    return at


def standing(story: Story) -> dict[str, tuple[Any, ...]]:
    """Each outcome's state and what verification derived with it, and for a refused outcome the rules
    refusing it now (a rule's latest verdict; a reject, unlike a flag or a hold, is never left behind
    by a rule that stops applying)."""
    result = {}
    for outcome in story.outcomes():
        refusing: set[tuple[str, str]] = set()
        if outcome.state in (OutcomeState.REJECTED, OutcomeState.REVERSED):
            latest = {v.rule: v for v in verdicts_recorded(outcome_ids=[outcome.pk])}
            refusing = {(rule, v.reason) for rule, v in latest.items() if v.decision == Decision.REJECT}
        result[outcome.natural_key] = (
            outcome.state,
            outcome.hold_until,
            outcome.occurred_at,
            outcome.confirmed_at,
            outcome.price_percent,
            sorted(refusing),
        )
    return result


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=histories, data=st.data())
def test_arrival_order_does_not_change_the_final_states(history: list[Spec], data: st.DataObject) -> None:
    order = list(range(len(history)))
    other = data.draw(st.permutations(order), label="other order")
    first, second = make_story(), make_story()

    done = max(arrive(first, history, order), arrive(second, history, other))
    final = done + 12 * DAY  # every window and maturation is over
    first.evaluate(final)
    second.evaluate(final)

    assert standing(first) == standing(second)
    # The daily counters the statistics read were kept in step with every change.
    assert counters.stored() == counters.recount()
    assert counters.aggregates_stored() == counters.aggregates_recount()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    history=histories,
    policy=st.sampled_from(
        [
            {},
            {"confirmation": {"on_unmatched": "bill_unverified"}},
            {"confirmation": {"on_unmatched": "silence_is_consent", "silence_window_hours": 240}},
            {"audit_sampling": {"enabled": True, "rate": 0.5}, "maturation": {"hold_hours": 72}},
        ]
    ),
    later=st.integers(0, 12 * 24 * 60),
)
def test_re_evaluating_at_the_same_instant_writes_nothing(
    history: list[Spec], policy: dict[str, Any], later: int
) -> None:
    story = make_story(policy)
    done = arrive(story, history, list(range(len(history))))
    at = done + SWEEP_GRACE + later * MINUTE
    story.evaluate(at)
    outcomes = list(story.outcomes().order_by("id").values())
    written = (
        len(verdicts_recorded(outcome_ids=story.outcomes().values_list("id", flat=True))),
        OutcomeTransition.objects.filter(outcome__contract=story.contract).count(),
    )

    summary = story.evaluate(at)

    assert (summary.verdicts, summary.transitions) == (0, 0)
    assert summary.evaluated == len(outcomes)
    assert (
        len(verdicts_recorded(outcome_ids=story.outcomes().values_list("id", flat=True))),
        OutcomeTransition.objects.filter(outcome__contract=story.contract).count(),
    ) == written
    assert list(story.outcomes().order_by("id").values()) == outcomes
    assert counters.stored() == counters.recount()
    assert counters.aggregates_stored() == counters.aggregates_recount()

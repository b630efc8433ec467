"""Every rule decides a batch (`evaluate_batch`, what the pipeline asks) exactly as it decides each of
its outcomes alone (`evaluate`), over generated claims, confirmations and reversals gathered from the
database as the pipeline gathers them, under a few policies."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outcomes.rules import RULES
from outcomes.services.building import SWEEP_GRACE
from outcomes.services.outcome_facts import gather
from tests.outcomes.test_verification_properties import MINUTE, Spec, arrive, histories
from tests.support.rule_stories import make_story

pytestmark = pytest.mark.django_db


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    history=histories,
    policy=st.sampled_from(
        [
            {},
            {"anomaly": {"z_threshold": 0.5, "min_history_days": 3}},
            {"split_detection": {"enabled": True}, "confirmation": {"on_unmatched": "bill_unverified"}},
            {"audit_sampling": {"enabled": True, "rate": 0.5}, "maturation": {"hold_hours": 0}},
        ]
    ),
    later=st.integers(0, 12 * 24 * 60),
)
def test_each_rule_decides_the_batch_as_it_decides_each_outcome(
    history: list[Spec], policy: dict[str, Any], later: int
) -> None:
    story = make_story(policy)
    at = arrive(story, history, list(range(len(history)))) + SWEEP_GRACE + later * MINUTE
    story.evaluate(at)  # flags raised, holds and states as they stand at `at`
    batch = gather(list(story.outcomes().order_by("id")))
    prepared = {rule.name: rule.prepare(batch, at) for rule in RULES}

    for rule in RULES:
        alone = [rule.evaluate(facts, prepared, at) for facts in batch]
        assert rule.evaluate_batch(batch, prepared, at) == alone, rule.name

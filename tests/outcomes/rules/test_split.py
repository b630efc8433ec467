"""Rule 10: outcomes sharing a parent key (one conversation) within the window are billed once: the
earliest is kept and each window starts at a kept one; the rest are merged into it with a reason."""

from __future__ import annotations

import pytest

from outcomes.models import OutcomeState
from outcomes.services.verification import outcomes_evaluate_due
from tests.support.rule_stories import DAY, HOUR, SECOND, T0, make_story

pytestmark = pytest.mark.django_db

POLICY = {"split_detection": {"enabled": True, "window_hours": 24}, "confirmation": {"required": False}}


def test_siblings_within_the_window_merge_into_the_first_and_the_window_ends_to_the_second() -> None:
    story = make_story(POLICY)
    story.claim(T0, "A", parent_key="conv-1")
    story.claim(T0 + 24 * HOUR, "B", parent_key="conv-1")  # exactly at the window's end: merged
    story.claim(T0 + 24 * HOUR + SECOND, "C", parent_key="conv-1")  # one second later: a new window
    story.claim(T0 + 48 * HOUR, "D", parent_key="conv-1")  # inside C's window

    story.evaluate(T0 + 4 * DAY)

    first = story.outcome("A")
    verdict = story.verdict("A", "split_detection")
    assert (verdict.decision, verdict.reason, verdict.facts) == (
        "accept",
        "first_of_parent",
        {"parent_key": "conv-1", "window_hours": 24},
    )
    verdict = story.verdict("B", "split_detection")
    assert (verdict.decision, verdict.reason, verdict.facts) == (
        "reject",
        "split_merged",
        {"parent_key": "conv-1", "kept_outcome_id": first.pk, "kept_natural_key": "A", "window_hours": 24},
    )
    assert story.decided("C", "split_detection") == ("accept", "first_of_parent")
    assert story.verdict("D", "split_detection").facts["kept_natural_key"] == "C"
    states = {key: story.state(key) for key in "ABCD"}
    assert states == {
        "A": OutcomeState.BILLABLE,
        "B": OutcomeState.REJECTED,
        "C": OutcomeState.BILLABLE,
        "D": OutcomeState.REJECTED,
    }


def test_siblings_at_the_same_instant_keep_the_lowest_natural_key() -> None:
    story = make_story(POLICY)
    story.claim(T0, "T-b", parent_key="conv-1")
    story.claim(T0, "T-a", parent_key="conv-1")

    story.evaluate(T0 + DAY)

    assert story.decided("T-a", "split_detection") == ("accept", "first_of_parent")
    assert story.decided("T-b", "split_detection") == ("reject", "split_merged")


def test_policy_window_hours() -> None:
    story = make_story({**POLICY, "split_detection": {"enabled": True, "window_hours": 2}})
    story.claim(T0, "A", parent_key="conv-1")
    story.claim(T0 + 2 * HOUR, "B", parent_key="conv-1")
    story.claim(T0 + 4 * HOUR + SECOND, "C", parent_key="conv-1")

    story.evaluate(T0 + 2 * DAY)

    assert story.decided("B", "split_detection") == ("reject", "split_merged")
    assert story.decided("C", "split_detection") == ("accept", "first_of_parent")


def test_other_parents_and_outcomes_without_a_parent_are_not_merged() -> None:
    story = make_story(POLICY)
    story.claim(T0, "A", parent_key="conv-1")
    story.claim(T0 + HOUR, "B", parent_key="conv-2")
    story.claim(T0 + HOUR, "C")

    story.evaluate(T0 + 2 * DAY)

    assert story.decided("A", "split_detection") == ("accept", "first_of_parent")
    assert story.decided("B", "split_detection") == ("accept", "first_of_parent")
    assert "split_detection" not in story.rules("C")
    assert {story.state(key) for key in "ABC"} == {OutcomeState.BILLABLE}


def test_a_reversed_sibling_keeps_nothing() -> None:
    story = make_story(POLICY)
    story.claim(T0, "A", parent_key="conv-1")
    story.claim(T0 + HOUR, "B", parent_key="conv-1")
    story.evaluate(T0 + 2 * HOUR)
    assert story.decided("B", "split_detection") == ("reject", "split_merged")
    story.reverse(T0 + 3 * HOUR, "A", "reopened")
    story.evaluate(T0 + 3 * HOUR)
    assert story.state("A") == OutcomeState.REVERSED

    story.evaluate(T0 + 2 * DAY)

    assert story.decided("B", "split_detection") == ("accept", "first_of_parent")
    assert story.state("B") == OutcomeState.BILLABLE


def test_disabled_by_default_records_nothing() -> None:
    story = make_story({"confirmation": {"required": False}})
    story.claim(T0, "A", parent_key="conv-1")
    story.claim(T0 + HOUR, "B", parent_key="conv-1")

    story.evaluate(T0 + 2 * DAY)

    assert "split_detection" not in story.rules("A") | story.rules("B")
    assert {story.state("A"), story.state("B")} == {OutcomeState.BILLABLE}


def test_a_sibling_merged_into_an_outcome_reversed_later_is_freed_by_the_workers() -> None:
    story = make_story(POLICY)
    story.claim(T0, "A", parent_key="conv-1")
    story.claim(T0 + HOUR, "B", parent_key="conv-1")
    story.build(T0 + HOUR)  # the worker verifies both as they arrive
    assert story.decided("B", "split_detection") == ("reject", "split_merged")

    story.reverse(T0 + 2 * HOUR, "A", "reopened")
    story.build(T0 + 2 * HOUR)  # the worker verifies the reversed outcome
    outcomes_evaluate_due(now=T0 + 2 * DAY)  # and the beat job whatever came due

    assert story.state("A") == OutcomeState.REVERSED
    assert story.decided("B", "split_detection") == ("accept", "first_of_parent")

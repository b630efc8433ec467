"""Rule 14 on in-memory facts: with the contract's confirmation ratios (from `prepare`, given here), an
unconfirmed claim whose window has closed is flagged while suppression is in question: over the week,
or over the one or three UTC days ending on the claim's own day."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outcomes.models import EventKind, OutcomeState
from outcomes.rules.base import accept, flag
from outcomes.rules.confirmation import Confirmation
from outcomes.rules.suppression import (
    SUPPRESSION_SUSPECTED,
    Baseline,
    Suppression,
    SuppressionParams,
    SuppressionStats,
)
from tests.support.facts import CONTRACT_ID, HOUR, T0, fact, outcome_facts

RULE = Suppression()
WINDOW_CLOSED = T0 + 72 * HOUR


def prepared(*, suspected: bool, flagged: frozenset[int] = frozenset()) -> dict[str, Any]:
    stats = {"suspected": suspected, "recent_confirmation_ratio": 0.1, "baseline_confirmation_ratio": 0.9}
    return {"suppression": SuppressionStats(contracts={CONTRACT_ID: stats}, flagged=flagged)}


def test_without_the_contract_in_the_statistics_or_once_billed_it_records_nothing() -> None:
    empty = {"suppression": SuppressionStats(contracts={}, flagged=frozenset())}
    billed = outcome_facts(outcome={"billed_at": T0, "state": OutcomeState.BILLED})

    assert RULE.evaluate(outcome_facts(), empty, WINDOW_CLOSED) is None
    assert RULE.evaluate(billed, prepared(suspected=True), WINDOW_CLOSED) is None


def test_while_suspected_an_unconfirmed_claim_is_flagged_once_its_window_closed() -> None:
    stats = prepared(suspected=True)
    ratios = stats["suppression"].contracts[CONTRACT_ID]

    assert RULE.evaluate(outcome_facts(), stats, WINDOW_CLOSED - HOUR) == accept(
        "confirmations_steady", **ratios
    )
    assert RULE.evaluate(outcome_facts(), stats, WINDOW_CLOSED) == flag(SUPPRESSION_SUSPECTED, **ratios)


def test_a_confirmed_claim_is_never_flagged() -> None:
    stats = prepared(suspected=True)
    facts = outcome_facts(fact(), fact(EventKind.OUTCOME_CONFIRMED, T0 + HOUR, from_customer=True))

    assert RULE.evaluate(facts, stats, WINDOW_CLOSED) == accept(
        "confirmations_steady", **stats["suppression"].contracts[CONTRACT_ID]
    )


def test_an_open_flag_stands_after_the_ratios_recovered() -> None:
    facts = outcome_facts(outcome={"id": 41, "state": OutcomeState.FLAGGED})
    recovered = prepared(suspected=False, flagged=frozenset({41}))
    other = prepared(suspected=False)

    assert RULE.evaluate(facts, recovered, WINDOW_CLOSED) == flag(
        SUPPRESSION_SUSPECTED, **recovered["suppression"].contracts[CONTRACT_ID]
    )
    assert RULE.evaluate(facts, other, WINDOW_CLOSED) == accept(
        "confirmations_steady", **other["suppression"].contracts[CONTRACT_ID]
    )


# The short windows: the 1 and 3 UTC days ending on the claim's own day, against a baseline of four
# claims a day, all confirmed. The claim under test occurred at T0 (2026-06-01).
BASELINE = Baseline(
    params=SuppressionParams(min_outcomes_1_day=4, min_outcomes_3_days=9),
    enough_history=True,
    confirmation_ratio=1.0,
    outcomes_per_day=4.0,
    confirmed_per_day=4.0,
)
WEEK_STEADY = {"suspected": False, "recent_confirmation_ratio": 0.9, "baseline_confirmation_ratio": 1.0}


def short(
    days: dict[int, tuple[int, int]], baseline: Baseline = BASELINE, week: dict[str, Any] = WEEK_STEADY
) -> dict[str, Any]:
    """Prepared statistics whose daily counts are `days` (offset from T0's day -> outcomes, confirmed)."""
    counts = {(CONTRACT_ID, T0.date() + dt.timedelta(days=offset)): n for offset, n in days.items()}
    return {
        "suppression": SuppressionStats(
            contracts={CONTRACT_ID: week}, flagged=frozenset(), baselines={CONTRACT_ID: baseline}, days=counts
        )
    }


def window(first: int, outcomes: int, confirmed: int) -> dict[str, Any]:
    return {
        "first_day": (T0.date() + dt.timedelta(days=first)).isoformat(),
        "last_day": T0.date().isoformat(),
        "outcomes": outcomes,
        "confirmed": confirmed,
        "confirmation_ratio": round(confirmed / outcomes, 4) if outcomes else None,
    }


def test_a_silent_day_is_suspected_and_its_window_is_on_the_trail() -> None:
    stats = short({-2: (4, 4), -1: (4, 4), 0: (4, 0), 1: (4, 0)})

    verdict = RULE.evaluate(outcome_facts(), stats, WINDOW_CLOSED)

    assert verdict == flag(
        SUPPRESSION_SUSPECTED,
        **{
            **WEEK_STEADY,
            "suspected": True,
            "triggered_by": ["1_day"],
            "short_windows": {"1_day": window(0, 4, 0), "3_days": window(-2, 12, 8)},
        },
    )


@pytest.mark.parametrize(("outcomes", "suspected"), [(3, False), (4, True)])
def test_the_1_day_window_needs_min_outcomes_1_day(outcomes: int, suspected: bool) -> None:
    stats = short({0: (outcomes, 0)}, baseline=replace(BASELINE, outcomes_per_day=2.0))

    facts = stats["suppression"].ratios(outcome_facts())

    assert (facts["suspected"], facts["triggered_by"]) == (suspected, ["1_day"] if suspected else [])


@pytest.mark.parametrize(("outcomes", "suspected"), [(8, False), (9, True)])
def test_the_3_day_window_needs_min_outcomes_3_days(outcomes: int, suspected: bool) -> None:
    # Spread over the three days, none of which reaches the 1-day minimum of four on its own.
    stats = short(
        {-2: (3, 0), -1: (3, 0), 0: (outcomes - 6, 0)}, baseline=replace(BASELINE, outcomes_per_day=2.0)
    )

    facts = stats["suppression"].ratios(outcome_facts())

    assert (facts["suspected"], facts["triggered_by"]) == (suspected, ["3_days"] if suspected else [])


@pytest.mark.parametrize(("confirmed", "suspected"), [(2, False), (1, True)])
def test_a_short_window_falls_below_min_ratio_of_baseline(confirmed: int, suspected: bool) -> None:
    # Eight claims on the day against four a day: 2/8 is a quarter of the baseline's share, not below
    # it; 1/8 is below. (Confirmations per day fall as far: 1 and 2 against a quarter of four.)
    baseline = replace(
        BASELINE,
        params=SuppressionParams(min_ratio_of_baseline=0.25),
        outcomes_per_day=4.0,
        confirmed_per_day=9.0,
    )
    stats = short({0: (8, confirmed)}, baseline=baseline)

    assert stats["suppression"].ratios(outcome_facts())["triggered_by"] == (["1_day"] if suspected else [])


@pytest.mark.parametrize(("outcomes", "suspected"), [(4, False), (5, True)])
def test_a_short_window_needs_the_vendors_activity_steady(outcomes: int, suspected: bool) -> None:
    # At least half the baseline's ten claims a day: 4 is too few, 5 is enough.
    baseline = replace(BASELINE, params=SuppressionParams(min_outcomes_1_day=1), outcomes_per_day=10.0)
    stats = short({0: (outcomes, 0)}, baseline=baseline)

    assert stats["suppression"].ratios(outcome_facts())["triggered_by"] == (["1_day"] if suspected else [])


@pytest.mark.parametrize(("confirmed", "suspected"), [(2, False), (1, True)])
def test_padding_a_day_with_claims_does_not_raise_the_suspicion(confirmed: int, suspected: bool) -> None:
    # Baseline: four claims a day, all confirmed. The vendor claims twelve on the day: its customer
    # confirms two (a share of 1/6, below a third), but two confirmations a day is not below a third
    # of the usual four (1.33); one is. The two days before were as usual.
    stats = short({-2: (4, 4), -1: (4, 4), 0: (12, confirmed)})

    assert stats["suppression"].ratios(outcome_facts())["triggered_by"] == (["1_day"] if suspected else [])


def test_without_enough_history_the_short_windows_suspect_nothing() -> None:
    stats = short({0: (4, 0)}, baseline=replace(BASELINE, enough_history=False))

    assert RULE.evaluate(outcome_facts(), stats, WINDOW_CLOSED) == accept(
        "confirmations_steady",
        **{
            **WEEK_STEADY,
            "triggered_by": [],
            "short_windows": {"1_day": window(0, 4, 0), "3_days": window(-2, 4, 0)},
        },
    )


def test_the_week_and_a_short_window_are_both_named_when_both_fall() -> None:
    stats = short({0: (4, 0)}, week={**WEEK_STEADY, "suspected": True})

    assert stats["suppression"].ratios(outcome_facts())["triggered_by"] == ["1_day", "7_days"]


def test_the_confirmation_rule_flags_what_a_short_window_suspects() -> None:
    stats = short({0: (4, 0)})

    verdict = Confirmation().evaluate(outcome_facts(), stats, WINDOW_CLOSED)

    assert verdict is not None
    assert (verdict.decision, verdict.reason, verdict.facts["triggered_by"]) == (
        "flag",
        SUPPRESSION_SUSPECTED,
        ["1_day"],
    )
    quiet = Confirmation().evaluate(outcome_facts(), short({0: (4, 4)}), WINDOW_CLOSED)
    assert quiet is not None
    assert quiet.reason == "unconfirmed"


DAY_COUNTS = st.dictionaries(
    st.integers(min_value=-2, max_value=0),
    st.tuples(st.integers(min_value=0, max_value=20), st.integers(min_value=0, max_value=20)).map(
        lambda n: (max(n), min(n))  # confirmed never exceeds outcomes
    ),
)


@given(days=DAY_COUNTS, more=st.integers(min_value=-2, max_value=0), at=st.integers(0, 24 * 3600 - 1))
def test_more_confirmations_never_raise_the_suspicion_and_the_hour_of_the_day_does_not_matter(
    days: dict[int, tuple[int, int]], more: int, at: int
) -> None:
    midnight = dt.datetime.combine(T0.date(), dt.time(), tzinfo=dt.UTC)
    facts = outcome_facts(fact(at=midnight + dt.timedelta(seconds=at)))
    before = short(days)["suppression"].ratios(facts)
    outcomes, confirmed = days.get(more, (0, 0))
    confirmed_more = {**days, more: (outcomes, min(outcomes, confirmed + 1))}

    after = short(confirmed_more)["suppression"].ratios(facts)

    assert before == short(days)["suppression"].ratios(outcome_facts())
    assert set(after["triggered_by"]) <= set(before["triggered_by"])

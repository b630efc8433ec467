"""Rule 14 on in-memory facts: with the contract's confirmation ratios (from `prepare`, given here), an
unconfirmed claim whose window has closed is flagged while suppression is in question."""

from __future__ import annotations

from typing import Any

from outcomes.models import EventKind, OutcomeState
from outcomes.rules.base import accept, flag
from outcomes.rules.suppression import SUPPRESSION_SUSPECTED, Suppression, SuppressionStats
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

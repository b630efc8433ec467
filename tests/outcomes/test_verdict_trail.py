"""How the trail is stored (outcomes.verdict_trail): accepts kept in the evaluation, rows for the rest."""

from __future__ import annotations

import datetime as dt

import pytest

from outcomes.models import Decision, OutcomeEvaluation, OutcomeVerdict
from outcomes.services.verification import outcomes_evaluate_due
from outcomes.verdict_trail import (
    DICTIONARIES,
    DICTIONARY,
    as_stored_json,
    evaluation_record,
    superseded,
    unpack_verdicts,
    verdict_trail,
    verdicts_recorded,
)
from tests.outcomes.test_verification_pipeline import T0, build_and_evaluate, post_at
from tests.support.ingest import Ingest, event

pytestmark = pytest.mark.django_db


def confirmed_claim(ingest: Ingest) -> None:
    """The agent claims T-1 at T0, the customer confirms it an hour later: maturing for 24 h."""
    post_at(ingest, T0, event(natural_key="T-1", occurred_at=T0.isoformat()), as_agent=True)
    confirmed_at = T0 + dt.timedelta(hours=1)
    post_at(
        ingest,
        confirmed_at,
        event(natural_key="T-1", kind="outcome.confirmed", occurred_at=confirmed_at.isoformat()),
    )


def test_an_evaluation_keeps_its_accepts_and_writes_a_row_only_for_the_others(ingest: Ingest) -> None:
    confirmed_claim(ingest)

    outcome = build_and_evaluate(T0 + dt.timedelta(hours=2))

    evaluations = list(OutcomeEvaluation.objects.filter(outcome=outcome).order_by("id"))
    rows = list(OutcomeVerdict.objects.filter(outcome=outcome))
    assert [(v.rule, v.decision, v.reason) for v in rows] == [("maturation", Decision.HOLD, "maturing")]
    assert not OutcomeVerdict.objects.filter(decision=Decision.ACCEPT).exists()
    assert [e.replaced for e in evaluations] == [""] * len(evaluations)
    # The row's evaluation's id comes before the row's (one sequence): ids order what was recorded.
    (evaluation,) = [e for e in evaluations if e.pk == rows[0].evaluation_id]
    assert evaluation.pk < rows[0].pk
    trail = verdict_trail(evaluations=evaluations, verdicts=rows)
    assert len(trail) == sum(len(unpack_verdicts(e.verdicts)) for e in evaluations)
    assert [v.rule for v in trail if v.decision != Decision.ACCEPT] == ["maturation"]
    confirmation = next(v for v in trail if v.rule == "confirmation")
    # Recorded by the building step, which evaluated it at its sweep (two minutes after the time asked).
    assert (confirmation.reason, confirmation.at, confirmation.pk) == (
        "confirmed",
        T0 + dt.timedelta(hours=2, minutes=2),
        None,
    )
    assert confirmation.facts == {
        "claimed_at": T0.isoformat(),
        "confirmed_at": (T0 + dt.timedelta(hours=1)).isoformat(),
        "match_window_hours": 72,
    }


def test_an_accept_replacing_a_hold_says_so_and_the_hold_no_longer_stands(ingest: Ingest) -> None:
    confirmed_claim(ingest)
    outcome = build_and_evaluate(T0 + dt.timedelta(hours=2))
    hold = OutcomeVerdict.objects.get(outcome=outcome, rule="maturation")
    assert OutcomeVerdict.objects.exclude(superseded()).get() == hold

    outcomes_evaluate_due(now=T0 + dt.timedelta(hours=25))

    latest = OutcomeEvaluation.objects.filter(outcome=outcome).latest("id")
    assert latest.replaced == "+maturation,"
    assert not OutcomeVerdict.objects.exclude(superseded()).exists()
    assert OutcomeVerdict.objects.count() == 1  # the accept is no row
    maturation = [(v.decision, v.reason) for v in verdicts_recorded() if v.rule == "maturation"]
    assert maturation == [(Decision.HOLD, "maturing"), (Decision.ACCEPT, "matured")]


def test_a_packed_evaluation_reads_back_its_verdicts_in_order_with_holds_and_empty_facts() -> None:
    hold_until = dt.datetime(2026, 6, 2, 12, 0, 0, 500, tzinfo=dt.UTC)
    replaced, packed = evaluation_record(
        [
            ("authenticity", Decision.ACCEPT, "signature_verified", '{"deliveries":1,"sources":["s"]}', None),
            ("maturation", Decision.HOLD, "maturing", '{"hold_hours":24}', hold_until),
            ("time_to_outcome", Decision.ACCEPT, "duration_plausible", "{}", None),
            ("caps", Decision.ACCEPT, "within_cap", '{"position":1}', hold_until),
        ],
        ["caps"],
    )

    assert replaced == "+caps,"
    assert packed[0] == DICTIONARY in DICTIONARIES
    assert unpack_verdicts(packed) == [
        ["authenticity", "signature_verified", {"deliveries": 1, "sources": ["s"]}],
        "maturation",
        ["time_to_outcome", "duration_plausible"],
        ["caps", "within_cap", {"position": 1}, hold_until.isoformat()],
    ]


def test_facts_read_back_in_the_order_jsonb_keeps_keys() -> None:
    facts = {"suspected": False, "z": 1, "day": "d", "short_windows": {"3_days": 1, "1_day": 2}}

    assert list(as_stored_json(facts)) == ["z", "day", "suspected", "short_windows"]
    assert list(as_stored_json(facts)["short_windows"]) == ["1_day", "3_days"]

"""Rule 13: audit sampling. An HMAC draw with a server secret selects outcomes the customer must attest
before a deadline (denied or unanswered is an error); the period's error rate is taken at the exact
Clopper-Pearson lower bound, never the point estimate."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

import pytest
import time_machine
from django.test import override_settings

from core.errors import Conflict
from outcomes.models import AuditSample, Outcome, OutcomeState
from outcomes.rules.sampling import clopper_pearson_lower, sample_draw
from outcomes.services.review import sample_attest
from tests.support.rule_stories import DAY, HOUR, SECOND, T0, Story, make_story

# --- clopper_pearson_lower ----------------------------------------------------------------------

# scipy.stats.beta.ppf(1 - confidence, errors, trials - errors + 1), computed once with scipy 1.17.
EXACT = [
    (1, 1, 0.90, 0.09999999999999998),
    (1, 10, 0.90, 0.010480741793785605),
    (3, 50, 0.90, 0.022243984694506093),
    (5, 20, 0.90, 0.12692605993580872),
    (10, 10, 0.90, 0.7943282347242815),
    (7, 200, 0.90, 0.01957772275141635),
    (50, 100, 0.90, 0.4314168255937808),
    (99, 100, 0.90, 0.961660502504613),
    (100, 100, 0.90, 0.9772372209558107),
    (2, 1000, 0.90, 0.0005319361973409318),
    (1, 100, 0.95, 0.0005128014162622926),
    (4, 30, 0.50, 0.12104060961412313),
    (1, 1, 0.50, 0.5),
    # The worked example of docs/verification.md.
    (3, 100, 0.90, 0.01107071947804717),
    (3, 100, 0.95, 0.00822582910765269),
    (1, 100, 0.90, 0.001053050309545618),
    (30, 1000, 0.90, 0.023297148963747117),
]


@pytest.mark.parametrize(("errors", "trials", "confidence", "expected"), EXACT)
def test_clopper_pearson_lower_matches_the_beta_quantile(
    errors: int, trials: int, confidence: float, expected: float
) -> None:
    assert clopper_pearson_lower(errors, trials, confidence) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_no_errors_or_no_trials_give_zero() -> None:
    assert clopper_pearson_lower(0, 100, 0.90) == 0.0
    assert clopper_pearson_lower(0, 1, 0.99) == 0.0
    assert clopper_pearson_lower(0, 0, 0.90) == 0.0
    assert clopper_pearson_lower(3, 0, 0.90) == 0.0


@pytest.mark.parametrize("trials", [1, 7, 40])
def test_the_bound_rises_with_the_errors_and_stays_below_the_point_estimate(trials: int) -> None:
    bounds = [clopper_pearson_lower(errors, trials, 0.90) for errors in range(trials + 1)]
    assert bounds[0] == 0.0
    assert all(low < high for low, high in itertools.pairwise(bounds))
    assert all(0 < bound < errors / trials for errors, bound in enumerate(bounds) if errors)


def test_more_confidence_claims_a_lower_rate() -> None:
    bounds = [clopper_pearson_lower(3, 100, confidence) for confidence in (0.5, 0.8, 0.9, 0.95, 0.99)]
    assert all(high > low for high, low in itertools.pairwise(bounds))


# --- sample_draw --------------------------------------------------------------------------------


def unsaved(contract_id: uuid.UUID, natural_key: str, outcome_type_key: str = "ticket.resolved") -> Outcome:
    return Outcome(contract_id=contract_id, outcome_type_key=outcome_type_key, natural_key=natural_key)


CONTRACT = uuid.UUID(int=42)


@override_settings(AUDIT_SAMPLING_SECRET="test-sampling-secret")
def test_the_draw_is_fixed_by_the_outcomes_identity_and_the_secret() -> None:
    draw = sample_draw(unsaved(CONTRACT, "T-1"))

    assert sample_draw(unsaved(CONTRACT, "T-1")) == draw
    assert 0 <= draw < 1
    assert sample_draw(unsaved(CONTRACT, "T-2")) != draw
    assert sample_draw(unsaved(uuid.UUID(int=43), "T-1")) != draw
    assert sample_draw(unsaved(CONTRACT, "T-1", "lead.qualified")) != draw
    with override_settings(AUDIT_SAMPLING_SECRET="another-secret"):
        assert sample_draw(unsaved(CONTRACT, "T-1")) != draw


@override_settings(AUDIT_SAMPLING_SECRET="test-sampling-secret")
def test_draws_are_uniform_enough() -> None:
    draws = [sample_draw(unsaved(CONTRACT, f"T-{i}")) for i in range(4000)]

    assert all(0 <= d < 1 for d in draws)
    assert sum(draws) / len(draws) == pytest.approx(0.5, abs=0.02)
    assert sum(d < 0.02 for d in draws) / len(draws) == pytest.approx(0.02, abs=0.01)
    bins = [0] * 10
    for d in draws:
        bins[int(d * 10)] += 1
    chi_square = sum((count - 400) ** 2 / 400 for count in bins)
    assert chi_square < 27.88  # the 99.9th percentile of chi-square with 9 degrees of freedom


# --- the rule -----------------------------------------------------------------------------------

ALL = {
    "audit_sampling": {"enabled": True, "rate": 1.0, "attestation_days": 14},
    "confirmation": {"required": False},
}
SELECTED_AT = T0 + HOUR
DEADLINE = SELECTED_AT + 14 * DAY


def sampled() -> Story:
    """One claim at T0, selected (rate 1) at its first evaluation, at T0 + 1 h."""
    story = make_story(ALL)
    story.claim(T0, "T-1")
    story.evaluate(SELECTED_AT)
    return story


def attest(story: Story, at: dt.datetime, *, attested: bool, note: str = "") -> None:
    sample = AuditSample.objects.get(outcome=story.outcome("T-1"))
    with time_machine.travel(at, tick=False):
        sample_attest(sample=sample, attested=attested, actor="customer:auditor", note=note)


DETAILS = {"selected_at": SELECTED_AT.isoformat(), "deadline": DEADLINE.isoformat()}


@pytest.mark.django_db
def test_a_sampled_outcome_waits_for_attestation_then_is_an_error_at_the_deadline() -> None:
    story = sampled()
    sample = AuditSample.objects.get(outcome=story.outcome("T-1"))
    assert (sample.selected_at, sample.deadline, sample.answer) == (SELECTED_AT, DEADLINE, "")

    story.evaluate(DEADLINE - SECOND)
    verdict = story.verdict("T-1", "audit_sampling")
    assert (verdict.decision, verdict.reason, verdict.hold_until, verdict.facts) == (
        "hold",
        "awaiting_attestation",
        DEADLINE,
        DETAILS,
    )
    outcome = story.outcome("T-1")
    assert (outcome.state, outcome.hold_until) == (OutcomeState.MATURING, DEADLINE)

    story.evaluate(DEADLINE)
    verdict = story.verdict("T-1", "audit_sampling")
    assert (verdict.decision, verdict.reason, verdict.facts) == ("reject", "audit_unanswered", DETAILS)
    assert story.state("T-1") == OutcomeState.REJECTED
    assert AuditSample.objects.count() == 1  # selected once: the deadline never moved


@pytest.mark.django_db
def test_an_attestation_just_before_the_deadline_lets_it_bill() -> None:
    story = sampled()

    attest(story, DEADLINE - SECOND, attested=True)

    verdict = story.verdict("T-1", "audit_sampling")
    assert (verdict.decision, verdict.reason, verdict.facts) == (
        "accept",
        "attested",
        {"answered_by": "customer:auditor", **DETAILS},
    )
    assert story.state("T-1") == OutcomeState.BILLABLE


@pytest.mark.django_db
def test_an_attestation_at_the_deadline_is_refused() -> None:
    story = sampled()

    with pytest.raises(Conflict) as refused:
        attest(story, DEADLINE, attested=True)

    assert refused.value.code == "deadline_passed"
    assert AuditSample.objects.get().answer == ""


@pytest.mark.django_db
def test_a_denial_rejects() -> None:
    story = sampled()

    attest(story, T0 + DAY, attested=False, note="no such ticket")

    verdict = story.verdict("T-1", "audit_sampling")
    assert (verdict.decision, verdict.reason, verdict.facts) == (
        "reject",
        "audit_denied",
        {"answered_by": "customer:auditor", "note": "no such ticket", **DETAILS},
    )
    assert story.state("T-1") == OutcomeState.REJECTED


@pytest.mark.django_db
def test_only_outcomes_drawn_below_the_rate_are_sampled() -> None:
    story = make_story({**ALL, "audit_sampling": {"enabled": True, "rate": 0.5}})
    draws = {f"T-{i}": sample_draw(unsaved(story.contract.pk, f"T-{i}")) for i in range(100)}
    chosen = next(key for key, draw in draws.items() if draw < 0.5)
    spared = next(key for key, draw in draws.items() if draw >= 0.5)
    story.claim(T0, chosen)
    story.claim(T0, spared)

    story.evaluate(T0 + HOUR)

    assert story.decided(chosen, "audit_sampling") == ("hold", "awaiting_attestation")
    assert AuditSample.objects.filter(outcome=story.outcome(chosen)).exists()
    assert "audit_sampling" not in story.rules(spared)
    assert not AuditSample.objects.filter(outcome=story.outcome(spared)).exists()


@pytest.mark.django_db
def test_disabled_by_default_samples_nothing() -> None:
    story = make_story({"confirmation": {"required": False}})
    story.claim(T0, "T-1")

    story.evaluate(T0 + DAY)

    assert "audit_sampling" not in story.rules("T-1")
    assert not AuditSample.objects.exists()
    assert story.state("T-1") == OutcomeState.BILLABLE

"""The benchmarks' cores at a tiny size, on the test database: the seeding is what it says, the pipeline
and the close do their work, the ceilings touch the same rows. Correctness only, never timings."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from bench import close, portal, verify, webhooks_out
from bench.bulk import fetchall, seed_contracts
from core import events
from devtools.webhook_receiver import running_receiver
from notifications.models import Event
from outcomes.models import Outcome, OutcomeState
from outcomes.rules import RULES
from outcomes.verdict_trail import verdicts_recorded
from settlement.models import InvoiceStatus, LineOutcome

pytestmark = pytest.mark.django_db

# What each group of the verification working set becomes (bench.verify.PLAN). C and D are agent claims
# without the customer's confirmation: with so tiny a history, velocity or suppression may flag them.
EXPECTED = {
    "A": {OutcomeState.MATURING},
    "B": {OutcomeState.BILLABLE},
    "C": {OutcomeState.MATURING, OutcomeState.FLAGGED},
    "D": {OutcomeState.REJECTED, OutcomeState.FLAGGED},
    # E: the customer's reversals; on so tiny a history they are a large share of the contract's outcomes,
    # so the reversal-anomaly rule may hold them for review.
    "E": {OutcomeState.REVERSED, OutcomeState.FLAGGED},
}


def group_of(index: int) -> str:
    upto = 0
    for group, share in verify.GROUPS:
        upto += share
        if index % 20 < upto:
            return group
    raise AssertionError(index)


def test_verification_bench_core() -> None:
    contracts = 4
    seed_contracts(
        contracts,
        starts_at=timezone.now() - dt.timedelta(days=365),
        outcome_types=verify.policy_terms(),
    )

    result = verify.measure_size(
        300, seeded=0, working_set=200, contracts=contracts, maintenance=False, keep_working_set=True
    )

    assert Outcome.objects.filter(natural_key__startswith="H-").count() == 300
    assert (
        fetchall("SELECT count(*) FROM outcomes_outcomeevent")[0][0] == 300 + 200 + 40 + 10
    )  # B, E: 2 events
    pipeline = result["pipeline"]
    assert pipeline["outcomes"] == pipeline["evaluated"] == 200
    assert pipeline["verdicts"] == len(verdicts_recorded()) > 200
    assert result["ceiling"]["rows"] == 200
    # Each rule's own time, reported beside the pipeline's; the timing wrappers are gone afterwards.
    assert set(pipeline["rule_seconds"]) == {rule.name for rule in RULES}
    assert 0 < sum(pipeline["rule_seconds"].values()) < pipeline["elapsed"]
    assert not any("evaluate" in vars(rule) for rule in RULES)
    shares = [row[0] for row in verify.rule_shares([result])]
    assert shares[-3:] == ["issue 16 rules together", "all rules", "the rest of the pipeline"]
    assert "reversal_anomaly *" in shares
    working = Outcome.objects.filter(natural_key__startswith="W300-")
    for outcome in working:
        group = group_of(int(outcome.natural_key.rsplit("-", 1)[1]))
        assert outcome.state in EXPECTED[group], (outcome.natural_key, group, outcome.state)
    assert sum(result["states"].values()) == 200

    # --workers: each process takes whole contracts, and together they take every outcome once.
    ids = list(working.values_list("id", flat=True))
    parts = verify.by_contract(ids, 2)
    assert sorted(outcome_id for part in parts for outcome_id in part) == sorted(ids)
    contracts_of = [
        set(Outcome.objects.filter(id__in=part).values_list("contract_id", flat=True)) for part in parts
    ]
    assert all(contracts_of)
    assert not contracts_of[0] & contracts_of[1]

    verify.remove_working_set(ids, tag="300")
    assert Outcome.objects.count() == 300
    assert verdicts_recorded() == []


def test_verification_bench_measures_the_outbox() -> None:
    """The second working set runs with no recorder for domain events: the outbox rows come only from the
    first, one per outcome that changed into a published state, and the recorder is back afterwards."""
    seed_contracts(3, starts_at=timezone.now() - dt.timedelta(days=365), outcome_types=verify.policy_terms())

    result = verify.measure_size(100, seeded=0, working_set=100, contracts=3, maintenance=False)

    published = {OutcomeState.BILLABLE, OutcomeState.REJECTED, OutcomeState.FLAGGED, OutcomeState.REVERSED}
    assert (
        result["outbox_events"]
        == sum(count for state, count in result["states"].items() if state in published)
        > 0
    )
    assert result["pipeline_without_outbox"]["evaluated"] == 100
    assert Event.objects.filter(type__startswith="outcome.").count() == result["outbox_events"]
    assert verify.outbox_cost([result])[0][0] == "100"
    assert events._recorders


def test_close_bench_core() -> None:
    seed_contracts(6, starts_at=timezone.now() - dt.timedelta(days=400), outcome_types=close.PRICINGS)
    now = timezone.now()
    period = close.last_full_month(now)
    ids = close.contract_ids()

    result = close.measure_size(250, contracts=ids, period=period, now=now, workers=1, maintenance=False)

    assert result["invoices"] == 6
    assert result["stored"]["invoices"] == 6
    assert result["stored"]["line_outcomes"] == result["stored"]["distinct_outcomes"] == 250
    assert result["ceiling"]["outcomes"] == 250
    assert result["ceiling"]["groups"] == 12  # per contract: 100% and 50% (unverified) outcomes

    push = close.measure_push(3, period_start=period[0], now=now, workers=1, maintenance=False)

    assert push["invoices"] == push["pushed"] == 3
    assert push["statuses"] == {"paid": 3}
    # Stripe calls per invoice, counted at the server: a count, not a timing.
    assert push["stripe_calls_complete"]
    assert push["invoice_calls"] / push["invoices"] <= close.GOAL_STRIPE_CALLS
    assert push["stripe_calls"] == {
        "POST /v1/invoices": 3,
        "POST /v1/invoices/{id}/add_lines": 3,
        "POST /v1/invoices/{id}/finalize": 3,
        "POST /v1/invoices/{id}/pay": 3,
    }
    assert (push["customers_created"], push["customer_calls"]) == (3, 0)  # made with a card, before
    # Exactly the outcomes on the pushed invoices are billed (which three drafts are pushed depends on
    # the order the batched close created them in, so count through the lines, not by contract).
    pushed_outcomes = set(
        LineOutcome.objects.filter(line__invoice__status=InvoiceStatus.PAID).values_list(
            "outcome_id", flat=True
        )
    )
    assert 3 * 41 <= len(pushed_outcomes) <= 3 * 42
    assert (
        set(Outcome.objects.filter(state=OutcomeState.BILLED).values_list("id", flat=True)) == pushed_outcomes
    )


def test_portal_bench_core() -> None:
    seed_contracts(3, starts_at=timezone.now() - dt.timedelta(days=365), outcome_types=verify.policy_terms())

    result = portal.measure_size(300, seeded=0, contracts=3, repeats=1)

    assert result["outcomes"] == Outcome.objects.count() == 300
    assert [page["name"] for page in result["pages"]] == [
        name for name, _, _ in portal.pages(result["vendor"]) + portal.customer_pages(result["customer"])
    ]
    # The bench customer holds every tenth contract: here contract 0 of 3, a third of the history.
    assert Outcome.objects.filter(contract__customer_id=result["customer"]).count() == 100
    assert all(page["ms"] > 0 for page in result["pages"])
    assert result["ceiling_ms"] > 0
    report = portal.build_report([result])
    assert len(report) == len(result["pages"]) + 1  # each page, then the ceiling


def test_webhooks_out_bench_core(settings: SettingsWrapper) -> None:
    """The outbound webhooks benchmark's parts: the outbox seeded, every event delivered to the receiver
    by the dispatcher, and the ceiling's POSTs of the same envelopes verified by it."""
    settings.WEBHOOKS_OUT_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.WEBHOOKS_OUT_REQUIRE_HTTPS = False
    with running_receiver(secrets=[webhooks_out.SECRET]) as receiver:
        endpoint = webhooks_out.seed(12, receiver.url)
        assert Event.objects.filter(vendor_id=endpoint.vendor_id, fanned_out=False).count() == 12

        dispatched = webhooks_out.run_dispatch(12)

        assert dispatched["delivered"] == dispatched["attempts"] == dispatched["attempt_rows"] == 12
        assert receiver.counts_by_type() == {"outcome.billable": 12}
        assert set(receiver.counts_by_webhook_id().values()) == {1}
        receiver.reset()

        ceiling = webhooks_out.run_ceiling(12, receiver.url, 4)

        assert ceiling["posts"] == ceiling["ok"] == 12
        assert len(receiver.delivered()) == 12


def test_the_hardened_policy_is_a_valid_policy_naming_only_registered_rules() -> None:
    from outcomes.rules.policy import VerificationPolicy

    assert VerificationPolicy.model_validate(verify.HARDENED_POLICY)
    assert set(verify.ISSUE_16_RULES) <= {rule.name for rule in RULES}
    assert verify.policy_terms("hardened")[0]["verification_policy"] == verify.HARDENED_POLICY

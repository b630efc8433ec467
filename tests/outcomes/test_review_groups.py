"""The review queue's groups: open flags grouped by contract, kind of flag and the day they occurred in
the contract's zone (outcomes.selectors), and one decision for a whole group (outcomes.services.review)."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.db import connection, transaction

from contracts.models import AuditEntry, Contract, Vendor
from core.errors import NotFound, ValidationFailed
from outcomes.models import Outcome, OutcomeTransition, OutcomeVerdict, ReviewDecision
from outcomes.selectors import flag_group_get, flag_group_list, flag_group_outcomes
from outcomes.services.review import review_decide, review_decide_group
from tests.factories import CustomerFactory, VendorFactory, contract_create_for
from tests.outcomes.test_api_verification import T0, VELOCITY, Scene
from tests.portal.outcome_scenes import ingest_for
from tests.support.faults import waiting_for_a_lock
from tests.support.ingest import Ingest
from tests.support.polling import wait_until

pytestmark = pytest.mark.django_db

_keys = itertools.count(1)


def contract_of(vendor: Vendor, reference: str, tz: str) -> Contract:
    return contract_create_for(CustomerFactory.create(vendor=vendor), reference=reference, timezone=tz)


def outcome_with(
    contract: Contract, occurred_at: dt.datetime, *verdicts: tuple[str, str, str], state: str = "flagged"
) -> Outcome:
    """An outcome in `state` with verdict rows (rule, decision, reason), oldest first, as the
    verification pipeline writes them."""
    outcome = Outcome.objects.create(
        vendor=contract.vendor,
        contract=contract,
        outcome_type_key="ticket.resolved",
        natural_key=f"T-{next(_keys)}",
        state=state,
        occurred_at=occurred_at,
        created_at=occurred_at,
        updated_at=occurred_at,
    )
    OutcomeVerdict.objects.bulk_create(
        OutcomeVerdict(outcome=outcome, rule=rule, decision=decision, reason=reason, facts={}, at=occurred_at)
        for rule, decision, reason in verdicts
    )
    return outcome


VELOCITY_FLAG = ("anomaly", "flag", "velocity_anomaly")
SUPPRESSION_FLAG = ("suppression", "flag", "suppression_suspected")


def utc(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2026, 6, day, hour, tzinfo=dt.UTC)


def test_open_flags_are_grouped_by_contract_kind_of_flag_and_the_contracts_local_day() -> None:
    vendor = VendorFactory.create()
    new_york = contract_of(vendor, "CTR-ny", "America/New_York")  # UTC-4 in June
    tokyo = contract_of(vendor, "CTR-tokyo", "Asia/Tokyo")  # UTC+9
    # 2 June 01:00 UTC is still 1 June in New York; 2 June 05:00 UTC is 2 June there.
    ny_june_1 = [outcome_with(new_york, utc(2, 1), VELOCITY_FLAG) for _ in range(3)]
    ny_june_2 = [outcome_with(new_york, utc(2, 5), VELOCITY_FLAG) for _ in range(2)]
    # One outcome with two open flags is in two groups; two rules raising the same flag count it once.
    both = outcome_with(
        new_york,
        utc(2, 6),
        VELOCITY_FLAG,
        SUPPRESSION_FLAG,
        ("confirmation", "flag", "suppression_suspected"),
    )
    # 1 June 20:00 UTC is already 2 June in Tokyo.
    tokyo_june_2 = [outcome_with(tokyo, utc(1, 20), VELOCITY_FLAG) for _ in range(4)]
    # Not open: a flag superseded by the rule's later verdict, a decided flag, an outcome no longer
    # flagged, another vendor's flag.
    outcome_with(new_york, utc(2, 5), VELOCITY_FLAG, ("anomaly", "accept", "velocity_normal"))
    decided = outcome_with(new_york, utc(2, 5), VELOCITY_FLAG)
    ReviewDecision.objects.create(
        outcome=decided, flag_reason="velocity_anomaly", verdict="reject", party="customer", actor="c", at=T0
    )
    outcome_with(new_york, utc(2, 5), VELOCITY_FLAG, state="billable")
    outcome_with(contract_of(VendorFactory.create(), "CTR-other", "UTC"), utc(2, 5), VELOCITY_FLAG)

    groups = flag_group_list(vendor=vendor, offset=0, limit=10)

    june_1, june_2 = dt.date(2026, 6, 1), dt.date(2026, 6, 2)
    assert sorted((g.contract.reference, g.flag_reason, g.day, g.count) for g in groups) == [
        ("CTR-ny", "suppression_suspected", june_2, 1),
        ("CTR-ny", "velocity_anomaly", june_1, 3),
        ("CTR-ny", "velocity_anomaly", june_2, 3),
        ("CTR-tokyo", "velocity_anomaly", june_2, 4),
    ]
    assert [g.day for g in groups] == [june_2, june_2, june_2, june_1]  # the newest day first
    ny_1 = next(g for g in groups if g.day == june_1)
    assert (ny_1.first_occurred_at, ny_1.last_occurred_at) == (utc(2, 1), utc(2, 1))
    assert ny_1.newest_outcome_id == max(o.pk for o in ny_june_1)
    assert ny_1.sample is not None
    assert ny_1.sample.outcome_id == ny_1.newest_outcome_id
    # Pages of groups, in the same order.
    assert [(g.contract.pk, g.day, g.flag_reason) for g in groups] == [
        (g.contract.pk, g.day, g.flag_reason)
        for g in flag_group_list(vendor=vendor, offset=0, limit=2)
        + flag_group_list(vendor=vendor, offset=2, limit=2)
    ]
    # One group, read on its own, holds the same outcomes.
    one = flag_group_get(
        vendor=vendor, contract_id=new_york.pk, flag_reason="velocity_anomaly", day="2026-06-02"
    )
    assert one.count == 3
    assert sorted(flag_group_outcomes(group=one).values_list("pk", flat=True)) == sorted(
        [o.pk for o in ny_june_2] + [both.pk]
    )
    tokyo_group = flag_group_get(
        vendor=vendor, contract_id=tokyo.pk, flag_reason="velocity_anomaly", day="2026-06-02"
    )
    assert sorted(flag_group_outcomes(group=tokyo_group).values_list("pk", flat=True)) == [
        o.pk for o in tokyo_june_2
    ]


def test_another_vendors_contract_or_a_malformed_group_is_not_found() -> None:
    vendor, other = VendorFactory.create(), VendorFactory.create()
    theirs = contract_of(other, "CTR-theirs", "UTC")
    outcome_with(theirs, utc(2, 5), VELOCITY_FLAG)

    for contract_id, day in (
        (theirs.pk, "2026-06-02"),
        ("not-a-uuid", "2026-06-02"),
        (theirs.pk, "2026-13-40"),
    ):
        with pytest.raises(NotFound):
            flag_group_get(vendor=vendor, contract_id=contract_id, flag_reason="velocity_anomaly", day=day)


# Deciding a group, through the real pipeline ---------------------------------------------------------

REASON = "A planned migration: the customer agreed by email."


@pytest.fixture
def burst(db: None, django_capture_on_commit_callbacks: Any) -> Iterator[tuple[Ingest, list[int]]]:
    """Sixty outcomes flagged for velocity on one day (after two weeks of three a day)."""
    with time_machine.travel(T0, tick=False):
        ingest = ingest_for(VendorFactory.create(), reference="CTR-burst", **VELOCITY)
        flagged = Scene(django_capture_on_commit_callbacks).velocity_flagged(ingest, burst=60)
        assert set(Outcome.objects.filter(pk__in=flagged).values_list("state", flat=True)) == {"flagged"}
        yield ingest, flagged


def decide_group(ingest: Ingest, **overrides: Any) -> list[ReviewDecision]:
    arguments: dict[str, Any] = {
        "vendor": ingest.contract.vendor,
        "contract_id": ingest.contract.pk,
        "flag_reason": "velocity_anomaly",
        "day": dt.date(2026, 6, 1),  # the burst, at T0 - 5 min: 07:55 on 1 June in New York
        "verdict": "reject",
        "party": "vendor_admin",
        "actor": "user:admin@example.com",
        "justification": REASON,
        **overrides,
    }
    return review_decide_group(**arguments)


def test_one_decision_decides_a_60_flag_group_each_outcome_recorded_and_moved_like_a_single_one(
    burst: tuple[Ingest, list[int]], django_assert_max_num_queries: Any
) -> None:
    ingest, flagged = burst

    with django_assert_max_num_queries(40):  # a batch: no query per outcome
        decisions = decide_group(ingest)

    assert sorted(d.outcome_id for d in decisions) == sorted(flagged)
    assert list(
        ReviewDecision.objects.values_list(
            "flag_reason", "verdict", "party", "actor", "justification"
        ).distinct()
    ) == [("velocity_anomaly", "reject", "vendor_admin", "user:admin@example.com", REASON)]
    assert ReviewDecision.objects.count() == 60
    assert set(Outcome.objects.filter(pk__in=flagged).values_list("state", flat=True)) == {"rejected"}
    moved = OutcomeTransition.objects.filter(
        outcome_id__in=flagged, from_state="flagged", to_state="rejected"
    )
    assert sorted(moved.values_list("outcome_id", flat=True)) == sorted(flagged)
    assert set(moved.values_list("reason", flat=True)) == {"velocity_anomaly_rejected_on_review"}
    latest = OutcomeVerdict.objects.filter(
        outcome_id__in=flagged, reason="velocity_anomaly_rejected_on_review"
    )
    assert latest.count() == 60
    assert {(v.facts["justification"], v.facts["decided_by"]) for v in latest} == {
        (REASON, "user:admin@example.com")
    }
    audit = AuditEntry.objects.filter(vendor=ingest.contract.vendor, action="outcome.flag_decided")
    assert sorted(int(pk) for pk in audit.values_list("object_id", flat=True)) == sorted(flagged)
    assert {(e.actor, e.object_type, e.details["verdict"], e.details["decided_together"]) for e in audit} == {
        ("user:admin@example.com", "outcome", "reject", 60)
    }
    # Deciding it again finds nothing open and writes nothing.
    assert decide_group(ingest, verdict="accept", party="operator") == []
    assert ReviewDecision.objects.count() == 60


def test_a_flag_decided_meanwhile_is_skipped_and_an_outcome_newer_than_the_group_shown_is_left(
    burst: tuple[Ingest, list[int]],
) -> None:
    ingest, flagged = burst
    first, *rest = sorted(flagged)
    review_decide(
        outcome=Outcome.objects.get(pk=first),
        flag_reason="velocity_anomaly",
        verdict="accept",
        party="customer",
        actor="api_key:customer",
    )

    decisions = decide_group(ingest, newest_outcome_id=rest[-2])  # the last one arrived after the page

    assert sorted(d.outcome_id for d in decisions) == rest[:-1]
    assert ReviewDecision.objects.get(outcome_id=first).verdict == "accept"  # untouched
    assert Outcome.objects.get(pk=first).state != "rejected"
    assert Outcome.objects.get(pk=rest[-1]).state == "flagged"
    assert not ReviewDecision.objects.filter(outcome_id=rest[-1]).exists()
    # The single decision is audited on its outcome like each of the group's.
    alone = AuditEntry.objects.get(action="outcome.flag_decided", object_id=str(first))
    assert (alone.actor, alone.details["verdict"], alone.details["decided_together"]) == (
        "api_key:customer",
        "accept",
        1,
    )


@pytest.mark.django_db(transaction=True)
def test_a_decision_racing_the_group_is_waited_for_and_its_flag_skipped(
    burst: tuple[Ingest, list[int]],
) -> None:
    """The customer decides one flag in a transaction still open when the group decision starts: the
    group waits on that outcome's lock, then finds its flag decided and leaves it (no conflict)."""
    ingest, flagged = burst
    first = min(flagged)
    decided_alone = threading.Event()

    def decide_alone() -> None:
        try:
            with transaction.atomic():
                review_decide(
                    outcome=Outcome.objects.get(pk=first),
                    flag_reason="velocity_anomaly",
                    verdict="accept",
                    party="customer",
                    actor="api_key:customer",
                )
                decided_alone.set()
                # Not committed until the group decision waits on this outcome's lock.
                wait_until(waiting_for_a_lock, timeout=30, message="the group decision to wait on the lock")
        finally:
            connection.close()

    racer = threading.Thread(target=decide_alone)
    racer.start()
    assert decided_alone.wait(timeout=30)
    decisions = decide_group(ingest)
    racer.join()

    assert sorted(d.outcome_id for d in decisions) == sorted(flagged)[1:]
    assert ReviewDecision.objects.get(outcome_id=first).actor == "api_key:customer"
    assert ReviewDecision.objects.filter(flag_reason="velocity_anomaly").count() == 60


def test_a_group_decision_refused_or_aimed_at_another_vendor_changes_nothing(
    burst: tuple[Ingest, list[int]],
) -> None:
    ingest, _ = burst

    with pytest.raises(ValidationFailed) as no_reason:
        decide_group(ingest, justification=" ")
    with pytest.raises(NotFound):
        decide_group(ingest, vendor=VendorFactory.create())

    assert no_reason.value.field_errors["justification"][0]["code"] == "required"
    assert not ReviewDecision.objects.exists()
    assert not AuditEntry.objects.filter(action="outcome.flag_decided").exists()
    assert set(
        Outcome.objects.filter(contract=ingest.contract, natural_key__startswith="B-").values_list(
            "state", flat=True
        )
    ) == {"flagged"}

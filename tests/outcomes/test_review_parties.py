"""No one decides alone what pays them: for every kind of flag and every party, which verdict it may
give alone (outcomes.services.review), and the refusal's code when it may not."""

from __future__ import annotations

import pytest

from outcomes.models import Party
from outcomes.rules import FLAGS
from outcomes.rules.base import BILLS_CUSTOMER, CREDITS_CUSTOMER, FlagReason
from outcomes.services import review
from outcomes.services.review import deciders, decision_refusal, evidence_to_clear, who_may

# (flag, party, verdict) -> allowed alone. Both declared flags bill the customer when accepted.
MATRIX = [
    # Inflation protects the customer: the vendor (even an admin, with a reason) never accepts it.
    ("velocity_anomaly", Party.CUSTOMER, "accept", True),
    ("velocity_anomaly", Party.CUSTOMER, "reject", True),
    ("velocity_anomaly", Party.VENDOR_ADMIN, "accept", False),
    ("velocity_anomaly", Party.VENDOR_ADMIN, "reject", True),
    ("velocity_anomaly", Party.OPERATOR, "accept", True),
    ("velocity_anomaly", Party.OPERATOR, "reject", True),
    # Suppression is raised against the customer, and a padding vendor can trigger it: the vendor
    # never accepts it alone, the customer never rejects it alone.
    ("suppression_suspected", Party.VENDOR, "accept", False),
    ("suppression_suspected", Party.VENDOR, "reject", True),
    ("suppression_suspected", Party.CUSTOMER, "accept", True),
    ("suppression_suspected", Party.CUSTOMER, "reject", False),
    ("suppression_suspected", Party.OPERATOR, "accept", True),
    ("suppression_suspected", Party.OPERATOR, "reject", True),
    # A contested disqualifier: the vendor only concedes; the customer only withdraws (upholding it is
    # an answer, not a decision).
    ("disqualifier_contested", Party.VENDOR, "accept", False),
    ("disqualifier_contested", Party.VENDOR, "reject", True),
    ("disqualifier_contested", Party.CUSTOMER, "accept", True),
    ("disqualifier_contested", Party.CUSTOMER, "reject", False),
    ("disqualifier_contested", Party.OPERATOR, "accept", True),
    ("disqualifier_contested", Party.OPERATOR, "reject", True),
]


@pytest.mark.parametrize(("flag", "party", "verdict", "allowed"), MATRIX)
def test_each_party_decides_alone_only_against_its_own_interest_or_as_declared(
    flag: str, party: str, verdict: str, allowed: bool
) -> None:
    refusal = decision_refusal(flag_reason=flag, verdict=verdict, party=party)

    assert (party in who_may(flag, verdict)) is allowed
    if allowed:
        assert refusal is None
    else:
        assert refusal is not None
        assert (refusal.status, refusal.code) == (403, "decision_needs_other_party")
        assert "no one decides alone what pays them" in refusal.message


def test_the_matrix_covers_every_declared_flag_and_each_declares_what_accepting_does() -> None:
    assert {flag for flag, *_ in MATRIX} <= set(FLAGS)
    covered = {flag for flag, *_ in MATRIX}
    assert {code: flag.on_accept for code, flag in FLAGS.items() if code in covered} == {
        "velocity_anomaly": BILLS_CUSTOMER,
        "suppression_suspected": BILLS_CUSTOMER,
        "disqualifier_contested": BILLS_CUSTOMER,
    }


def test_a_vendor_acting_as_the_wrong_kind_of_vendor_party_is_not_its_decision() -> None:
    # An inflation flag comes to the vendor as a vendor admin (with a reason), never as the plain vendor.
    refusal = decision_refusal(flag_reason="velocity_anomaly", verdict="reject", party=Party.VENDOR)

    assert refusal is not None
    assert (refusal.status, refusal.code) == (403, "not_your_decision")
    assert deciders("velocity_anomaly") == {Party.CUSTOMER, Party.VENDOR_ADMIN, Party.OPERATOR}


def test_a_flag_that_credits_the_customer_is_never_accepted_by_the_customer_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A reversal-style flag: accepting it credits the customer; the vendor, whom it protects, may reject.
    credit = FlagReason(
        "test_credit_flag",
        "A credit in question.",
        suspicion="credit",
        deciders=frozenset({Party.VENDOR}),
        evidence_to_clear=True,
        who_decides="",
        on_accept=CREDITS_CUSTOMER,
    )
    monkeypatch.setattr(review, "FLAGS", {**FLAGS, credit.code: credit})

    assert who_may(credit.code, "accept") == (Party.VENDOR, Party.OPERATOR)
    assert who_may(credit.code, "reject") == (Party.CUSTOMER, Party.VENDOR, Party.OPERATOR)
    refusal = decision_refusal(flag_reason=credit.code, verdict="accept", party=Party.CUSTOMER)
    assert refusal is not None
    assert refusal.code == "decision_needs_other_party"
    assert "credits the customer" in refusal.message
    # The vendor agreeing to the credit needs no evidence; an operator granting it does.
    assert evidence_to_clear(credit.code, Party.VENDOR) is False
    assert evidence_to_clear(credit.code, Party.OPERATOR) is True


@pytest.mark.parametrize(
    ("party", "needs"), [(Party.CUSTOMER, False), (Party.OPERATOR, True), (Party.VENDOR, True)]
)
def test_clearing_a_suppression_flag_needs_evidence_except_from_the_customer_agreeing(
    party: str, needs: bool
) -> None:
    assert evidence_to_clear("suppression_suspected", party) is needs

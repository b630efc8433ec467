"""Rule 11a, the customer's own cap: past its own ceiling on an outcome type per period (a count of outcomes,
an amount they bill, or both), an outcome waits for the customer's approval instead of being billed.

The customer sets the cap (contracts.models.CustomerCap, with its API key), at or below the contract's.
Like the contract's cap (rule 11, outcomes.services.caps) it is judged only at the moment an outcome would
become billable, from the same locked count of the period's billable and billed outcomes (and, for an
amount, their price as settlement rates them); the pipeline asks `verdict` then (its `evaluate` judges
nothing). What exceeds is flagged `customer_cap_exceeded`:
accepting it bills the customer over its own cap, so the customer (or an operator) accepts; the vendor
may give the bill up by rejecting (a vendor admin, with a justification). No one deciding keeps it
waiting: silence neither bills it (the customer asked to be asked) nor forfeits the vendor's work.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from contracts.models import CustomerCap
from contracts.policy import RuleParams
from contracts.terms.rating import round_minor
from outcomes.models import Party
from outcomes.rules.base import BILLS_CUSTOMER, FlagReason, OutcomeFacts, Reason, Rule, Verdict, accept, flag

CUSTOMER_CAP_EXCEEDED = "customer_cap_exceeded"
WITHIN_CUSTOMER_CAP = "within_customer_cap"


@dataclass(frozen=True)
class AmountUse:
    """An amount cap's view of one more outcome: what its period bills so far and what this outcome
    would add, exact in minor units."""

    so_far: Decimal
    price: Decimal


class CustomerCaps(Rule[RuleParams]):
    name = "customer_caps"
    reasons = (
        Reason(WITHIN_CUSTOMER_CAP, "Within the customer's own cap for its outcome type and period."),
        FlagReason(
            CUSTOMER_CAP_EXCEEDED,
            "Past the customer's own cap for its outcome type and period: billed only with the customer's "
            "approval.",
            suspicion="a customer cap",
            deciders=frozenset({Party.CUSTOMER}),
            evidence_to_clear=False,
            who_decides=(
                "The customer approves it (billed over its own cap), or an operator; the vendor may give "
                "the bill up by rejecting it as a vendor admin."
            ),
            on_accept=BILLS_CUSTOMER,
            silence_against=None,  # it waits: silence neither bills it nor forfeits the vendor's work
        ),
    )

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict | None:
        return None  # judged at the moment the outcome would become billable: see verdict

    def verdict(
        self,
        cap: CustomerCap | None,
        *,
        used: int,
        amount: AmountUse | None = None,
        period_start: str,
        decided: bool,
    ) -> Verdict:
        """The customer's cap on one more billable outcome when `used` are already billable or billed in
        its period and, for an amount cap, they bill `amount.so_far` and this one would add `amount.price`
        (the pipeline counts and prices them under the period's lock, outcomes.services.caps). Past either
        limit it is flagged; reaching a limit exactly is within it. Once a person decided its flag, the
        flag stands (to be replaced by that decision), whatever the cap became since: a vendor's
        concession is not undone by the customer removing its cap."""
        details: dict[str, Any] = {
            "max_units": None if cap is None else cap.max_units,
            "period_start": period_start,
            "set_by": None if cap is None else cap.set_by,
        }
        over = cap is None or (cap.max_units is not None and used >= cap.max_units)
        if cap is not None and cap.max_amount_minor is not None and amount is not None:
            details["max_amount_minor"] = cap.max_amount_minor
            details["price_minor"] = round_minor(amount.price)
            over = over or amount.so_far + amount.price > cap.max_amount_minor
            # What the period bills so far: before this outcome when it is held, with it when admitted.
            so_far = amount.so_far if decided or over else amount.so_far + amount.price
            details["amount_minor"] = round_minor(so_far)
        if decided or over:
            return flag(CUSTOMER_CAP_EXCEEDED, used=used, **details)
        return accept(WITHIN_CUSTOMER_CAP, position=used + 1, **details)

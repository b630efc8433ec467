"""Rule 7: a vendor's claim becomes billable only when the customer's system of record confirms the same
natural key within the match window; unmatched claims are held, then rejected, billed as
unverified, or accepted after a silence window, as the policy says."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field

from contracts.policy import RuleParams
from outcomes.rules.base import OutcomeFacts, Reason, Rule, Verdict, accept, flag, hold, iso, reject
from outcomes.rules.suppression import SUPPRESSION_SUSPECTED, SUSPECTED, SuppressionStats


class ConfirmationParams(RuleParams):
    """Rule 7: a vendor claim needs the customer's confirmation of the same natural key."""

    title = "Confirmation by the customer"
    required: Annotated[
        bool, Field(description="A claim is billable only once the customer's own system confirms it.")
    ] = True
    match_window_hours: Annotated[
        int,
        Field(
            gt=0, le=366 * 24, description="Hours a claim waits for its confirmation (either may come first)."
        ),
    ] = 72
    on_unmatched: Annotated[
        Literal["reject", "bill_unverified", "silence_is_consent"],
        Field(description="What happens to a claim still unconfirmed when the window closes."),
    ] = "reject"
    unverified_price_percent: Annotated[
        int, Field(ge=0, le=100, description="Share of the price billed for an unverified claim (0 to 100).")
    ] = 50
    silence_window_hours: Annotated[
        int,
        Field(
            gt=0,
            le=366 * 24,
            description="Hours of silence after a claim that count as the customer's consent.",
        ),
    ] = 168

    def describe(self) -> str:
        if not self.required:
            return "No confirmation by the customer is needed."
        text = f"Confirmation by the customer within {self.match_window_hours} hours"
        if self.on_unmatched == "reject":
            return text + "; unconfirmed claims are rejected."
        if self.on_unmatched == "bill_unverified":
            return text + (
                f"; unconfirmed claims are billed as unverified at "
                f"{self.unverified_price_percent} % of the price."
            )
        return text + f"; silence for {self.silence_window_hours} hours counts as consent."


BILLED_UNVERIFIED = "billed_unverified"


class Confirmation(Rule[ConfirmationParams]):
    name = "confirmation"
    params_model = ConfirmationParams
    policy_key = "confirmation"
    reasons = (
        Reason(
            "reported_by_system_of_record", "Every claim came from the customer's system of record itself."
        ),
        Reason("confirmed", "The customer's system of record confirmed it within the match window."),
        Reason(
            "awaiting_confirmation", "Waiting for the customer's confirmation until the match window closes."
        ),
        Reason(
            "awaiting_silence",
            "Unconfirmed: accepted if the customer stays silent until the silence window ends.",
        ),
        Reason(
            "silence_is_consent",
            "Unconfirmed, and the customer stayed silent: accepted, as the contract says.",
        ),
        Reason(BILLED_UNVERIFIED, "Unconfirmed: billed at the contract's reduced unverified price."),
        Reason("unconfirmed", "The customer's system of record did not confirm it within the match window."),
        SUSPECTED,
    )

    def price_percent(self, verdict: Verdict) -> int | None:
        """An unverified claim bills at the policy's reduced price."""
        return int(verdict.facts["price_percent"]) if verdict.reason == BILLED_UNVERIFIED else None

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict | None:
        params = self.params(facts)
        if not params.required:
            return None
        window = dt.timedelta(hours=params.match_window_hours)
        claimed_at, confirmed_at = facts.claimed_at, facts.confirmed_at
        if confirmed_at is not None and all(e.from_customer for e in facts.claims):
            return accept("reported_by_system_of_record", confirmed_at=iso(confirmed_at))
        if confirmed_at is not None and abs(confirmed_at - claimed_at) <= window:
            return accept(
                "confirmed",
                claimed_at=iso(claimed_at),
                confirmed_at=iso(confirmed_at),
                match_window_hours=params.match_window_hours,
            )
        deadline = claimed_at + window
        details = {"claimed_at": iso(claimed_at), "match_window_hours": params.match_window_hours}
        if confirmed_at is not None:
            details["confirmed_at"] = iso(confirmed_at)
        if now < deadline:
            return hold(deadline, "awaiting_confirmation", **details)
        if params.on_unmatched == "silence_is_consent":
            silence_ends = claimed_at + dt.timedelta(hours=params.silence_window_hours)
            if now < silence_ends:
                return hold(
                    silence_ends,
                    "awaiting_silence",
                    silence_window_hours=params.silence_window_hours,
                    **details,
                )
            return accept("silence_is_consent", silence_window_hours=params.silence_window_hours, **details)
        if params.on_unmatched == "bill_unverified":
            return accept(BILLED_UNVERIFIED, price_percent=params.unverified_price_percent, **details)
        suppression: SuppressionStats | None = prepared.get("suppression")
        stats = suppression.in_question(facts) if suppression is not None else None
        if stats is not None:
            # Silence cannot be used to avoid paying: the vendor's evidence decides instead.
            return flag(SUPPRESSION_SUSPECTED, **details, **stats)
        return reject("unconfirmed", **details)

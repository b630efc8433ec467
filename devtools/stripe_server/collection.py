"""Automatic collection: what Stripe does to invoices with `auto_advance=true` as time passes, and payment attempts.

Stripe finalizes an auto-advancing draft about an hour after creation and attempts payment; a failed attempt is
retried on the account's retry schedule (here Stripe's "custom retry schedule": days after the previous attempt),
and after the last failure the invoice is left open, marked uncollectible or voided as configured
(https://docs.stripe.com/invoicing/integration/automatic-advancement-collection,
https://docs.stripe.com/billing/revenue-recovery/smart-retries#custom-retry-schedule). `invoice.overdue` stands in
for the automation that sends it (https://docs.stripe.com/changelog/acacia/2024-09-30/billing-due-date-webhooks).
Nothing here runs on its own: the admin API advances the server clock and `Accounts.advance` does the work that
fell due in every account, in time order, each event stamped with the moment it happened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import CARD_ERROR, ApiError, invalid
from .objects import JSON, RequestContext
from .params import Params
from .payments import NO_PAYMENT_METHOD

if TYPE_CHECKING:
    from .state import Store

DAY = 86_400
AUTO_FINALIZE_DELAY = 3600  # "automatically finalizing draft invoices after one hour"
FINAL_FAILURE_ACTIONS = ("leave_open", "mark_uncollectible", "void")
REQUIRES_ACTION = (
    "This payment requires additional user action before it can be completed successfully. Payment can be "
    "completed using the PaymentIntent associated with the invoice. See "
    "https://stripe.com/docs/billing/subscriptions/overview#requires-action for more details."
)


class Collection:
    """The retry schedule, what to do after the final failure, and the scheduled work on the Store's invoices."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.retry_days: list[int] = [3, 5, 7]
        self.after_final_failure = "leave_open"
        self.overdue_days: int | None = 0  # None: no invoice.overdue automation
        self._overdue_sent: set[str] = set()

    def configure(self, settings: dict[str, Any]) -> JSON:
        unknown = set(settings) - {"retry_days", "after_final_failure", "overdue_days"}
        if unknown:
            raise ValueError(f"unknown collection setting(s): {', '.join(sorted(unknown))}")
        days = settings.get("retry_days", self.retry_days)
        if (
            not isinstance(days, list)
            or not all(isinstance(d, int) and d >= 1 for d in days)
            or len(days) > 8
        ):
            raise ValueError("retry_days must be a list of at most 8 whole days >= 1")
        action = settings.get("after_final_failure", self.after_final_failure)
        if action not in FINAL_FAILURE_ACTIONS:
            raise ValueError(f"after_final_failure must be one of {', '.join(FINAL_FAILURE_ACTIONS)}")
        overdue = settings.get("overdue_days", self.overdue_days)
        if overdue is not None and (not isinstance(overdue, int) or overdue < 0):
            raise ValueError("overdue_days must be a whole number of days >= 0, or null")
        self.retry_days, self.after_final_failure, self.overdue_days = list(days), action, overdue
        return self.describe()

    def describe(self) -> JSON:
        return {
            "retry_days": list(self.retry_days),
            "after_final_failure": self.after_final_failure,
            "overdue_days": self.overdue_days,
        }

    # ------------------------------------------------------------------ payment attempts

    def attempt(
        self, invoice: JSON, payment_method_id: str | None, ctx: RequestContext, *, automatic: bool
    ) -> ApiError | None:
        """Charge `invoice` with the payment method; the error the API answers with, or None once paid.

        `attempt_count` follows Stripe: any attempt counts as the first, then only automatic retries count, so a
        manual attempt after the first leaves the retry schedule alone.
        """
        counted = automatic or invoice["attempt_count"] == 0
        if counted:
            invoice["attempt_count"] += 1
        invoice["attempted"] = True
        card = self.store.wallet.card_of(payment_method_id) if payment_method_id is not None else None
        if card is not None and card.decline_on_charge is None and not card.requires_authentication:
            self.store._mark_paid(invoice, ctx, charged=True)
            return None
        if card is None:
            error, retryable = (
                invalid(NO_PAYMENT_METHOD),
                False,
            )  # Stripe doesn't retry without a payment method
        elif card.requires_authentication:
            # Off-session 3D Secure: only the customer can complete it; retrying cannot help.
            error = ApiError(402, CARD_ERROR, REQUIRES_ACTION, code="invoice_payment_intent_requires_action")
            retryable = False
        else:
            assert card.decline_on_charge is not None
            error, retryable = card.decline_on_charge.error(), True
        final = self._schedule_retry(invoice, retryable=retryable) if counted else False
        self.store._emit_invoice("invoice.payment_failed", invoice["id"], ctx)
        if card is not None and card.requires_authentication:
            self.store._emit_invoice("invoice.payment_action_required", invoice["id"], ctx)
        if final:
            self._after_final_failure(invoice, ctx)
        return error

    def _schedule_retry(self, invoice: JSON, *, retryable: bool) -> bool:
        """Set `next_payment_attempt` after a counted failure; True when that was the schedule's last attempt."""
        invoice["next_payment_attempt"] = None
        if not (invoice["auto_advance"] and invoice["collection_method"] == "charge_automatically"):
            return False
        if not retryable:
            return False
        retries_done = invoice["attempt_count"] - 1
        if retries_done < len(self.retry_days):
            invoice["next_payment_attempt"] = self.store.now() + self.retry_days[retries_done] * DAY
            return False
        return True

    def _after_final_failure(self, invoice: JSON, ctx: RequestContext) -> None:
        if self.after_final_failure == "mark_uncollectible":
            self.store.mark_uncollectible(invoice["id"], Params({}), ctx)
        elif self.after_final_failure == "void":
            self.store.void(invoice["id"], Params({}), ctx)

    def auto_advance_changed(self, invoice: JSON) -> None:
        """Turning automatic advancement on schedules a draft's finalization; turning it off cancels the work."""
        if invoice["status"] == "draft":
            on = invoice["auto_advance"]
            invoice["automatically_finalizes_at"] = self.store.now() + AUTO_FINALIZE_DELAY if on else None
        elif invoice["status"] == "open" and not invoice["auto_advance"]:
            invoice["next_payment_attempt"] = None

    # ------------------------------------------------------------------ time passing

    def next_due(self, until: float) -> tuple[int, str, JSON] | None:
        """The earliest work due by `until`: (when, "finalize" | "charge" | "overdue", invoice), or None."""
        due: list[tuple[int, int, str, JSON]] = []
        for order, invoice in enumerate(self.store.invoices.values()):
            when, action = self._due_for(invoice)
            if when is not None and when <= until:
                due.append((when, order, action, invoice))
        if not due:
            return None
        when, _, action, invoice = min(due, key=lambda item: (item[0], item[1]))
        return when, action, invoice

    def run_due(self, due: tuple[int, str, JSON], ctx: RequestContext) -> None:
        """Do the work `next_due` found, the server clock already moved to its moment."""
        when, action, invoice = due
        if action == "finalize":
            try:
                self.store._finalize(invoice, ctx)
            except ApiError as exc:
                # Stripe reports a failed automatic finalization (e.g. customer_tax_location_invalid) and stops.
                invoice["automatically_finalizes_at"] = None
                invoice["last_finalization_error"] = {
                    key: value for key, value in exc.body()["error"].items() if key != "request_log_url"
                }
                self.store._emit_invoice("invoice.finalization_failed", invoice["id"], ctx)
                return
            if invoice["status"] == "open" and invoice["collection_method"] == "charge_automatically":
                invoice["next_payment_attempt"] = when  # automatic finalization attempts payment at once
        elif action == "charge":
            payment_method = self.store.wallet.for_invoice(invoice, None)
            self.attempt(invoice, payment_method, ctx, automatic=True)
        else:
            self._overdue_sent.add(invoice["id"])
            self.store._emit_invoice("invoice.overdue", invoice["id"], ctx)

    def _due_for(self, invoice: JSON) -> tuple[int | None, str]:
        status, automatic = invoice["status"], invoice["auto_advance"]
        if status == "draft" and automatic:
            return invoice["automatically_finalizes_at"], "finalize"
        if status == "open" and invoice["collection_method"] == "charge_automatically" and automatic:
            return invoice["next_payment_attempt"], "charge"
        if (
            status == "open"
            and invoice["collection_method"] == "send_invoice"
            and invoice["due_date"] is not None
            and self.overdue_days is not None
            and invoice["id"] not in self._overdue_sent
        ):
            return invoice["due_date"] + self.overdue_days * DAY, "overdue"
        return None, ""

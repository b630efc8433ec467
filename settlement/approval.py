"""The customer-approval rule for large drafts, in one place.

A contract may set `approval_threshold_minor`. A draft whose total exceeds it is finalized only after
the customer approved that exact total: a rebuild that changes the total (late events, review) asks
again, and one that brings the total to or under the threshold releases the draft. While it waits,
the finalize job leaves it alone (it is not rebuilt in a loop).
"""

from __future__ import annotations

from settlement.models import ApprovalStatus, Invoice


def approval_status_after_rebuild(invoice: Invoice) -> str:
    """The approval status a draft has once its total is (re)computed."""
    threshold = invoice.contract.approval_threshold_minor
    if threshold is None or invoice.total_minor <= threshold:
        # Nothing to approve now; a past approval stays on record only if it was for this total.
        if invoice.approval_status == ApprovalStatus.APPROVED and (
            invoice.approved_total_minor == invoice.total_minor
        ):
            return ApprovalStatus.APPROVED
        return ApprovalStatus.NOT_REQUIRED
    if (
        invoice.approval_status == ApprovalStatus.APPROVED
        and invoice.approved_total_minor == invoice.total_minor
    ):
        return ApprovalStatus.APPROVED
    return ApprovalStatus.PENDING

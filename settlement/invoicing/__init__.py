"""Period close and invoices: build a draft from what was verified, rebuild it during the grace period,
finalize it (numbered per vendor without gaps, outcomes marked billed, credits carried forward).

Which outcomes a draft bills: every billable, never-billed outcome of the contract that became
billable before the period's end, except those an earlier, still-open draft takes. So a late
arrival lands on the next open invoice and never edits a finalized one. Rebuilding a draft from the
same data gives the same lines (deterministic order everywhere).

Drafts are built and finalized in batches: `close.periods_close` closes many (contract, period) pairs
in one transaction with one set of queries for all of them (a month-end close of thousands of
contracts), `finalize.invoices_finalize` finalizes many drafts the same way, and `period_close`,
`rebuild.invoice_rebuild` and `invoice_finalize` are the same code with a batch of one.

A draft's lines (lines.py) are usage (usage.py) within amount caps (caps.py), fees and the minimum
true-up (fees.py), the audit adjustment (audit.py) and the credit applied (credits.py).
"""

"""Reads of the settlement app: invoices (scoped to one vendor or customer), the dashboard's
figures, what is due for the beat jobs, and which Stripe account settles whose invoices."""

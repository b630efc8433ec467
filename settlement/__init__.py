"""Periods, rating, invoices and the Stripe gateway."""
